// The probe image for real: a server in one network namespace, batches from another through the
// local (ip netns exec) executor, across a veth pair. Needs root.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { probeMainPath } from "./executor.js";
import type { DropFeed } from "./executor.js";
import { NetnsProbeExecutor } from "./netns-executor.js";
import type { DropNotice, ProbeInput, ProbeResult } from "./schema.js";
import { BatchOutputSchema } from "./schema.js";
import type { NetnsPair } from "./testing/netns-pair.js";
import { createNetnsPair, isRoot, PAIR_ADDR, writeTestZone } from "./testing/netns-pair.js";

const run = promisify(execFile);
const S = PAIR_ADDR.server;
const root = await isRoot();
const hasPing = await run("sh", ["-c", "command -v ping"]).then(
  () => true,
  () => false,
);

describe("probe image between two network namespaces", { skip: root ? false : "needs root (netns, veth, nftables)" }, () => {
  let pair: NetnsPair;
  let executor: NetnsProbeExecutor;
  const client = { namespace: "probe-test", name: "client-b", nodeName: "node-b" };
  const results = new Map<string, ProbeResult>();

  const probes: ProbeInput[] = [
    { kind: "http", id: "http", host: S, path: "/echo?q=1", headers: { "x-conform-test": "hello", "x-other": "2" } },
    { kind: "http", id: "http-8080", host: S, port: 8080, method: "POST", body: "abc" },
    { kind: "http", id: "http-403", host: S, path: "/forbidden", expectStatus: 403 },
    { kind: "http", id: "http-name", host: "api.world.test", dnsServer: S },
    { kind: "tcp", id: "tcp-echo", host: S, port: 9000, payload: "bytes on the wire" },
    { kind: "udp", id: "udp-echo", host: S, port: 9001, payload: "datagram" },
    { kind: "tcp", id: "tcp-closed", host: S, port: 81 },
    { kind: "udp", id: "udp-closed", host: S, port: 9999 },
    { kind: "tcp", id: "tcp-dropped", host: PAIR_ADDR.dropped, port: 80, timeoutMs: 600 },
    { kind: "udp", id: "udp-dropped", host: PAIR_ADDR.dropped, port: 9001, timeoutMs: 600 },
    { kind: "http", id: "http-unrouted", host: PAIR_ADDR.unrouted, timeoutMs: 600 },
    { kind: "tcp", id: "tcp-host-unreachable", host: PAIR_ADDR.rejected, port: 80 },
    { kind: "udp", id: "udp-prohibited", host: PAIR_ADDR.prohibited, port: 9001 },
    { kind: "tcp", id: "tcp-no-route", host: "10.244.99.1", port: 80 },
    { kind: "dns", id: "dns-a", name: "multi.world.test", server: S },
    { kind: "dns", id: "dns-tcp", name: "api.world.test", server: S, transport: "tcp" },
    { kind: "dns", id: "dns-nx", name: "missing.world.test", server: S },
    { kind: "dns", id: "dns-refused", name: "example.com", server: S },
    { kind: "dns", id: "dns-dropped", name: "api.world.test", server: PAIR_ADDR.dropped, timeoutMs: 600 },
    { kind: "http", id: "http-name-nx", host: "missing.world.test", dnsServer: S },
    { kind: "icmp", id: "icmp", host: S },
    { kind: "icmp", id: "icmp-dropped", host: PAIR_ADDR.dropped, timeoutMs: 600 },
    { kind: "icmp", id: "icmp-prohibited", host: PAIR_ADDR.prohibited },
  ];

  before(async () => {
    pair = await createNetnsPair("probe");
    const zone = await writeTestZone(pair);
    await pair.startServer(["--http", "80,8080", "--tcp", "9000", "--udp", "9001", "--dns", "53", "--zone", zone, "--route", "/forbidden=403"]);
    executor = new NetnsProbeExecutor({
      resolveNetns: (pod) => {
        if (pod.name === client.name) return pair.b;
        throw new Error(`unknown pod ${pod.namespace}/${pod.name}`);
      },
    });
    for (const r of await executor.runBatch(client, probes)) results.set(r.id, r);
  });

  after(async () => {
    // Cleans up even when before() failed half-way; destroy() tolerates missing pieces.
    await pair?.destroy();
  });

  const get = (id: string): ProbeResult => {
    const r = results.get(id);
    assert.ok(r, `no result for ${id}`);
    return r;
  };

  test("one result per probe, in order", () => {
    assert.equal(results.size, probes.length);
  });

  test("HTTP: ALLOWED; the server saw exactly the reported source address and port, and the headers", () => {
    const r = get("http");
    assert.equal(r.outcome, "ALLOWED", r.detail);
    assert.equal(r.source.address, PAIR_ADDR.client);
    assert.ok(r.source.port && r.source.port >= 20000);
    const echo = r.http?.echo;
    assert.ok(echo, "the body is the server's echo document");
    assert.deepEqual(echo.client, { address: r.source.address, port: r.source.port });
    assert.deepEqual([echo.pod, echo.namespace, echo.node], ["server-a", "probe-test", "node-a"]);
    assert.equal(echo.headers["x-conform-test"], "hello");
    assert.equal(echo.headers["x-other"], "2");
    assert.deepEqual([echo.method, echo.path, echo.url], ["GET", "/echo", "/echo?q=1"]);
    const post = get("http-8080");
    assert.deepEqual([post.outcome, post.http?.echo?.method, post.http?.echo?.bodyBytes, post.http?.echo?.server.port], ["ALLOWED", "POST", 3, 8080]);
  });

  test("HTTP: a configured status code comes back as an answer, not as L7_DENIED", () => {
    const r = get("http-403");
    assert.deepEqual([r.outcome, r.http?.status, r.http?.statusMatches], ["ALLOWED", 403, true]);
  });

  test("HTTP by name: resolved through the test zone, both 5-tuples reported", () => {
    const r = get("http-name");
    assert.equal(r.outcome, "ALLOWED", r.detail);
    assert.equal(r.destination.address, S);
    assert.equal(r.dns?.rcode, "NOERROR");
    assert.equal(r.dns?.source.address, PAIR_ADDR.client);
    assert.ok(r.dns?.source.port);
    const nx = get("http-name-nx");
    assert.deepEqual([nx.outcome, nx.dns?.rcode], ["DNS_FAILED", "NXDOMAIN"]);
  });

  test("TCP and UDP echo: ALLOWED with the bytes echoed", () => {
    const tcp = get("tcp-echo");
    assert.equal(tcp.outcome, "ALLOWED", tcp.detail);
    assert.deepEqual(tcp.tcp, { bytesSent: 17, bytesReceived: 17, echoMatches: true });
    const udp = get("udp-echo");
    assert.equal(udp.outcome, "ALLOWED", udp.detail);
    assert.deepEqual(udp.udp, { bytesSent: 8, bytesReceived: 8, echoMatches: true });
  });

  test("closed TCP and UDP ports: REJECTED (RST, ICMP port unreachable), source port known", () => {
    for (const id of ["tcp-closed", "udp-closed"]) {
      const r = get(id);
      assert.equal(r.outcome, "REJECTED", `${id}: ${r.detail}`);
      assert.equal(r.error?.code, "ECONNREFUSED");
      assert.ok(r.source.port);
    }
  });

  test("ICMP errors: host unreachable for TCP, admin-prohibited for UDP, no route at all: REJECTED", () => {
    const host = get("tcp-host-unreachable");
    assert.deepEqual([host.outcome, host.error?.code], ["REJECTED", "EHOSTUNREACH"]);
    assert.match(host.detail, /host unreachable/);
    const prohibited = get("udp-prohibited");
    assert.deepEqual([prohibited.outcome, prohibited.error?.code], ["REJECTED", "EHOSTUNREACH"]);
    const noRoute = get("tcp-no-route");
    assert.equal(noRoute.outcome, "REJECTED");
    assert.match(noRoute.detail, /no route from this pod to 10\.244\.99\.1/);
  });

  test("silently dropped or unrouted: TIMEOUT, and the reported source port is the one on the wire", async () => {
    for (const id of ["tcp-dropped", "udp-dropped", "http-unrouted", "dns-dropped"]) {
      const r = get(id);
      assert.equal(r.outcome, "TIMEOUT", `${id}: ${r.detail}`);
      assert.equal(r.source.address, PAIR_ADDR.client);
      assert.ok(r.source.port, id);
    }
    const seen = await pair.droppedTuples();
    for (const [id, proto] of [["tcp-dropped", "tcp"], ["udp-dropped", "udp"], ["dns-dropped", "udp"]] as const) {
      const r = get(id);
      assert.ok(
        seen.some((t) => t.address === r.source.address && t.port === r.source.port && t.proto === proto),
        `${id}: ${r.source.address}:${r.source.port}/${proto} not among the tuples the drop rule saw: ${JSON.stringify(seen)}`,
      );
    }
  });

  test("a drop notice for a probe's exact 5-tuple ends its wait as TIMEOUT (TCP, DNS); a notice for another tuple does not", async () => {
    // The runner sends notices once the flow log shows the drop; here the drop rule's own record
    // of the tuples stands in for the flow log.
    const listeners = new Set<(n: DropNotice) => void>();
    const drops: DropFeed = { subscribe: (l) => (listeners.add(l), () => void listeners.delete(l)) };
    const before = new Set((await pair.droppedTuples()).map((t) => `${t.proto}:${t.port}`));
    const notified = new Set<string>();
    const forward = setInterval(() => {
      void pair.droppedTuples().then((tuples) => {
        for (const t of tuples) {
          const key = `${t.proto}:${t.port}`;
          if (before.has(key) || notified.has(key)) continue;
          notified.add(key);
          const protocol = t.proto === "tcp" ? "TCP" : "UDP";
          const dropped = { protocol, source: { address: t.address, port: t.port }, destination: { address: PAIR_ADDR.dropped, port: protocol === "TCP" ? 80 : 9001 } } as const;
          for (const l of listeners) {
            // The TCP probe gets its own tuple. A UDP source port may be the DNS probe's or the
            // UDP probe's: notices go out for DNS (53, the DNS probe's) and for 9002 (nobody's),
            // so the UDP probe to 9001 never sees its own tuple.
            if (protocol === "TCP") l({ dropped: { ...dropped, reason: "POLICY_DENIED" } });
            else for (const port of [53, 9002]) l({ dropped: { ...dropped, destination: { ...dropped.destination, port }, reason: "POLICY_DENY" } });
          }
        }
      });
    }, 50);
    let got: ProbeResult[];
    try {
      got = await executor.runBatch(
        client,
        [
          { kind: "tcp", id: "tcp-noticed", host: PAIR_ADDR.dropped, port: 80, timeoutMs: 30_000 },
          { kind: "udp", id: "udp-other-tuple", host: PAIR_ADDR.dropped, port: 9001, timeoutMs: 1_500 },
          { kind: "dns", id: "dns-noticed", name: "api.world.test", server: PAIR_ADDR.dropped, timeoutMs: 30_000 },
        ],
        { drops },
      );
    } finally {
      clearInterval(forward);
    }
    const [tcp, udp, dns] = got;
    assert.equal(dns!.outcome, "TIMEOUT", dns!.detail);
    assert.equal(dns!.endedEarly?.reason, "POLICY_DENY", dns!.detail);
    assert.equal(tcp!.outcome, "TIMEOUT", tcp!.detail);
    assert.equal(tcp!.endedEarly?.reason, "POLICY_DENIED", tcp!.detail);
    assert.match(tcp!.detail, /the datapath dropped it \(POLICY_DENIED\)/);
    assert.ok(tcp!.endedEarly!.afterMs < 30_000, "ended by the notice, not by its timeout");
    assert.equal(udp!.outcome, "TIMEOUT", udp!.detail);
    assert.equal(udp!.endedEarly, undefined, "a notice for another tuple is ignored");
    assert.match(udp!.detail, /within 1500 ms/);
  });

  test("DNS: A records resolve over UDP and TCP; unknown names and foreign zones are DNS_FAILED", () => {
    const a = get("dns-a");
    assert.equal(a.outcome, "ALLOWED", a.detail);
    assert.deepEqual(a.dns?.answers.map((x) => x.data).sort(), [S, PAIR_ADDR.rejected].sort());
    assert.deepEqual(a.destination, { address: S, port: 53 });
    const tcp = get("dns-tcp");
    assert.deepEqual([tcp.outcome, tcp.dns?.transport, tcp.dns?.answers[0]?.data], ["ALLOWED", "tcp", S]);
    assert.deepEqual([get("dns-nx").outcome, get("dns-nx").dns?.rcode], ["DNS_FAILED", "NXDOMAIN"]);
    assert.deepEqual([get("dns-refused").outcome, get("dns-refused").dns?.rcode], ["DNS_FAILED", "REFUSED"]);
  });

  test(`ICMP echo ${hasPing ? "via ping" : "without ping installed: PROBE_ERROR"}`, () => {
    const ok = get("icmp");
    if (!hasPing) {
      assert.equal(ok.outcome, "PROBE_ERROR");
      assert.match(ok.detail, /need the ping program/);
      return;
    }
    assert.equal(ok.outcome, "ALLOWED", ok.detail);
    assert.equal(ok.source.address, PAIR_ADDR.client);
    assert.ok((ok.icmp?.rttMs ?? -1) >= 0);
    assert.equal(get("icmp-dropped").outcome, "TIMEOUT");
    assert.equal(get("icmp-prohibited").outcome, "REJECTED");
  });

  test("the server logged one line per request, naming the client port the probe reported", () => {
    const r = get("http");
    const lines = pair.serverLog.map((l) => JSON.parse(l) as Record<string, unknown>);
    const hit = lines.filter((l) => l.proto === "http" && l.client === `${r.source.address}:${r.source.port}`);
    assert.equal(hit.length, 1);
    assert.equal(hit[0]?.path, "/echo?q=1");
    assert.ok(lines.some((l) => l.proto === "dns" && l.name === "missing.world.test" && l.rcode === "NXDOMAIN"));
  });

  test("malformed probes are PROBE_ERROR (never TIMEOUT) while the rest of the batch runs", async () => {
    const bad = [
      { kind: "tcp", id: "good", host: S, port: 9000 },
      { kind: "tcp", id: "no-port", host: S },
      { kind: "smoke-signal", id: "weird" },
    ] as unknown as ProbeInput[];
    const out = await executor.runBatch(client, bad);
    assert.deepEqual(out.map((r) => [r.id, r.outcome]), [["good", "ALLOWED"], ["no-port", "PROBE_ERROR"], ["weird", "PROBE_ERROR"]]);
    assert.match(out[1]?.detail ?? "", /<stdin>:1: \[1\]\.port: missing required field/);
  });

  test("malformed batch input to the CLI: exit 2 and an error document", async () => {
    const out = await run("ip", ["netns", "exec", pair.b, process.execPath, probeMainPath(), "batch", "--file", "/nonexistent/probes.json"]).catch(
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal("code" in out ? out.code : 0, 2);
    assert.match(BatchOutputSchema.parse(JSON.parse(out.stdout)).error ?? "", /\/nonexistent\/probes\.json: cannot read/);
  });

  test("a batch process that crashes, prints garbage or hangs: every probe PROBE_ERROR", async () => {
    const two: ProbeInput[] = [
      { kind: "tcp", id: "x", host: S, port: 9000 },
      { kind: "udp", id: "y", host: S, port: 9001 },
    ];
    const make = (script: string) =>
      new NetnsProbeExecutor({ resolveNetns: () => pair.b, command: [process.execPath, "-e", script], graceMs: 500 });
    const crash = await make("console.error('segfault-ish: probe died'); process.exit(139)").runBatch(client, two);
    const garbage = await make("process.stdout.write('<html>not json</html>')").runBatch(client, two);
    const hang = await make("setInterval(() => {}, 1000)").runBatch(client, two, { deadlineMs: 200 });
    const unknownPod = await executor.runBatch({ namespace: "x", name: "ghost" }, two);
    for (const [name, out] of [["crash", crash], ["garbage", garbage], ["hang", hang], ["unknown pod", unknownPod]] as const) {
      assert.deepEqual(out.map((r) => r.outcome), ["PROBE_ERROR", "PROBE_ERROR"], name);
    }
    assert.match(crash[0]?.detail ?? "", /exit 139.*stderr: segfault-ish: probe died/);
    assert.match(garbage[0]?.detail ?? "", /stdout: <html>not json<\/html>/);
    assert.match(hang[0]?.detail ?? "", /did not finish within 700 ms/);
    assert.match(unknownPod[0]?.detail ?? "", /no network namespace for the pod: unknown pod x\/ghost/);
  });

  test("SIGTERM stops the server cleanly (exit 0)", async () => {
    assert.equal(await pair.stopServer(), 0);
    assert.ok(pair.serverLog.some((l) => l.includes('"event":"stopping"')));
  });
});
