// bpf/endpoint.c on real veths: a node netns holds the host-side ends of two pod netns,
// the programs are attached with tc, and real TCP/UDP connections pass or drop as policy
// entries are written and deleted. Events come through native/'s ring buffer reader.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { CtState, Direction, ENDPOINT_PROGRAMS, EnforcementMode, EventFlag, EventType, IpProto, PolicyAction, TraceMode, TracePoint, Verdict } from "../../native/abi.js";
import type { CfEvent } from "../../native/codecs.js";
import { describeEvent } from "../../native/events.js";
import { ifIndex, tcAttach } from "../../native/tc.js";
import { EndpointFixture } from "./endpoint-fixture.js";
import { Peer, createTopology, destroyTopology, type Topology } from "./helpers/netns-topology.js";

const PREFIX = `cft-bpf-${process.pid}`;
const A = { name: "a", ip: "10.244.7.10", hostIf: `cfa${process.pid % 100000}`, epId: 1, identity: 1001 };
const B = { name: "b", ip: "10.244.7.11", hostIf: `cfb${process.pid % 100000}`, epId: 2, identity: 1002 };
const TCP_PORT = 8080;
const UDP_PORT = 5353;

function show(events: CfEvent[]): string {
  return events.map(describeEvent).join("\n") || "(no events)";
}

