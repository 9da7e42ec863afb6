// The Datapath facade on real veths: a node netns `cft-dp-node` holds the host ends of two pod
// netns; a CiliumNetworkPolicy compiled by agent/policy is applied through the facade and real
// TCP connections pass or drop. Then an agent restart on the same pinned maps, and a full map.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { BpfMap, Direction, DropCode, EnforcementMode, MAP_NAMES, TypedMap, endpointCodec, ifIndex, ipcacheKeyCodec, ipcacheValueCodec, metricsIndex, policyKeyCodec, type Codec, policyValueCodec, u32Codec } from "../../native/index.js";
import { Peer, createTopology, destroyTopology, type Topology } from "../../bpf/tests/helpers/netns-topology.js";
import type { Endpoint } from "../endpoint/types.js";
import { silentLogger } from "../k8s/log.js";
import { diffPolicyStates, type PolicyState } from "../policy/index.js";
import { Datapath } from "./datapath.js";
import type { IpcacheEntry } from "./ipcache-plan.js";
import type { DatapathConfigInput } from "./loader.js";
import { CLIENT, NS, SERVER, compileFixture, serverPolicy } from "./policy-fixture.js";

const PREFIX = "cft-dp";
const GATEWAY = "10.244.8.1";
const A = { ...CLIENT, ip: "10.244.8.10", hostIf: "cft-dp-ha" };
const B = { ...SERVER, ip: "10.244.8.11", hostIf: "cft-dp-hb" };
const CLUSTER = "cft-dp";
const NODE = `node-${process.pid}`;
const BPFFS = "/sys/fs/bpf";
const config = (node = NODE, extra: Partial<DatapathConfigInput> = {}): DatapathConfigInput => ({ clusterName: CLUSTER, nodeName: node, bpffsRoot: BPFFS, ...extra });

/** The client pod isolated on ingress: nothing may open a connection to it. */
const clientIsolation = {
  apiVersion: "cilium.io/v2",
  kind: "CiliumNetworkPolicy",
  metadata: { name: "client-isolation", namespace: NS },
  spec: { endpointSelector: { matchLabels: { app: CLIENT.app } }, ingress: [{}] },
};

function endpointOf(p: typeof A | typeof B, topo: Topology): Endpoint {
  return {
    version: 1,
    id: p.epId,
    containerId: `cid-${p.name}`,
    ifName: "eth0",
    netns: `/run/netns/${topo.pods[p.name]?.netns}`,
    hostIfName: p.hostIf,
    hostIfIndex: ifIndex(p.hostIf, topo.node),
    hostMac: "",
    podMac: "",
    ipv4: p.ip,
    gateway: GATEWAY,
    pod: { namespace: NS, name: p.name },
    identity: { id: p.identity, labels: {} },
    namedPorts: [],
    state: "ready",
    policyRevision: 0,
    createdAt: new Date(0).toISOString(),
  };
}

const ipcache: IpcacheEntry[] = [
  { cidr: `${A.ip}/32`, identity: A.identity, local: true },
  { cidr: `${B.ip}/32`, identity: B.identity, local: true },
  { cidr: `${GATEWAY}/32`, identity: 1, local: true },
];

/** Map contents straight from the pins, independent of the facade. */
function snapshot(pinDir: string): { endpoints: string; policy: string; ipcache: string } {
  const read = <K, V>(name: string, kc: Codec<K>, vc: Codec<V>) => {
    const m = BpfMap.openPinned(join(pinDir, name));
    try {
      return JSON.stringify(
        new TypedMap(m, kc, vc)
          .entries()
          .map(([k, v]) => JSON.stringify([k, v], (_, x: unknown) => (typeof x === "bigint" ? x.toString() : x)))
          .sort(),
      );
    } finally {
      m.close();
    }
  };
  return {
    endpoints: read(MAP_NAMES.endpoints, u32Codec, endpointCodec),
    policy: read(MAP_NAMES.policy, policyKeyCodec, policyValueCodec),
    ipcache: read(MAP_NAMES.ipcache, ipcacheKeyCodec, ipcacheValueCodec),
  };
}

function removePinDir(node: string): void {
  rmSync(join(BPFFS, "conform", CLUSTER, node), { recursive: true, force: true });
  for (const d of [join(BPFFS, "conform", CLUSTER), join(BPFFS, "conform")]) {
    try {
      rmdirSync(d); // only when empty: other agents on this machine may pin there
    } catch {
      // not empty or gone
    }
  }
}

