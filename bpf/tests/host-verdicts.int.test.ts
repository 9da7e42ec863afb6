// bpf/host.c (host firewall on the node's underlay device) and the pod→host check of
// bpf/endpoint.c under BPF_PROG_TEST_RUN. Both objects share maps pinned in a private bpffs
// directory, as the agent's do: one policy table, conntrack and ring buffer.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { Direction, EnforcementMode, EventType, HOST_ENDPOINT_KEY, HOST_PROGRAMS, IpProto, MAP_NAMES, PolicyAction, ReservedIdentity, TracePoint, Verdict } from "../../native/abi.js";
import { BpfObject } from "../../native/bpf-object.js";
import { unpin } from "../../native/bpf-map.js";
import { describeEvent } from "../../native/events.js";
import type { CfEvent } from "../../native/codecs.js";
import { bpfObjectPath } from "../../native/paths.js";
import { skbContext, testRun } from "../../native/test-run.js";
import { EndpointFixture, TC_ACT_OK, TC_ACT_SHOT } from "./endpoint-fixture.js";
import { frame, TCP } from "./packets.js";

const PIN_DIR = `/sys/fs/bpf/cft-host-${process.pid}`;
const HOST_EP = 65536;
const NODE_IP = "198.18.0.12";
const APISERVER = "198.18.0.1";
const REMOTE_POD = "10.244.0.7"; // a pod on another node, arriving on the underlay
const REMOTE_POD_ID = 3000;
const LOCAL_POD = "10.244.1.5"; // a pod on this node (its veth is ifindex 1 in the pod tests)
const LOCAL_POD_ID = 3001;
const LOCAL_EP = 7;
const KUBE_APISERVER_ID = 7;

const syn = (src: string, dst: string, sport: number, dport: number): Buffer => frame({ src, dst, proto: "tcp", sport, dport, flags: TCP.syn });
const tcp = (src: string, dst: string, sport: number, dport: number, flags: number): Buffer => frame({ src, dst, proto: "tcp", sport, dport, flags });
const show = (evs: CfEvent[]): string => evs.map(describeEvent).join("\n") || "(no events)";

