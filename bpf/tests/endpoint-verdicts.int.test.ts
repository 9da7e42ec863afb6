// bpf/endpoint.c under BPF_PROG_TEST_RUN: every verdict path with crafted packets, checking
// the program's return code and the events it emits. Private maps, no devices: the
// programs see ifindex 1 (lo), which the tests register as the endpoint's device.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  CtFlag,
  CtState,
  Direction,
  EndpointFlag,
  EnforcementMode,
  EventFlag,
  EventType,
  IpProto,
  MAP_NAMES,
  MetricCode,
  PolicyAction,
  PolicyFlag,
  PolicyMatchType,
  ReservedIdentity,
  TraceMode,
  TracePoint,
  Verdict,
} from "../../native/abi.js";
import { ctKey, type CfEvent } from "../../native/codecs.js";
import { describeEvent } from "../../native/events.js";
import { EndpointFixture, TC_ACT_OK, TC_ACT_SHOT } from "./endpoint-fixture.js";
import { arpFrame, frame, ipPacket, TCP, type PacketSpec } from "./packets.js";

const EP = { epId: 10, identity: 1000, ipv4: "10.244.0.10" };
const POD = "10.244.0.10";
const PEER = "10.244.0.20";
const PEER_ID = 2000;
const WORLD_HOST = "203.0.113.7";

const syn = (src: string, dst: string, sport: number, dport: number, extra: Partial<PacketSpec> = {}): Buffer =>
  frame({ src, dst, proto: "tcp", sport, dport, flags: TCP.syn, ...extra });
const tcp = (src: string, dst: string, sport: number, dport: number, flags: number): Buffer => frame({ src, dst, proto: "tcp", sport, dport, flags });

function show(events: CfEvent[]): string {
  return events.map(describeEvent).join("\n") || "(no events)";
}

function only(events: CfEvent[], type: number): CfEvent[] {
  return events.filter((e) => e.type === type);
}