describe("endpoint program on veths between two pod netns", () => {
  let topo: Topology;
  let f: EndpointFixture;
  const peers: Peer[] = [];
  const ifindex: Record<string, number> = {};

  const peer = (netns: string, args: string[]): Peer => {
    const p = new Peer(netns, args);
    peers.push(p);
    return p;
  };
  const setModes = (ep: typeof A, ingress: number, egress: number) =>
    f.setEndpoint(ifindex[ep.name] ?? 0, { epId: ep.epId, identity: ep.identity, ipv4: ep.ip, ingressMode: ingress, egressMode: egress });
  const allowKey = { epId: B.epId, identity: A.identity, dport: TCP_PORT, proto: IpProto.tcp, direction: Direction.ingress };
  const connect = async (timeoutMs = 1500): Promise<{ client: Peer; port: number } | undefined> => {
    const client = peer(topo.pods.a?.netns ?? "", ["client", "tcp", B.ip, String(TCP_PORT), String(timeoutMs)]);
    const line = await client.next(["connected", "error"], timeoutMs + 2000);
    if (!line?.startsWith("connected")) {
      client.stop();
      return undefined;
    }
    return { client, port: Number(line.split(" ")[1]) };
  };
  const echo = async (client: Peer, text: string, timeoutMs: number): Promise<boolean> => {
    client.send(`send ${text}`);
    return (await client.next([`recv ${text}`], timeoutMs)) !== undefined;
  };
  const eventsOf = (evs: CfEvent[], port: number) => evs.filter((e) => e.sport === port || e.dport === port);

  before(async () => {
    topo = createTopology(PREFIX, "10.244.7.1", [A, B]);
    // Trace the first packet of each connection and direction: an ordered, readable stream.
    f = new EndpointFixture({ globals: { cfg_trace_mode: TraceMode.firstPerConnection } });
    for (const ep of [A, B]) {
      const idx = ifIndex(ep.hostIf, topo.node);
      ifindex[ep.name] = idx;
      tcAttach({ ifindex: idx, hook: "ingress", program: f.obj.program(ENDPOINT_PROGRAMS.fromEndpoint.name), netns: topo.node });
      tcAttach({ ifindex: idx, hook: "egress", program: f.obj.program(ENDPOINT_PROGRAMS.toEndpoint.name), netns: topo.node });
      f.setIdentity(`${ep.ip}/32`, ep.identity);
      setModes(ep, EnforcementMode.none, EnforcementMode.none);
    }
    const tcpServer = peer(topo.pods.b?.netns ?? "", ["server", "tcp", String(TCP_PORT)]);
    const udpServer = peer(topo.pods.b?.netns ?? "", ["server", "udp", String(UDP_PORT)]);
    assert.ok(await tcpServer.next(["ready"], 5000), "tcp server ready");
    assert.ok(await udpServer.next(["ready"], 5000), "udp server ready");
    await f.takeEvents();
  });

  after(() => {
    for (const p of peers) p.stop();
    f?.close();
    if (topo) destroyTopology(topo);
  });

  test("TCP: allowed, dropped, re-allowed, kept while still allowed, cut when revoked; events in order", async () => {
    // 1. Nothing enforced: a connection opens and echoes.
    const longLived = await connect();
    assert.ok(longLived, "connect without enforcement");
    assert.ok(await echo(longLived.client, "hello", 2000));
    let evs = eventsOf(await f.takeEvents(), longLived.port);
    assert.deepEqual(
      evs.slice(0, 4).map((e) => [e.epId, e.type, e.subtype, !!(e.flags & EventFlag.reply)]),
      [
        [A.epId, EventType.trace, TracePoint.fromEndpoint, false],
        [B.epId, EventType.trace, TracePoint.toEndpoint, false],
        [B.epId, EventType.trace, TracePoint.fromEndpoint, true],
        [A.epId, EventType.trace, TracePoint.toEndpoint, true],
      ],
      show(evs),
    );

    // 2. B's ingress enforced with no entry: new connections time out, and the open one is cut.
    setModes(B, EnforcementMode.enforce, EnforcementMode.none);
    assert.equal(await connect(1200), undefined, "a new connection must not open under default deny");
    assert.equal(await echo(longLived.client, "during-deny", 1500), false, "the established connection is cut");
    evs = await f.takeEvents();
    const drops = evs.filter((e) => e.type === EventType.drop);
    assert.ok(drops.length >= 2, show(evs));
    for (const d of drops) {
      assert.deepEqual([d.dropReason, d.epId, d.direction, d.srcIdentity, d.dstIdentity, d.saddr, d.daddr, d.dport], [133, B.epId, Direction.ingress, A.identity, B.identity, A.ip, B.ip, TCP_PORT], describeEvent(d));
    }
    assert.ok(eventsOf(drops, longLived.port).some((d) => d.ctState === CtState.established), "the cut connection's drops are established packets");
    assert.ok(drops.some((d) => d.ctState === CtState.new && (d.tcpFlags & 0x12) === 0x02), "SYNs of the new connection dropped");

    // 3. Allow A -> B:8080: the cut connection recovers on retransmission, new ones open.
    f.policy.set(allowKey, { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: 501 });
    assert.ok(await longLived.client.next(["recv during-deny"], 8000), "the retransmitted segment gets through once allowed");
    const second = await connect();
    assert.ok(second, "connect once allowed");
    assert.ok(await echo(second.client, "allowed", 2000));
    evs = eventsOf(await f.takeEvents(), second.port);
    assert.deepEqual(
      evs.slice(0, 5).map((e) => [e.epId, e.type, e.verdict, !!(e.flags & EventFlag.reply)]),
      [
        [A.epId, EventType.trace, Verdict.forwarded, false],
        [B.epId, EventType.policyVerdict, Verdict.forwarded, false],
        [B.epId, EventType.trace, Verdict.forwarded, false],
        [B.epId, EventType.trace, Verdict.forwarded, true],
        [A.epId, EventType.trace, Verdict.forwarded, true],
      ],
      show(evs),
    );
    assert.equal(evs[1]?.ruleRef, 501);
    assert.equal(evs[1]?.srcIdentity, A.identity);

    // 4. Replace the rule by one that still allows: the connection survives.
    f.policy.set({ ...allowKey, identity: 0 }, { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: 502 });
    f.policy.delete(allowKey);
    assert.ok(await echo(second.client, "still-allowed", 2000), "a connection survives a policy that still allows it");
    assert.ok(await echo(longLived.client, "still-allowed-too", 2000));

    // 5. Revoke: the next packet of the established connection is dropped.
    f.policy.delete({ ...allowKey, identity: 0 });
    await f.takeEvents();
    assert.equal(await echo(second.client, "after-revoke", 1500), false, "revoking the allow cuts the connection");
    evs = eventsOf(await f.takeEvents(), second.port);
    const cut = evs.filter((e) => e.type === EventType.drop);
    assert.ok(cut.length >= 1, show(evs));
    assert.ok(cut.every((e) => e.ctState === CtState.established && e.dropReason === 133), show(evs));
    // Policy-verdict events come before each drop event.
    assert.equal(evs[0]?.type, EventType.policyVerdict, show(evs));
    assert.equal(evs[1]?.type, EventType.drop, show(evs));

    // 6. An explicit deny beats the allow.
    f.policy.set(allowKey, { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: 503 });
    f.policy.set({ epId: B.epId, identity: A.identity, dport: 0, proto: 0, direction: Direction.ingress }, { action: PolicyAction.deny, flags: 0, proxyPort: 0, ruleRef: 504 });
    assert.equal(await connect(1200), undefined, "deny wins over allow");
    evs = (await f.takeEvents()).filter((e) => e.type === EventType.drop);
    assert.ok(evs.length > 0 && evs.every((e) => e.dropReason === 181 && e.ruleRef === 504), show(evs));
    f.policy.clear();
    second.client.stop();
    longLived.client.stop();
  });

  test("UDP: replies pass via conntrack into a default-deny pod; requests need an allow", async () => {
    setModes(A, EnforcementMode.enforce, EnforcementMode.none); // A accepts nothing unsolicited
    setModes(B, EnforcementMode.enforce, EnforcementMode.none);
    const client = peer(topo.pods.a?.netns ?? "", ["client", "udp", B.ip, String(UDP_PORT)]);
    const ready = await client.next(["ready"], 3000);
    assert.ok(ready);
    const port = Number(ready.split(" ")[1]);
    client.send("send before-allow");
    assert.equal(await client.next(["recv before-allow"], 1000), undefined, "no allow: the request is dropped");
    let evs = eventsOf(await f.takeEvents(), port);
    assert.ok(evs.some((e) => e.type === EventType.drop && e.proto === IpProto.udp && e.epId === B.epId && e.dropReason === 133), show(evs));

    f.policy.set({ epId: B.epId, identity: A.identity, dport: UDP_PORT, proto: IpProto.udp, direction: Direction.ingress }, { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: 601 });
    client.send("send ping");
    assert.ok(await client.next(["recv ping"], 2000), "the reply reaches A although A's ingress allows nothing");
    evs = eventsOf(await f.takeEvents(), port);
    const replyIn = evs.find((e) => e.epId === A.epId && e.direction === Direction.ingress);
    assert.ok(replyIn && replyIn.flags & EventFlag.reply && replyIn.ctState === CtState.reply, show(evs));
    assert.equal(evs.filter((e) => e.type === EventType.drop).length, 0, show(evs));

    f.policy.clear();
    client.send("send after-revoke");
    assert.equal(await client.next(["recv after-revoke"], 1000), undefined, "revoked: dropped again");
    client.stop();
    await sleep(50);
  });
});