describe("host firewall program (BPF_PROG_TEST_RUN)", () => {
  let f: EndpointFixture;
  let host: BpfObject;

  before(() => {
    mkdirSync(PIN_DIR, { recursive: true });
    f = new EndpointFixture({ pinDir: PIN_DIR });
    host = BpfObject.load(bpfObjectPath("host"), { pinDir: PIN_DIR, pinMaps: Object.values(MAP_NAMES) });
  });
  after(() => {
    host?.close();
    f?.close();
    for (const name of readdirSync(PIN_DIR)) unpin(join(PIN_DIR, name));
    rmdirSync(PIN_DIR);
  });

  /** Run cf_from_netdev (ingress) or cf_to_netdev (egress) on a frame. */
  const runHost = (direction: number, data: Buffer): number =>
    testRun(host.program(direction === Direction.ingress ? HOST_PROGRAMS.fromNetdev.name : HOST_PROGRAMS.toNetdev.name), { data, ctx: skbContext({ ifindex: 1 }) }).retval;
  const setHost = (ingressMode: number, egressMode: number) =>
    f.setEndpoint(HOST_ENDPOINT_KEY, { epId: HOST_EP, identity: ReservedIdentity.host, ipv4: NODE_IP, ingressMode, egressMode });
  const entry = (epId: number, direction: number, identity: number, proto: number, dport: number, ruleRef: number, action: number = PolicyAction.allow) =>
    f.policy.set({ epId, identity, dport, proto, direction }, { action, flags: 0, proxyPort: 0, ruleRef });

  beforeEach(async () => {
    f.endpoints.clear();
    f.policy.clear();
    f.ct.clear();
    f.ipcache.clear();
    f.setIdentity(`${NODE_IP}/32`, ReservedIdentity.host);
    f.setIdentity(`${APISERVER}/32`, KUBE_APISERVER_ID);
    f.setIdentity(`${REMOTE_POD}/32`, REMOTE_POD_ID);
    f.setIdentity(`${LOCAL_POD}/32`, LOCAL_POD_ID);
    await f.takeEvents();
  });

  test("without a host endpoint entry everything passes, untracked and silent", async () => {
    assert.equal(runHost(Direction.ingress, syn(REMOTE_POD, NODE_IP, 40000, 9191)), TC_ACT_OK);
    assert.equal(f.ct.entries().length, 0);
    assert.deepEqual(await f.takeEvents(), []);
  });

  test("unselected host (modes 0): the node's traffic passes and is tracked, with no events", async () => {
    setHost(EnforcementMode.none, EnforcementMode.none);
    assert.equal(runHost(Direction.ingress, syn(REMOTE_POD, NODE_IP, 40000, 9191)), TC_ACT_OK);
    assert.equal(runHost(Direction.egress, syn(NODE_IP, APISERVER, 50000, 6443)), TC_ACT_OK);
    assert.equal(f.ct.entries().filter(([k]) => k.epId === HOST_EP).length, 2);
    assert.deepEqual(await f.takeEvents(), []);
  });

  test("ingress default deny: the allowed pod on the allowed port passes, anything else drops (133) as the host endpoint", async () => {
    setHost(EnforcementMode.enforce, EnforcementMode.none);
    entry(HOST_EP, Direction.ingress, REMOTE_POD_ID, IpProto.tcp, 9191, 777);
    assert.equal(runHost(Direction.ingress, syn(REMOTE_POD, NODE_IP, 40000, 9191)), TC_ACT_OK);
    let evs = await f.takeEvents();
    const verdict = evs.find((e) => e.type === EventType.policyVerdict);
    assert.ok(verdict, show(evs));
    assert.equal(verdict.verdict, Verdict.forwarded);
    assert.equal(verdict.epId, HOST_EP);
    assert.equal(verdict.ruleRef, 777);
    assert.equal(verdict.srcIdentity, REMOTE_POD_ID);
    assert.equal(verdict.dstIdentity, ReservedIdentity.host);
    const trace = evs.find((e) => e.type === EventType.trace);
    assert.equal(trace?.subtype, TracePoint.fromNetwork, show(evs));

    assert.equal(runHost(Direction.ingress, syn(REMOTE_POD, NODE_IP, 40001, 9192)), TC_ACT_SHOT);
    assert.equal(runHost(Direction.ingress, syn(APISERVER, NODE_IP, 40002, 9191)), TC_ACT_SHOT);
    evs = await f.takeEvents();
    assert.deepEqual(
      evs.map((e) => [e.type, e.verdict, e.dropReason, e.epId, e.direction, e.srcIdentity]),
      [
        [EventType.policyVerdict, Verdict.dropped, 133, HOST_EP, Direction.ingress, REMOTE_POD_ID],
        [EventType.drop, Verdict.dropped, 133, HOST_EP, Direction.ingress, REMOTE_POD_ID],
        [EventType.policyVerdict, Verdict.dropped, 133, HOST_EP, Direction.ingress, KUBE_APISERVER_ID],
        [EventType.drop, Verdict.dropped, 133, HOST_EP, Direction.ingress, KUBE_APISERVER_ID],
      ],
      show(evs),
    );
  });

  test("an explicit deny drops with 181 and its rule even where an allow matches", async () => {
    setHost(EnforcementMode.enforce, EnforcementMode.none);
    entry(HOST_EP, Direction.ingress, 0, 0, 0, 1, PolicyAction.allow);
    entry(HOST_EP, Direction.ingress, REMOTE_POD_ID, IpProto.tcp, 22, 888, PolicyAction.deny);
    assert.equal(runHost(Direction.ingress, syn(REMOTE_POD, NODE_IP, 40000, 22)), TC_ACT_SHOT);
    assert.equal(runHost(Direction.ingress, syn(REMOTE_POD, NODE_IP, 40001, 80)), TC_ACT_OK);
    const drops = (await f.takeEvents()).filter((e) => e.type === EventType.drop);
    assert.deepEqual(drops.map((e) => [e.dropReason, e.ruleRef]), [[181, 888]]);
  });

  test("replies of connections the node opened pass a default-deny ingress; a new connection from the same peer does not", async () => {
    setHost(EnforcementMode.enforce, EnforcementMode.none);
    assert.equal(runHost(Direction.egress, syn(NODE_IP, APISERVER, 50000, 6443)), TC_ACT_OK);
    assert.equal(runHost(Direction.ingress, tcp(APISERVER, NODE_IP, 6443, 50000, TCP.syn | TCP.ack)), TC_ACT_OK);
    assert.equal(runHost(Direction.ingress, tcp(APISERVER, NODE_IP, 6443, 50000, TCP.ack)), TC_ACT_OK);
    assert.equal(runHost(Direction.ingress, syn(APISERVER, NODE_IP, 6443, 50001)), TC_ACT_SHOT);
  });

  test("traffic routed through the node (pod addresses) is not the host's: untouched even when enforced", async () => {
    setHost(EnforcementMode.enforce, EnforcementMode.enforce);
    assert.equal(runHost(Direction.ingress, syn(REMOTE_POD, LOCAL_POD, 40000, 80)), TC_ACT_OK);
    assert.equal(runHost(Direction.egress, syn(LOCAL_POD, REMOTE_POD, 40000, 80)), TC_ACT_OK);
    assert.deepEqual(await f.takeEvents(), []);
    assert.equal(f.ct.entries().length, 0);
  });

  test("egress enforced: the node reaches the API server only where allowed", async () => {
    setHost(EnforcementMode.none, EnforcementMode.enforce);
    entry(HOST_EP, Direction.egress, KUBE_APISERVER_ID, IpProto.tcp, 6443, 999);
    assert.equal(runHost(Direction.egress, syn(NODE_IP, APISERVER, 50000, 6443)), TC_ACT_OK);
    assert.equal(runHost(Direction.egress, syn(NODE_IP, APISERVER, 50001, 2379)), TC_ACT_SHOT);
    // A reply of a connection opened to the node passes egress without an allow.
    assert.equal(runHost(Direction.ingress, syn(REMOTE_POD, NODE_IP, 40000, 9191)), TC_ACT_OK);
    assert.equal(runHost(Direction.egress, tcp(NODE_IP, REMOTE_POD, 9191, 40000, TCP.syn | TCP.ack)), TC_ACT_OK);
  });

  describe("a local pod's packet to the node (endpoint.c, pod egress then host ingress)", () => {
    const pod = (egressMode: number = EnforcementMode.none) => f.setEndpoint(1, { epId: LOCAL_EP, identity: LOCAL_POD_ID, ipv4: LOCAL_POD, ingressMode: EnforcementMode.none, egressMode });

    test("host ingress not enforced: one check only, the pod's", async () => {
      pod();
      setHost(EnforcementMode.none, EnforcementMode.none);
      assert.equal(f.run(Direction.egress, syn(LOCAL_POD, NODE_IP, 40000, 9191)), TC_ACT_OK);
      const evs = await f.takeEvents();
      assert.ok(evs.every((e) => e.epId === LOCAL_EP), show(evs));
    });

    test("host ingress enforced: the allowed pod passes (host verdict at to-host), another port drops as the host endpoint", async () => {
      pod();
      setHost(EnforcementMode.enforce, EnforcementMode.none);
      entry(HOST_EP, Direction.ingress, LOCAL_POD_ID, IpProto.tcp, 9191, 555);
      assert.equal(f.run(Direction.egress, syn(LOCAL_POD, NODE_IP, 40000, 9191)), TC_ACT_OK);
      let evs = await f.takeEvents();
      const hostVerdict = evs.find((e) => e.epId === HOST_EP && e.type === EventType.policyVerdict);
      assert.ok(hostVerdict, show(evs));
      assert.equal(hostVerdict.verdict, Verdict.forwarded);
      assert.equal(hostVerdict.ruleRef, 555);
      assert.equal(hostVerdict.direction, Direction.ingress);
      assert.equal(hostVerdict.srcIdentity, LOCAL_POD_ID);
      assert.equal(evs.find((e) => e.epId === HOST_EP && e.type === EventType.trace)?.subtype, TracePoint.toHost, show(evs));

      assert.equal(f.run(Direction.egress, syn(LOCAL_POD, NODE_IP, 40001, 9192)), TC_ACT_SHOT);
      evs = await f.takeEvents();
      const drop = evs.find((e) => e.type === EventType.drop);
      assert.ok(drop, show(evs));
      assert.deepEqual([drop.epId, drop.direction, drop.dropReason, drop.srcIdentity, drop.dstIdentity], [HOST_EP, Direction.ingress, 133, LOCAL_POD_ID, ReservedIdentity.host]);
    });

    test("the pod's own egress deny still wins first; traffic to other pods never meets the host check", async () => {
      pod(EnforcementMode.enforce);
      setHost(EnforcementMode.enforce, EnforcementMode.none);
      entry(HOST_EP, Direction.ingress, LOCAL_POD_ID, IpProto.tcp, 9191, 555);
      assert.equal(f.run(Direction.egress, syn(LOCAL_POD, NODE_IP, 40000, 9191)), TC_ACT_SHOT);
      let evs = await f.takeEvents();
      assert.ok(evs.every((e) => e.epId === LOCAL_EP), show(evs));
      entry(LOCAL_EP, Direction.egress, 0, 0, 0, 1);
      assert.equal(f.run(Direction.egress, syn(LOCAL_POD, REMOTE_POD, 40002, 80)), TC_ACT_OK);
      evs = await f.takeEvents();
      assert.ok(evs.every((e) => e.epId === LOCAL_EP), show(evs));
    });

    test("the pod's replies to a connection the node opened pass without the host check", async () => {
      pod();
      setHost(EnforcementMode.enforce, EnforcementMode.none);
      // Node → pod (e.g. kubelet probe): the pod's ingress tracks it on the veth's egress hook.
      assert.equal(f.run(Direction.ingress, syn(NODE_IP, LOCAL_POD, 50000, 8080)), TC_ACT_OK);
      assert.equal(f.run(Direction.egress, tcp(LOCAL_POD, NODE_IP, 8080, 50000, TCP.syn | TCP.ack)), TC_ACT_OK);
      const evs = await f.takeEvents();
      assert.ok(!evs.some((e) => e.epId === HOST_EP), show(evs));
    });
  });
});
