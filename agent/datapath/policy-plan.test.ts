import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Direction, EndpointFlag, EnforcementMode, IpProto, PolicyAction, PolicyFlag } from "../../native/abi.js";
import { policyKeyCodec } from "../../native/codecs.js";
import { diffPolicyStates } from "../policy/index.js";
import { ipcacheKeyString, normalizeIpcache, planIpcacheWrites } from "./ipcache-plan.js";
import { CLIENT, SERVER, compileFixture, serverPolicy } from "./policy-fixture.js";
import {
  denyBitsOf,
  desiredFromState,
  encodePolicyKey,
  entryKeyString,
  noDenyFlags,
  patchDesired,
  planPolicyWrites,
  type PolicyMapEntry,
  type RealizedPolicy,
} from "./policy-plan.js";

const allow = (epId: number, identity: number, dport: number, direction: Direction = Direction.ingress, ruleRef = 7): PolicyMapEntry => ({
  key: { epId, identity, dport, proto: dport ? IpProto.tcp : 0, direction },
  value: { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef },
});
const deny = (epId: number, identity: number, dport: number, direction: Direction = Direction.ingress, flags = 0): PolicyMapEntry => ({
  key: { epId, identity, dport, proto: dport ? IpProto.tcp : 0, direction },
  value: { action: PolicyAction.deny, flags, proxyPort: 0, ruleRef: 9 },
});
const realizedOf = (entries: PolicyMapEntry[]): RealizedPolicy => {
  const r: RealizedPolicy = new Map();
  for (const e of entries) {
    if (!r.has(e.key.epId)) r.set(e.key.epId, new Map());
    r.get(e.key.epId)?.set(entryKeyString(e.key), e);
  }
  return r;
};

describe("policy key byte order", () => {
  test("dport goes to the map in network order, the rest in host order", () => {
    const b = encodePolicyKey({ epId: 0x0102, identity: 1001, dport: 8080, proto: IpProto.tcp, direction: 1 });
    assert.equal(b.length, 12);
    assert.equal(b.readUInt32LE(0), 0x0102);
    assert.equal(b.readUInt32LE(4), 1001);
    assert.deepEqual([...b.subarray(8, 10)], [0x1f, 0x90], "8080 = 0x1f90, big-endian");
    assert.equal(b[10], IpProto.tcp);
    assert.equal(b[11], 1);
    assert.equal(policyKeyCodec.decode(b).dport, 8080, "and reads back as the host number");
  });

  test("a compiled allow on 8080 becomes a key whose dport bytes are 1f 90", () => {
    const state = compileFixture([serverPolicy([8080])]).state;
    const desired = desiredFromState(state);
    const tcp = [...(desired.get(SERVER.epId)?.entries.values() ?? [])].find((e) => e.key.identity === CLIENT.identity);
    assert.ok(tcp, "an entry for the client identity");
    assert.deepEqual([...policyKeyCodec.encode(tcp.key).subarray(8, 10)], [0x1f, 0x90]);
  });
});

describe("NO_DENY flags", () => {
  test("a direction keeps its bit only without deny entries (audited ones included)", () => {
    const both = EndpointFlag.noDenyIngress | EndpointFlag.noDenyEgress;
    assert.equal(noDenyFlags([]), both);
    assert.equal(noDenyFlags([allow(1, 5, 80), allow(1, 5, 80, Direction.egress)]), both);
    assert.equal(noDenyFlags([deny(1, 5, 80)]), EndpointFlag.noDenyEgress);
    assert.equal(noDenyFlags([deny(1, 5, 0, Direction.egress, PolicyFlag.audit)]), EndpointFlag.noDenyIngress, "audit denies count");
    assert.equal(noDenyFlags([deny(1, 5, 80), deny(1, 6, 0, Direction.egress)]), 0);
  });

  test("deny bits of a write plan name the endpoint directions that are about to get a deny", () => {
    const plan = planPolicyWrites(new Map(), desiredFromState(compileFixture([serverPolicy([8080], { denyPort: 9090 })]).state), [SERVER.epId]);
    assert.deepEqual([...denyBitsOf(plan.upserts)], [[SERVER.epId, EndpointFlag.noDenyIngress]]);
    const noDeny = planPolicyWrites(new Map(), desiredFromState(compileFixture([serverPolicy([8080])]).state), [SERVER.epId]);
    assert.equal(denyBitsOf(noDeny.upserts).size, 0);
  });
});