describe("endpoint program verdicts (BPF_PROG_TEST_RUN)", () => {
  let f: EndpointFixture;

  before(() => {
    f = new EndpointFixture();
  });
  after(() => f?.close());

  beforeEach(async () => {
    f.endpoints.clear();
    f.policy.clear();
    f.ct.clear();
    f.ipcache.clear();
    f.setEndpoint(1, { ...EP, ingressMode: EnforcementMode.none, egressMode: EnforcementMode.none });
    f.setIdentity(`${POD}/32`, EP.identity);
    f.setIdentity(`${PEER}/32`, PEER_ID);
    await f.takeEvents();
  });

  const allow = (direction: number, identity: number, proto: number, dport: number, ruleRef: number, flags = 0, action: number = PolicyAction.allow) =>
    f.policy.set({ epId: EP.epId, identity, dport, proto, direction }, { action, flags, proxyPort: 0, ruleRef });
  const deny = (direction: number, identity: number, proto: number, dport: number, ruleRef: number, flags = 0) =>
    allow(direction, identity, proto, dport, ruleRef, flags, PolicyAction.deny);
  const enforce = (ingress: number, egress: number) => f.setEndpoint(1, { ...EP, ingressMode: ingress, egressMode: egress });

  test("a device without an endpoint entry passes untouched, with no event", async () => {
    f.endpoints.clear();
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_OK);
    assert.deepEqual(await f.takeEvents(), []);
  });

  test("non-IP traffic (ARP) passes untouched even when enforced", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.enforce);
    assert.equal(f.run(Direction.ingress, arpFrame()), TC_ACT_OK);
    assert.deepEqual(await f.takeEvents(), []);
  });

  test("not enforced: forwarded and traced, no policy verdict", async () => {
    assert.equal(f.run(Direction.egress, syn(POD, PEER, 40000, 80)), TC_ACT_OK);
    const evs = await f.takeEvents();
    assert.equal(evs.length, 1, show(evs));
    const [t] = evs as [CfEvent];
    assert.equal(t.type, EventType.trace);
    assert.equal(t.subtype, TracePoint.fromEndpoint);
    assert.equal(t.verdict, Verdict.forwarded);
    assert.equal(t.direction, Direction.egress);
    assert.equal(t.srcIdentity, EP.identity);
    assert.equal(t.dstIdentity, PEER_ID);
    assert.equal(t.saddr, POD);
    assert.equal(t.daddr, PEER);
    assert.equal(t.sport, 40000);
    assert.equal(t.dport, 80);
    assert.equal(t.proto, IpProto.tcp);
    assert.equal(t.tcpFlags, TCP.syn);
    assert.equal(t.ctState, CtState.new);
    assert.ok(t.flags & EventFlag.new);
    assert.equal(t.pktLen, 54);
    assert.equal(t.epId, EP.epId);
    assert.equal(t.ifindex, 1);
  });

  test("default deny: enforced ingress with no entry drops with POLICY_DENIED (133), verdict + drop events", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    const before = f.counter(Direction.ingress, 133).packets;
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_SHOT);
    const evs = await f.takeEvents();
    assert.deepEqual(
      evs.map((e) => [e.type, e.verdict, e.dropReason]),
      [
        [EventType.policyVerdict, Verdict.dropped, 133],
        [EventType.drop, Verdict.dropped, 133],
      ],
      show(evs),
    );
    for (const e of evs) {
      assert.equal(e.srcIdentity, PEER_ID);
      assert.equal(e.dstIdentity, EP.identity);
      assert.equal(e.direction, Direction.ingress);
      assert.equal(e.ruleRef, 0);
      assert.equal(e.matchType, PolicyMatchType.none);
    }
    assert.equal(only(evs, EventType.drop)[0]?.subtype, 133);
    assert.equal(f.counter(Direction.ingress, 133).packets, before + 1n);
    // Nothing was tracked: the drop created no conntrack entry.
    assert.equal(f.ct.entries().length, 0);
  });

  test("allow: an L3/L4 entry forwards, names its rule and creates the connection", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    allow(Direction.ingress, PEER_ID, IpProto.tcp, 80, 4242);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_OK);
    const evs = await f.takeEvents();
    assert.deepEqual(
      evs.map((e) => [e.type, e.verdict]),
      [
        [EventType.policyVerdict, Verdict.forwarded],
        [EventType.trace, Verdict.forwarded],
      ],
      show(evs),
    );
    const [pv, tr] = evs as [CfEvent, CfEvent];
    assert.equal(pv.ruleRef, 4242);
    assert.equal(pv.matchType, PolicyMatchType.l3L4);
    assert.equal(pv.dropReason, 0);
    assert.equal(tr.subtype, TracePoint.toEndpoint);
    const ct = f.ct.entries();
    assert.equal(ct.length, 1);
    assert.deepEqual(ct[0]?.[0], ctKey(EP.epId, { proto: 6, saddr: PEER, daddr: POD, sport: 40000, dport: 80 }).key);
    assert.deepEqual(ct[0]?.[0], { epId: EP.epId, family: 4, proto: 6, port1: 80, port2: 40000, addr1: POD, addr2: PEER });
    assert.ok(ct[0]?.[1].flags & CtFlag.origFrom2, "the peer (end 2) opened it");
    assert.equal(ct[0]?.[1].ruleRef, 4242);
    assert.equal(ct[0]?.[1].direction, Direction.ingress);
    // Another port is still default-denied.
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40001, 81)), TC_ACT_SHOT);
  });

  test("deny beats allow at every specificity; the first deny in lookup order names the rule", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    allow(Direction.ingress, PEER_ID, IpProto.tcp, 80, 1); // most specific allow
    deny(Direction.ingress, 0, 0, 0, 66); // least specific deny
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_SHOT);
    let evs = await f.takeEvents();
    assert.deepEqual(
      evs.map((e) => [e.type, e.dropReason, e.ruleRef, e.matchType]),
      [
        [EventType.policyVerdict, 181, 66, PolicyMatchType.all],
        [EventType.drop, 181, 66, PolicyMatchType.all],
      ],
      show(evs),
    );
    deny(Direction.ingress, 0, IpProto.tcp, 80, 55); // a more specific deny now comes first
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_SHOT);
    evs = await f.takeEvents();
    assert.equal(evs[0]?.ruleRef, 55, show(evs));
    assert.equal(evs[0]?.matchType, PolicyMatchType.l4Only);
    // A deny on another port does not touch this one.
    f.policy.clear();
    allow(Direction.ingress, PEER_ID, IpProto.tcp, 80, 1);
    deny(Direction.ingress, PEER_ID, IpProto.tcp, 81, 77);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_OK);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 81)), TC_ACT_SHOT);
    evs = await f.takeEvents();
    assert.equal(only(evs, EventType.drop)[0]?.ruleRef, 77, show(evs));
  });

  test("wildcard lookup order: the most specific allow names the rule", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    // Entries for the six probes, most specific first, each with its own rule.
    const probes: Array<[number, number, number, number]> = [
      [PEER_ID, IpProto.tcp, 80, PolicyMatchType.l3L4],
      [PEER_ID, IpProto.tcp, 0, PolicyMatchType.l3Proto],
      [PEER_ID, 0, 0, PolicyMatchType.l3Only],
      [0, IpProto.tcp, 80, PolicyMatchType.l4Only],
      [0, IpProto.tcp, 0, PolicyMatchType.protoOnly],
      [0, 0, 0, PolicyMatchType.all],
    ];
    probes.forEach(([id, proto, port], i) => allow(Direction.ingress, id, proto, port, 100 + i));
    for (let i = 0; i < probes.length; i++) {
      const sport = 41000 + i;
      assert.equal(f.run(Direction.ingress, syn(PEER, POD, sport, 80)), TC_ACT_OK);
      const pv = only(await f.takeEvents(), EventType.policyVerdict);
      assert.equal(pv[0]?.ruleRef, 100 + i, `after removing ${i} entries: ${show(pv)}`);
      assert.equal(pv[0]?.matchType, probes[i]?.[3]);
      const [id, proto, port] = probes[i] as [number, number, number, number];
      f.policy.delete({ epId: EP.epId, identity: id, dport: port, proto, direction: Direction.ingress });
    }
    // All six removed: default deny again.
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 41999, 80)), TC_ACT_SHOT);
  });

  test("the no-deny hint stops at the first hit in order, with the same verdict", async () => {
    f.setEndpoint(1, { ...EP, ingressMode: EnforcementMode.enforce, flags: EndpointFlag.noDenyIngress });
    allow(Direction.ingress, PEER_ID, IpProto.tcp, 80, 1);
    allow(Direction.ingress, 0, 0, 0, 2);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_OK);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40001, 22)), TC_ACT_OK);
    f.policy.delete({ epId: EP.epId, identity: 0, dport: 0, proto: 0, direction: Direction.ingress });
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40002, 22)), TC_ACT_SHOT);
    const pv = only(await f.takeEvents(), EventType.policyVerdict);
    assert.deepEqual(
      pv.map((e) => [e.verdict, e.ruleRef, e.matchType]),
      [
        [Verdict.forwarded, 1, PolicyMatchType.l3L4],
        [Verdict.forwarded, 2, PolicyMatchType.all],
        [Verdict.dropped, 0, PolicyMatchType.none],
      ],
      show(pv),
    );
    // The hint is per direction: egress still probes everything, so its deny wins.
    f.setEndpoint(1, { ...EP, egressMode: EnforcementMode.enforce, flags: EndpointFlag.noDenyIngress });
    allow(Direction.egress, PEER_ID, IpProto.tcp, 80, 3);
    deny(Direction.egress, 0, 0, 0, 4);
    assert.equal(f.run(Direction.egress, syn(POD, PEER, 40000, 80)), TC_ACT_SHOT);
  });

  test("entries only apply to their endpoint and direction", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.enforce);
    f.policy.set({ epId: EP.epId + 1, identity: PEER_ID, dport: 80, proto: 6, direction: Direction.ingress }, { action: 1, flags: 0, proxyPort: 0, ruleRef: 9 });
    allow(Direction.egress, PEER_ID, IpProto.tcp, 80, 9);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_SHOT);
    assert.equal(f.run(Direction.egress, syn(POD, PEER, 40000, 80)), TC_ACT_OK);
  });

  test("unknown peers resolve to world (2), and a world entry admits them", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    assert.equal(f.run(Direction.ingress, syn(WORLD_HOST, POD, 40000, 443)), TC_ACT_SHOT);
    let evs = await f.takeEvents();
    assert.ok(evs.length > 0);
    for (const e of evs) assert.equal(e.srcIdentity, ReservedIdentity.world, show(evs));
    allow(Direction.ingress, ReservedIdentity.world, IpProto.tcp, 443, 3);
    assert.equal(f.run(Direction.ingress, syn(WORLD_HOST, POD, 40000, 443)), TC_ACT_OK);
    evs = await f.takeEvents();
    assert.equal(only(evs, EventType.policyVerdict)[0]?.ruleRef, 3, show(evs));
    // A CIDR entry in the ipcache (longest prefix) gives the world host its own identity.
    f.setIdentity("203.0.113.0/24", 16777217);
    assert.equal(f.run(Direction.ingress, syn(WORLD_HOST, POD, 40001, 443)), TC_ACT_SHOT);
    evs = await f.takeEvents();
    assert.equal(evs[0]?.srcIdentity, 16777217, show(evs));
  });

  test("audit mode: would-be drops are forwarded and reported as AUDIT", async () => {
    enforce(EnforcementMode.audit, EnforcementMode.none);
    const before = f.counter(Direction.ingress, MetricCode.audit).packets;
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_OK);
    let evs = await f.takeEvents();
    assert.deepEqual(
      evs.map((e) => [e.type, e.verdict, e.dropReason, !!(e.flags & EventFlag.audit)]),
      [
        [EventType.policyVerdict, Verdict.audit, 133, true],
        [EventType.trace, Verdict.forwarded, 0, true],
      ],
      show(evs),
    );
    assert.equal(only(evs, EventType.drop).length, 0);
    assert.equal(f.counter(Direction.ingress, MetricCode.audit).packets, before + 1n);
    // An explicit deny in audit mode: AUDIT with the deny's reason and rule.
    deny(Direction.ingress, PEER_ID, IpProto.tcp, 80, 88);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40002, 80)), TC_ACT_OK);
    evs = await f.takeEvents();
    assert.deepEqual([evs[0]?.verdict, evs[0]?.dropReason, evs[0]?.ruleRef], [Verdict.audit, 181, 88], show(evs));
    // What policy allows in audit mode is a plain FORWARDED verdict.
    f.policy.clear();
    allow(Direction.ingress, PEER_ID, IpProto.tcp, 80, 5);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40003, 80)), TC_ACT_OK);
    evs = await f.takeEvents();
    assert.equal(evs[0]?.verdict, Verdict.forwarded, show(evs));
  });

  test("an audited deny entry (per-policy audit) forwards in an enforced endpoint; an enforcing deny still drops", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    allow(Direction.ingress, PEER_ID, IpProto.tcp, 80, 1);
    deny(Direction.ingress, PEER_ID, 0, 0, 99, PolicyFlag.audit);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_OK);
    let evs = await f.takeEvents();
    assert.deepEqual([evs[0]?.type, evs[0]?.verdict, evs[0]?.dropReason, evs[0]?.ruleRef], [EventType.policyVerdict, Verdict.audit, 181, 99], show(evs));
    // Nothing allows port 443: the enforcing default deny drops it although an audited deny
    // also matched (the audit policy must not open what enforcement closes).
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40002, 443)), TC_ACT_SHOT);
    evs = await f.takeEvents();
    assert.deepEqual([only(evs, EventType.drop)[0]?.dropReason, only(evs, EventType.drop)[0]?.ruleRef], [133, 0], show(evs));
    deny(Direction.ingress, 0, 0, 0, 98);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40001, 80)), TC_ACT_SHOT);
    evs = await f.takeEvents();
    assert.equal(only(evs, EventType.drop)[0]?.ruleRef, 98, show(evs));
  });

  test("replies pass via conntrack without any allow; unsolicited packets do not", async () => {
    // Pod's egress unenforced, ingress default-deny with no entries.
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    assert.equal(f.run(Direction.egress, syn(POD, PEER, 40000, 80)), TC_ACT_OK);
    await f.takeEvents();
    assert.equal(f.run(Direction.ingress, tcp(PEER, POD, 80, 40000, TCP.syn | TCP.ack)), TC_ACT_OK);
    const evs = await f.takeEvents();
    assert.equal(evs.length, 1, show(evs));
    const [t] = evs as [CfEvent];
    assert.equal(t.type, EventType.trace);
    assert.equal(t.ctState, CtState.reply);
    assert.ok(t.flags & EventFlag.reply);
    assert.equal(only(evs, EventType.policyVerdict).length, 0);
    // Same peer, other ports: not a reply of anything, so policy applies and drops.
    assert.equal(f.run(Direction.ingress, tcp(PEER, POD, 81, 40000, TCP.syn | TCP.ack)), TC_ACT_SHOT);
    assert.equal(f.run(Direction.ingress, syn(PEER, POD, 40000, 80)), TC_ACT_SHOT);
    const entry = f.ct.get(ctKey(EP.epId, { proto: 6, saddr: POD, daddr: PEER, sport: 40000, dport: 80 }).key);
    assert.ok(entry, "conntrack entry of the egress connection");
    assert.ok(entry.flags & CtFlag.seenReply);
    assert.equal(entry.tcpFlagsOrig, TCP.syn);
    assert.equal(entry.tcpFlagsReply, TCP.syn | TCP.ack);
  });

  test("established original-direction packets are checked on every packet: revoking the allow cuts the flow", async () => {
    enforce(EnforcementMode.none, EnforcementMode.enforce);
    allow(Direction.egress, PEER_ID, IpProto.tcp, 80, 7);
    assert.equal(f.run(Direction.egress, syn(POD, PEER, 40000, 80)), TC_ACT_OK);
    assert.equal(f.run(Direction.ingress, tcp(PEER, POD, 80, 40000, TCP.syn | TCP.ack)), TC_ACT_OK);
    assert.equal(f.run(Direction.egress, tcp(POD, PEER, 40000, 80, TCP.ack)), TC_ACT_OK);
    let evs = await f.takeEvents();
    const est = evs.filter((e) => e.ctState === CtState.established);
    assert.equal(est.length, 1, show(evs));
    assert.equal(only(evs, EventType.policyVerdict).length, 1, "one policy verdict, for the first packet only");
    f.policy.delete({ epId: EP.epId, identity: PEER_ID, dport: 80, proto: IpProto.tcp, direction: Direction.egress });
    assert.equal(f.run(Direction.egress, tcp(POD, PEER, 40000, 80, TCP.ack | TCP.psh)), TC_ACT_SHOT);
    evs = await f.takeEvents();
    assert.deepEqual(
      evs.map((e) => [e.type, e.dropReason, e.ctState]),
      [
        [EventType.policyVerdict, 133, CtState.established],
        [EventType.drop, 133, CtState.established],
      ],
      show(evs),
    );
    // Replies still pass: they never needed an allow.
    assert.equal(f.run(Direction.ingress, tcp(PEER, POD, 80, 40000, TCP.ack)), TC_ACT_OK);
    // Re-allowing lets the next retransmission through on the kept entry.
    allow(Direction.egress, PEER_ID, IpProto.tcp, 80, 7);
    assert.equal(f.run(Direction.egress, tcp(POD, PEER, 40000, 80, TCP.ack | TCP.psh)), TC_ACT_OK);
  });

  test("related ICMP errors pass without policy; unrelated ones are judged by policy", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    const udp: PacketSpec = { src: POD, dst: PEER, proto: "udp", sport: 5000, dport: 53 };
    assert.equal(f.run(Direction.egress, frame(udp)), TC_ACT_OK);
    await f.takeEvents();
    const inner = ipPacket(udp).subarray(0, 28);
    const unreachable = (from: string, innerPkt: Buffer) => frame({ src: from, dst: POD, proto: "icmp", icmpType: 3, icmpCode: 3, echoId: 0, inner: innerPkt });
    assert.equal(f.run(Direction.ingress, unreachable(PEER, inner)), TC_ACT_OK);
    let evs = await f.takeEvents();
    assert.equal(evs.length, 1, show(evs));
    assert.equal(evs[0]?.ctState, CtState.related);
    assert.ok((evs[0]?.flags ?? 0) & EventFlag.related);
    assert.equal(evs[0]?.icmpType, 3);
    // An error about a flow that never existed is an ordinary ICMP packet: denied here.
    const bogus = ipPacket({ ...udp, sport: 5001 }).subarray(0, 28);
    assert.equal(f.run(Direction.ingress, unreachable(PEER, bogus)), TC_ACT_SHOT);
    // ...unless policy allows that ICMP type (the policy port of ICMP is its type).
    allow(Direction.ingress, PEER_ID, IpProto.icmp, 3, 12);
    assert.equal(f.run(Direction.ingress, unreachable(PEER, bogus)), TC_ACT_OK);
    evs = await f.takeEvents();
    assert.equal(only(evs, EventType.policyVerdict).at(-1)?.ruleRef, 12, show(evs));
  });

  test("ICMP fragmentation-needed is always admitted (path MTU discovery)", () => {
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    const inner = ipPacket({ src: POD, dst: "10.244.9.9", proto: "tcp", sport: 1, dport: 2 }).subarray(0, 28);
    assert.equal(f.run(Direction.ingress, frame({ src: PEER, dst: POD, proto: "icmp", icmpType: 3, icmpCode: 4, echoId: 0, inner })), TC_ACT_OK);
  });

  test("ICMP echo: policy matches the type; the echo reply is a conntrack reply", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.enforce);
    allow(Direction.egress, PEER_ID, IpProto.icmp, 8, 21);
    assert.equal(f.run(Direction.egress, frame({ src: POD, dst: PEER, proto: "icmp", icmpType: 8, echoId: 77 })), TC_ACT_OK);
    assert.equal(f.run(Direction.ingress, frame({ src: PEER, dst: POD, proto: "icmp", icmpType: 0, echoId: 77 })), TC_ACT_OK);
    assert.equal(f.run(Direction.ingress, frame({ src: PEER, dst: POD, proto: "icmp", icmpType: 0, echoId: 78 })), TC_ACT_SHOT);
    assert.equal(f.run(Direction.egress, frame({ src: POD, dst: PEER, proto: "icmp", icmpType: 13, echoId: 77 })), TC_ACT_SHOT);
    const evs = await f.takeEvents();
    const reply = evs.find((e) => e.type === EventType.trace && e.flags & EventFlag.reply);
    assert.ok(reply, show(evs));
    assert.deepEqual([reply.icmpType, reply.sport, reply.dport], [0, 0, 0]);
  });

  test("UDP: allow by port, replies via conntrack", () => {
    enforce(EnforcementMode.enforce, EnforcementMode.enforce);
    allow(Direction.egress, PEER_ID, IpProto.udp, 53, 31);
    assert.equal(f.run(Direction.egress, frame({ src: POD, dst: PEER, proto: "udp", sport: 5353, dport: 53 })), TC_ACT_OK);
    assert.equal(f.run(Direction.ingress, frame({ src: PEER, dst: POD, proto: "udp", sport: 53, dport: 5353 })), TC_ACT_OK);
    assert.equal(f.run(Direction.egress, frame({ src: POD, dst: PEER, proto: "udp", sport: 5353, dport: 54 })), TC_ACT_SHOT);
    assert.equal(f.run(Direction.egress, frame({ src: POD, dst: PEER, proto: "tcp", sport: 5353, dport: 53 })), TC_ACT_SHOT);
  });

  test("TCP close: FIN both ways or RST moves the entry to the short close lifetime", () => {
    enforce(EnforcementMode.none, EnforcementMode.none);
    const { key } = ctKey(EP.epId, { proto: 6, saddr: POD, daddr: PEER, sport: 40000, dport: 80 });
    const lifetimeS = (e: { expiresNs: bigint }) => Number(e.expiresNs - process.hrtime.bigint()) / 1e9;
    f.run(Direction.egress, syn(POD, PEER, 40000, 80));
    assert.ok(lifetimeS(f.ct.get(key)!) <= 60, "SYN-only entries get the SYN lifetime");
    f.run(Direction.ingress, tcp(PEER, POD, 80, 40000, TCP.syn | TCP.ack));
    assert.ok(lifetimeS(f.ct.get(key)!) > 21000, "established entries get the TCP lifetime");
    f.run(Direction.egress, tcp(POD, PEER, 40000, 80, TCP.fin | TCP.ack));
    assert.ok(lifetimeS(f.ct.get(key)!) > 21000, "one FIN is not a close");
    f.run(Direction.ingress, tcp(PEER, POD, 80, 40000, TCP.fin | TCP.ack));
    const closing = f.ct.get(key)!;
    assert.ok(lifetimeS(closing) <= 10, `closing lifetime, got ${lifetimeS(closing)}s`);
    assert.equal(closing.flags & (CtFlag.finOrig | CtFlag.finReply), CtFlag.finOrig | CtFlag.finReply);
    // A new SYN on the closing tuple re-opens it as a new connection.
    f.run(Direction.egress, syn(POD, PEER, 40000, 80));
    const reopened = f.ct.get(key)!;
    assert.equal(reopened.flags, 0);
    assert.equal(reopened.tcpFlagsReply, 0);
    f.run(Direction.egress, tcp(POD, PEER, 40000, 80, TCP.rst));
    // ...and from the other end too: the peer's SYN re-opens it the other way round.
    f.run(Direction.ingress, syn(PEER, POD, 80, 40000));
    const turned = f.ct.get(key)!;
    assert.equal(turned.flags, CtFlag.origFrom2);
    assert.equal(turned.direction, Direction.ingress);
    // RST closes at once.
    f.run(Direction.ingress, tcp(PEER, POD, 80, 40000, TCP.rst));
    assert.ok(lifetimeS(f.ct.get(key)!) <= 10);
  });

  test("IPv6: identities resolve through the ipcache, default deny and allow work", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    f.setIdentity("fd00:10:244::20/128", PEER_ID);
    const pkt = syn("fd00:10:244::20", "fd00:10:244::10", 40000, 80);
    assert.equal(f.run(Direction.ingress, pkt), TC_ACT_SHOT);
    let evs = await f.takeEvents();
    assert.equal(evs[0]?.srcIdentity, PEER_ID, show(evs));
    assert.ok((evs[0]?.flags ?? 0) & EventFlag.ipv6);
    assert.equal(evs[0]?.saddr, "fd00:10:244::20");
    allow(Direction.ingress, PEER_ID, IpProto.tcp, 80, 61);
    assert.equal(f.run(Direction.ingress, pkt), TC_ACT_OK);
    // Neighbour discovery passes outside policy.
    assert.equal(f.run(Direction.ingress, frame({ src: "fe80::1", dst: "ff02::1", proto: "icmpv6", icmpType: 135 })), TC_ACT_OK);
    evs = await f.takeEvents();
    assert.equal(only(evs, EventType.drop).length, 0, show(evs));
  });

  test("IPv4 fragments follow their first fragment; an orphan later fragment is dropped (175)", async () => {
    enforce(EnforcementMode.enforce, EnforcementMode.none);
    allow(Direction.ingress, PEER_ID, IpProto.udp, 9000, 1);
    const first = frame({ src: PEER, dst: POD, proto: "udp", sport: 7000, dport: 9000, ipId: 555, moreFragments: true, payload: Buffer.alloc(64) });
    const later = frame({ src: PEER, dst: POD, proto: "udp", ipId: 555, fragOffset: 9, payload: Buffer.alloc(64) });
    const orphan = frame({ src: PEER, dst: POD, proto: "udp", ipId: 556, fragOffset: 9, payload: Buffer.alloc(64) });
    assert.equal(f.run(Direction.ingress, first), TC_ACT_OK);
    assert.equal(f.run(Direction.ingress, later), TC_ACT_OK);
    assert.equal(f.run(Direction.ingress, orphan), TC_ACT_SHOT);
    const evs = await f.takeEvents();
    const drop = only(evs, EventType.drop)[0];
    assert.equal(drop?.dropReason, 175, show(evs));
    const laterTrace = evs.find((e) => e.type === EventType.trace && e.flags & EventFlag.fragment);
    assert.equal(laterTrace?.dport, 9000, "a later fragment carries the ports of its datagram");
  });

  test("a truncated TCP header is dropped as invalid (135)", async () => {
    const full = syn(POD, PEER, 40000, 80);
    const cut = Buffer.from(full.subarray(0, 14 + 20 + 10));
    cut.writeUInt16BE(30, 16); // IP total length matching the cut
    assert.equal(f.run(Direction.egress, cut), TC_ACT_SHOT);
    const evs = await f.takeEvents();
    assert.equal(evs[0]?.dropReason, 135, show(evs));
  });
});