describe("Datapath facade with a compiled CiliumNetworkPolicy on real veths", () => {
  let topo: Topology;
  let dp: Datapath | undefined;
  const peers: Peer[] = [];
  const eps: Record<string, Endpoint> = {};

  const peer = (pod: string, args: string[]): Peer => {
    const p = new Peer(topo.pods[pod]?.netns ?? "", args);
    peers.push(p);
    return p;
  };
  const connect = async (from: string, toIp: string, port: number, timeoutMs = 1200): Promise<Peer | undefined> => {
    const client = peer(from, ["client", "tcp", toIp, String(port), String(timeoutMs)]);
    const line = await client.next(["connected", "error"], timeoutMs + 2000);
    if (!line?.startsWith("connected")) {
      client.stop();
      return undefined;
    }
    return client;
  };
  const echo = async (client: Peer, text: string, timeoutMs = 2000): Promise<boolean> => {
    client.send(`send ${text}`);
    return (await client.next([`recv ${text}`], timeoutMs)) !== undefined;
  };
  /** Open, echo and close: the whole connection works. */
  const reaches = async (from: string, toIp: string, port: number): Promise<boolean> => {
    const c = await connect(from, toIp, port);
    if (!c) return false;
    const ok = await echo(c, `probe-${port}`);
    c.stop();
    return ok;
  };
  const dropped = (d: Datapath, direction: Direction) => d.metric(metricsIndex(direction, DropCode.policyDenied)).packets;
  const state = (objects: unknown[]) => compileFixture(objects).state;

  before(async () => {
    spawnCleanup();
    topo = createTopology(PREFIX, GATEWAY, [A, B]);
    for (const p of [A, B]) eps[p.name] = endpointOf(p, topo);
    for (const port of [8080, 9090]) assert.ok(await peer("server", ["server", "tcp", String(port)]).next(["ready"], 5000), `server :${port} ready`);
    assert.ok(await peer("client", ["server", "tcp", "7070"]).next(["ready"], 5000), "client-side server ready");
  });

  function spawnCleanup(): void {
    destroyTopology({ node: `${PREFIX}-node`, pods: { client: { netns: `${PREFIX}-client`, ip: "", hostIf: "" }, server: { netns: `${PREFIX}-server`, ip: "", hostIf: "" } }, gateway: GATEWAY });
    removePinDir(NODE);
    removePinDir(`${NODE}-small`);
  }

  after(() => {
    for (const p of peers) p.stop();
    dp?.close();
    if (topo) destroyTopology(topo);
    removePinDir(NODE);
    removePinDir(`${NODE}-small`);
  });

  test("attach, ipcache, policy allow/drop, diff update, delete back to unenforced", async () => {
    dp = new Datapath({ config: config(), netns: topo.node, log: silentLogger });
    const started = await dp.start();
    assert.equal(started.pinDir, join(BPFFS, "conform", CLUSTER, NODE));
    assert.deepEqual(started.reusedMaps, [], "a fresh node pins new maps");
    await dp.attachEndpoint(eps.client as Endpoint);
    await dp.attachEndpoint(eps.server as Endpoint);
    assert.deepEqual(dp.syncIpcache(ipcache), { upserted: 3, deleted: 0, failed: [] });

    // No policy: everything passes.
    let prev: PolicyState = state([]);
    dp.applyPolicy(prev);
    assert.equal(dp.endpointEntry(B.epId)?.ingressMode, EnforcementMode.none);
    assert.ok(await reaches("client", B.ip, 9090), "unenforced: A -> B:9090 passes");
    assert.ok(await reaches("server", A.ip, 7070), "unenforced: B -> A:7070 passes");

    // Allow A -> B on TCP 8080 only (B's ingress), and isolate A's ingress.
    let next = state([serverPolicy([8080]), clientIsolation]);
    const r1 = dp.applyPolicy(diffPolicyStates(prev, next));
    prev = next;
    assert.ok(r1.upserted >= 2 && r1.failedClosed.length === 0, JSON.stringify(r1));
    assert.equal(dp.realizedRevision(B.epId), r1.revision);
    const bEntry = dp.endpointEntry(B.epId);
    assert.deepEqual([bEntry?.epId, bEntry?.identity, bEntry?.ipv4, bEntry?.ingressMode, bEntry?.egressMode], [B.epId, B.identity, B.ip, EnforcementMode.enforce, EnforcementMode.none]);
    assert.equal(bEntry?.flags, 0x3, "no deny entries: NO_DENY set in both directions");
    const dropsBefore = dropped(dp, Direction.ingress);
    const longLived = await connect("client", B.ip, 8080);
    assert.ok(longLived, "A -> B:8080 opens (and its replies reach the isolated A)");
    assert.ok(await echo(longLived, "first"));
    assert.equal(await connect("client", B.ip, 9090), undefined, "A -> B:9090 is dropped");
    assert.equal(await connect("server", A.ip, 7070), undefined, "B -> A is dropped");
    assert.ok(dropped(dp, Direction.ingress) > dropsBefore, "the datapath counted POLICY_DENIED drops on ingress");

    // Update: open 9090 too (a diff with one new entry); the open connection stays up.
    next = state([serverPolicy([8080, 9090]), clientIsolation]);
    const r2 = dp.applyPolicy(diffPolicyStates(prev, next));
    prev = next;
    assert.equal(r2.upserted, 1, JSON.stringify(r2));
    assert.equal(r2.deleted, 0);
    assert.ok(await reaches("client", B.ip, 9090), "A -> B:9090 passes once opened");
    assert.ok(await echo(longLived, "after-update"), "the 8080 connection survives the update");
    assert.equal(await connect("server", A.ip, 7070), undefined, "B -> A still dropped");

    // A deny on 8080 beats the allow: NO_DENY must be cleared on B's ingress, and set again after.
    next = state([serverPolicy([8080, 9090], { denyPort: 8080 }), clientIsolation]);
    dp.applyPolicy(diffPolicyStates(prev, next));
    prev = next;
    assert.equal(dp.endpointEntry(B.epId)?.flags, 0x2, "ingress NO_DENY cleared while a deny exists");
    assert.equal(await echo(longLived, "under-deny", 1500), false, "the deny cuts the 8080 connection");
    assert.ok(await reaches("client", B.ip, 9090), "9090 still allowed");
    next = state([serverPolicy([8080, 9090]), clientIsolation]);
    dp.applyPolicy(diffPolicyStates(prev, next));
    prev = next;
    assert.equal(dp.endpointEntry(B.epId)?.flags, 0x3, "NO_DENY back once the deny is gone");
    assert.ok(await longLived.next(["recv under-deny"], 8000), "the retransmitted segment passes once the deny is gone");
    longLived.stop();

    // Delete the policies: back to unenforced, B -> A passes again.
    next = state([]);
    const r3 = dp.applyPolicy(diffPolicyStates(prev, next));
    prev = next;
    assert.ok(r3.deleted >= 3, JSON.stringify(r3));
    assert.deepEqual([dp.endpointEntry(A.epId)?.ingressMode, dp.endpointEntry(B.epId)?.ingressMode], [EnforcementMode.none, EnforcementMode.none]);
    assert.ok(await reaches("server", A.ip, 7070), "B -> A passes without policy");
    assert.ok(await reaches("client", B.ip, 8080));
    assert.ok((dp.realizedRevision(A.epId) ?? 0) > r1.revision);
  });

  test("restart on the same pinned maps: connection kept, nothing rewritten, stale entries deleted", async () => {
    assert.ok(dp, "the first test started the datapath");
    const desired = state([serverPolicy([8080]), clientIsolation]);
    const applied = dp.applyPolicy(desired);
    const revision = applied.revision;
    const conn = await connect("client", B.ip, 8080);
    assert.ok(conn && (await echo(conn, "before-restart")));

    // A stale policy entry and a stale ipcache prefix, as if left by a previous run.
    const pinDir = join(BPFFS, "conform", CLUSTER, NODE);
    const wanted = snapshot(pinDir);
    const pol = BpfMap.openPinned(join(pinDir, MAP_NAMES.policy));
    const ipc = BpfMap.openPinned(join(pinDir, MAP_NAMES.ipcache));
    new TypedMap(pol, policyKeyCodec, policyValueCodec).set({ epId: B.epId, identity: A.identity, dport: 9090, proto: 6, direction: 0 }, { action: 1, flags: 0, proxyPort: 0, ruleRef: 4242 });
    new TypedMap(ipc, ipcacheKeyCodec, ipcacheValueCodec).set({ prefixlen: 56, family: 4, addr: "10.244.99.0" }, { identity: 4242, tunnelEndpoint: "0.0.0.0", flags: 0 });
    pol.close();
    ipc.close();

    dp.close();
    dp = undefined;
    assert.ok(await echo(conn, "agent-down"), "programs stay attached while no agent runs");

    dp = new Datapath({ config: config(), netns: topo.node, log: silentLogger });
    const started = await dp.start();
    assert.deepEqual([...started.reusedMaps].sort(), Object.values(MAP_NAMES).sort(), "every map reused");
    assert.ok(await echo(conn, "after-load"));
    await dp.attachEndpoint(eps.client as Endpoint);
    await dp.attachEndpoint(eps.server as Endpoint);
    assert.ok(await echo(conn, "after-reattach"), "re-attaching swaps programs in place");
    assert.deepEqual(dp.syncIpcache(ipcache), { upserted: 0, deleted: 1, failed: [] });
    const r = dp.applyPolicy(desired, { revision });
    assert.deepEqual([r.upserted, r.deleted, r.failedClosed], [0, 1, []], "only the stale entry goes");
    assert.deepEqual(
      [dp.counters.endpointWrites, dp.counters.policyEntriesWritten, dp.counters.ipcacheEntriesWritten],
      [0, 0, 0],
      "no endpoint, policy or ipcache entry rewritten",
    );
    assert.deepEqual(snapshot(pinDir), wanted, "map contents equal the state before the restart");
    assert.ok(await echo(conn, "after-resync"), "the established connection works throughout");
    assert.equal(await connect("client", B.ip, 9090), undefined, "the stale allow on 9090 is gone");
    assert.equal(dp.realizedRevision(B.epId), revision);
    conn.stop();

    // Detach is idempotent and tolerates a vanished veth.
    await dp.detachEndpoint(eps.client as Endpoint);
    await dp.detachEndpoint(eps.client as Endpoint);
    assert.equal(dp.endpointEntry(A.epId), undefined);
    await dp.attachEndpoint(eps.client as Endpoint);

    // A veth deleted behind the agent's back (pod netns gone): detach still succeeds.
    execFileSync("ip", ["-n", topo.node, "link", "add", "cft-dp-hx", "type", "veth", "peer", "name", "cft-dp-hy"]);
    const gone: Endpoint = { ...(eps.client as Endpoint), id: 3, hostIfName: "cft-dp-hx", hostIfIndex: ifIndex("cft-dp-hx", topo.node), ipv4: "10.244.8.12", containerId: "cid-gone" };
    await dp.attachEndpoint(gone);
    assert.equal(dp.endpointEntry(3)?.epId, 3);
    execFileSync("ip", ["-n", topo.node, "link", "del", "cft-dp-hx"]);
    await dp.detachEndpoint(gone);
    assert.equal(dp.endpointEntry(3), undefined);
    await assert.rejects(dp.attachEndpoint(gone), /host veth cft-dp-hx not found/);
  });

  test("a full policy map fails the endpoint direction closed, and recovers when it fits", async () => {
    dp?.close();
    const small = new Datapath({ config: config(`${NODE}-small`, { maxEntries: { [MAP_NAMES.policy]: 4 } }), netns: topo.node, log: silentLogger });
    dp = small;
    await small.start();
    await small.attachEndpoint(eps.client as Endpoint);
    await small.attachEndpoint(eps.server as Endpoint);
    small.syncIpcache(ipcache);
    const wide = state([serverPolicy([8080, 9090, 9091, 9092, 9093, 9094])]);
    const r = small.applyPolicy(wide);
    assert.deepEqual(r.failedClosed, [{ epId: B.epId, direction: "ingress" }]);
    assert.equal(small.counters.policyMapFull, 1);
    assert.deepEqual(small.failedClosed(B.epId), ["ingress"]);
    const e = small.endpointEntry(B.epId);
    assert.equal(e?.ingressMode, EnforcementMode.enforce);
    assert.equal((e?.flags ?? 0) & 0x1, 0, "ingress NO_DENY not promised");
    assert.notEqual(small.realizedRevision(B.epId), r.revision, "the revision is not claimed for a failed endpoint");
    assert.equal(await connect("client", B.ip, 8080), undefined, "fail closed: even the allowed port is dropped");

    const fits = small.applyPolicy(state([serverPolicy([8080])]));
    assert.deepEqual(fits.failedClosed, []);
    assert.deepEqual(small.failedClosed(B.epId), []);
    assert.equal(small.realizedRevision(B.epId), fits.revision);
    assert.ok(await reaches("client", B.ip, 8080), "allowed again once the policy fits");
    assert.equal(await connect("client", B.ip, 9090), undefined, "and only what it allows");
  });
});