describe("planning map writes", () => {
  test("only differences are written, stale entries deleted, groups per direction with denies first", () => {
    const keep = allow(1, 5, 80);
    const changed = allow(1, 5, 443, Direction.ingress, 8);
    const stale = allow(1, 6, 22);
    const realized = realizedOf([keep, { ...changed, value: { ...changed.value, ruleRef: 1 } }, stale]);
    const desired = new Map([[1, { ingressMode: 1, egressMode: 0, entries: new Map([keep, changed, deny(1, 7, 0), allow(1, 0, 0, Direction.egress)].map((e) => [entryKeyString(e.key), e])) }]]);
    const plan = planPolicyWrites(realized, desired, [1]);
    assert.deepEqual(
      plan.upserts.map((g) => [g.epId, g.direction, g.entries.map((e) => [e.value.action, e.key.identity, e.key.dport])]),
      [
        [1, Direction.ingress, [[PolicyAction.deny, 7, 0], [PolicyAction.allow, 5, 443]]],
        [1, Direction.egress, [[PolicyAction.allow, 0, 0]]],
      ],
    );
    assert.deepEqual(plan.deletes, [stale]);
    assert.deepEqual(plan.modes, [{ epId: 1, ingressMode: 1, egressMode: 0 }]);
  });

  test("an endpoint missing from the desired state loses its entries and is not enforced", () => {
    const plan = planPolicyWrites(realizedOf([allow(3, 5, 80)]), new Map(), [3]);
    assert.deepEqual(plan.upserts, []);
    assert.equal(plan.deletes.length, 1);
    assert.deepEqual(plan.modes, [{ epId: 3, ingressMode: EnforcementMode.none, egressMode: EnforcementMode.none }]);
  });

  test("endpoints outside the planned set are left alone", () => {
    const plan = planPolicyWrites(realizedOf([allow(3, 5, 80)]), new Map(), [4]);
    assert.deepEqual(plan.deletes, []);
  });

  test("a diff patched into the desired state plans the same writes as the full state", () => {
    const first = compileFixture([serverPolicy([8080])]);
    const second = compileFixture([serverPolicy([8080, 9090])], first.ruleRefs);
    const realized = realizedOf([...desiredFromState(first.state).values()].flatMap((d) => [...d.entries.values()]));

    const patched = desiredFromState(first.state);
    const touched = patchDesired(patched, diffPolicyStates(first.state, second.state));
    assert.deepEqual([...touched], [SERVER.epId]);
    const viaDiff = planPolicyWrites(realized, patched, touched);
    const viaState = planPolicyWrites(realized, desiredFromState(second.state), [CLIENT.epId, SERVER.epId]);
    assert.deepEqual(viaDiff.upserts, viaState.upserts);
    assert.deepEqual(viaDiff.deletes, viaState.deletes);
    assert.equal(viaDiff.upserts.flatMap((g) => g.entries).length, 1, "only the 9090 entry is new");
    assert.equal(viaDiff.upserts[0]?.entries[0]?.key.dport, 9090);

    // Deleting the policy: back to unenforced, every entry of the server goes.
    const none = compileFixture([]);
    const removal = diffPolicyStates(second.state, none.state);
    const t2 = patchDesired(patched, removal);
    const plan = planPolicyWrites(realizedOf([...desiredFromState(second.state).values()].flatMap((d) => [...d.entries.values()])), patched, t2);
    assert.deepEqual(plan.upserts, []);
    assert.ok(plan.deletes.length >= 2);
    assert.deepEqual(plan.modes.find((m) => m.epId === SERVER.epId), { epId: SERVER.epId, ingressMode: 0, egressMode: 0 });
  });
});

describe("ipcache plan", () => {
  test("host bits are cleared, values compared, stale prefixes deleted", () => {
    const desired = normalizeIpcache([
      { cidr: "10.244.1.5", identity: 1001, local: true },
      { cidr: "10.244.2.7/24", identity: 6, tunnelEndpoint: "198.18.0.12" },
    ]);
    assert.deepEqual([...desired.keys()], ["4|10.244.1.5/64", "4|10.244.2.0/56"]);
    const realized = normalizeIpcache([
      { cidr: "10.244.1.5/32", identity: 1001, local: true },
      { cidr: "10.244.2.0/24", identity: 6 },
      { cidr: "10.244.9.9", identity: 1009 },
    ]);
    const plan = planIpcacheWrites(realized, desired);
    assert.deepEqual(plan.upserts.map((e) => ipcacheKeyString(e.key)), ["4|10.244.2.0/56"], "tunnel endpoint changed");
    assert.deepEqual(plan.deletes.map((e) => ipcacheKeyString(e.key)), ["4|10.244.9.9/64"]);
  });

  test("bad input names the entry and field", () => {
    assert.throws(() => normalizeIpcache([{ cidr: "10.244.1.0/33", identity: 1 }]), /entry \[0\] field cidr/);
    assert.throws(() => normalizeIpcache([{ cidr: "10.0.0.1", identity: -1 }]), /entry \[0\].*identity/);
    assert.throws(() => normalizeIpcache([{ cidr: "10.0.0.1", identity: 1 }, { cidr: "10.0.0.1/32", identity: 2 }]), /entry \[1\] field cidr: 10.0.0.1\/32 is already mapped to identity 1/);
  });
});