describe("event sampling and loss", () => {
  test("trace mode 1: first packet of each connection and of its replies, plus every drop", async () => {
    const f = new EndpointFixture({ globals: { cfg_trace_mode: TraceMode.firstPerConnection } });
    try {
      f.setEndpoint(1, { ...EP, ingressMode: EnforcementMode.enforce });
      f.setIdentity(`${PEER}/32`, PEER_ID);
      f.run(Direction.egress, syn(POD, PEER, 40000, 80));
      f.run(Direction.ingress, tcp(PEER, POD, 80, 40000, TCP.syn | TCP.ack));
      for (let i = 0; i < 5; i++) {
        f.run(Direction.egress, tcp(POD, PEER, 40000, 80, TCP.ack));
        f.run(Direction.ingress, tcp(PEER, POD, 80, 40000, TCP.ack));
      }
      for (let i = 0; i < 3; i++) f.run(Direction.ingress, syn(PEER, POD, 50000, 22));
      const evs = await f.takeEvents();
      const traces = only(evs, EventType.trace);
      assert.equal(traces.length, 2, show(evs));
      assert.ok(traces[0]!.flags & EventFlag.new && !(traces[0]!.flags & EventFlag.reply));
      assert.ok(traces[1]!.flags & EventFlag.new && traces[1]!.flags & EventFlag.reply);
      assert.equal(only(evs, EventType.drop).length, 3, "drops are never sampled away");
      // Counters still see every packet.
      assert.equal(f.counter(Direction.egress, MetricCode.forwarded).packets, 6n);
      assert.equal(f.counter(Direction.ingress, MetricCode.forwarded).packets, 6n);
    } finally {
      f.close();
    }
  });

  test("events that find the ring full are counted as lost", async () => {
    // One page of ring (~42 records) and nobody reading it.
    const f = new EndpointFixture({ events: false, maxEntries: { [MAP_NAMES.events]: 4096 } });
    try {
      f.setEndpoint(1, EP);
      const pkt = syn(POD, PEER, 40000, 80);
      for (let i = 0; i < 100; i++) f.run(Direction.egress, pkt);
      const lost = f.lostEvents();
      assert.ok(lost >= 50n && lost < 100n, `lost ${lost} of 100 events`);
    } finally {
      f.close();
    }
  });
});
