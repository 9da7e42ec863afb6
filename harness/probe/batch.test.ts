// The batch client against the probe server's own listeners on loopback: every probe kind for
// real, without privileges (the netns version is probe.int.test.ts).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import http from "node:http";
import net from "node:net";
import { runBatch } from "./batch.js";
import { probeMainPath } from "./executor.js";
import { parseBatchText } from "./input.js";
import type { ProbeInput, ProbeResult } from "./schema.js";
import { BatchOutputSchema } from "./schema.js";
import type { RunningServer } from "./server/serve.js";
import { startServer } from "./server/serve.js";
import { silentLog } from "./server/log.js";
import { parseZoneText } from "./server/zone.js";

let server: RunningServer;
let ports: Record<string, number> = {};
const extras: { close(): void }[] = [];
let silentUdpPort = 0;
let mutePort = 0;
let proxyPort = 0;

function listenOn(srv: net.Server): Promise<number> {
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => resolve((srv.address() as net.AddressInfo).port)));
}

before(async () => {
  server = await startServer({
    http: [0],
    tcp: [0],
    udp: [0],
    dns: [0],
    zones: [parseZoneText("zone: world.test\nrecords:\n  api: 127.0.0.1\n", "zone.yaml")],
    routes: [{ path: "/teapot", status: 418 }],
    bind: "127.0.0.1",
    identity: { pod: "echo", namespace: "ns", node: "n1" },
    log: silentLog,
  });
  ports = Object.fromEntries(server.listeners.map((l) => [l.proto, l.port]));
  // A UDP socket that reads and never answers: silence without needing a firewall rule.
  const silent = dgram.createSocket("udp4");
  await new Promise<void>((r) => silent.bind(0, "127.0.0.1", () => r()));
  silentUdpPort = silent.address().port;
  extras.push(silent);
  // Accepts TCP and never says a word: an HTTP probe must time out, not hang.
  const mute = net.createServer(() => undefined);
  mutePort = await listenOn(mute);
  extras.push({ close: () => mute.close() });
  // Stands in for the L7 proxy's refusal, byte for byte what Envoy sends.
  const proxy = http.createServer((_req, res) => {
    res.writeHead(403, { "content-type": "text/plain", server: "envoy" });
    res.end("Access denied\r\n");
  });
  proxyPort = await listenOn(proxy);
  extras.push({ close: () => proxy.close() });
});

after(async () => {
  await server.close();
  for (const e of extras) e.close();
});

async function run(probes: ProbeInput[], opts: { concurrency?: number; deadlineMs?: number } = {}): Promise<ProbeResult[]> {
  const parsed = await parseBatchText(JSON.stringify(probes), "<test>");
  assert.ok(parsed.ok);
  const doc = await runBatch(parsed.items, opts);
  BatchOutputSchema.parse(doc);
  return doc.results;
}

test("every probe kind over loopback, with the source port the server saw", async () => {
  const [httpR, teapot, tcpR, udpR, dnsR, dnsTcp, byName, closedTcp, closedUdp, nx, refused, denied] = await run([
    { kind: "http", id: "http", host: "127.0.0.1", port: ports.http ?? 0, path: "/hello?x=1", headers: { "x-conform-test": "yes" } },
    { kind: "http", id: "teapot", host: "127.0.0.1", port: ports.http ?? 0, path: "/teapot", expectStatus: 418 },
    { kind: "tcp", id: "tcp", host: "127.0.0.1", port: ports.tcp ?? 0, payload: "ping-pong" },
    { kind: "udp", id: "udp", host: "127.0.0.1", port: ports.udp ?? 0, payload: "datagram" },
    { kind: "dns", id: "dns", name: "api.world.test", server: `127.0.0.1:${ports.dns}` },
    { kind: "dns", id: "dns-tcp", name: "api.world.test", server: `127.0.0.1:${ports.dns}`, transport: "tcp" },
    { kind: "http", id: "by-name", host: "api.world.test", port: ports.http ?? 0, dnsServer: `127.0.0.1:${ports.dns}` },
    { kind: "tcp", id: "closed-tcp", host: "127.0.0.1", port: 1 },
    { kind: "udp", id: "closed-udp", host: "127.0.0.1", port: 9 },
    { kind: "dns", id: "nx", name: "nope.world.test", server: `127.0.0.1:${ports.dns}` },
    { kind: "dns", id: "refused", name: "example.com", server: `127.0.0.1:${ports.dns}` },
    { kind: "http", id: "denied", host: "127.0.0.1", port: proxyPort },
  ]);
  assert.equal(httpR?.outcome, "ALLOWED");
  assert.equal(httpR?.http?.status, 200);
  assert.deepEqual(httpR?.http?.echo?.client, { address: httpR?.source.address, port: httpR?.source.port });
  assert.equal(httpR?.http?.echo?.headers["x-conform-test"], "yes");
  assert.equal(httpR?.http?.echo?.path, "/hello");
  assert.equal(httpR?.http?.echo?.pod, "echo");
  assert.ok((httpR?.timings.connectMs ?? -1) >= 0);

  assert.deepEqual([teapot?.outcome, teapot?.http?.status, teapot?.http?.statusMatches], ["ALLOWED", 418, true]);
  assert.deepEqual([tcpR?.outcome, tcpR?.tcp], ["ALLOWED", { bytesSent: 9, bytesReceived: 9, echoMatches: true }]);
  assert.deepEqual([udpR?.outcome, udpR?.udp], ["ALLOWED", { bytesSent: 8, bytesReceived: 8, echoMatches: true }]);
  for (const d of [dnsR, dnsTcp]) {
    assert.equal(d?.outcome, "ALLOWED");
    assert.deepEqual(d?.dns?.answers.map((a) => a.data), ["127.0.0.1"]);
    assert.equal(d?.dns?.source.port, d?.source.port);
    assert.ok(d?.source.port);
  }
  assert.equal(byName?.outcome, "ALLOWED");
  assert.equal(byName?.destination.address, "127.0.0.1");
  assert.ok(byName?.dns?.source.port, "the resolution query's own source port is reported");
  assert.ok(byName?.timings.dnsMs !== undefined);
  assert.equal(closedTcp?.outcome, "REJECTED");
  assert.equal(closedUdp?.outcome, "REJECTED");
  assert.ok(closedTcp?.source.port && closedUdp?.source.port, "source ports are known for refused probes too");
  assert.deepEqual([nx?.outcome, nx?.dns?.rcode], ["DNS_FAILED", "NXDOMAIN"]);
  assert.deepEqual([refused?.outcome, refused?.dns?.rcode], ["DNS_FAILED", "REFUSED"]);
  assert.deepEqual([denied?.outcome, denied?.http?.status], ["L7_DENIED", 403]);
});

test("silence is TIMEOUT with the source port still known; a name that does not resolve is DNS_FAILED", async () => {
  const [udp, mute, unresolved] = await run([
    { kind: "udp", id: "silent", host: "127.0.0.1", port: silentUdpPort, timeoutMs: 200 },
    { kind: "http", id: "mute", host: "127.0.0.1", port: mutePort, timeoutMs: 200 },
    { kind: "tcp", id: "unresolved", host: "nope.world.test", port: 80, dnsServer: `127.0.0.1:${ports.dns}` },
  ]);
  assert.equal(udp?.outcome, "TIMEOUT");
  assert.ok(udp?.source.port);
  assert.equal(mute?.outcome, "TIMEOUT");
  assert.match(mute?.detail ?? "", /connected, but no complete HTTP response/);
  assert.deepEqual([unresolved?.outcome, unresolved?.dns?.rcode], ["DNS_FAILED", "NXDOMAIN"]);
});

test("distinct source ports per probe; a pinned port that is taken is PROBE_ERROR", async () => {
  const taken = net.createServer();
  const takenPort = await listenOn(taken);
  try {
    const results = await run([
      ...Array.from({ length: 20 }, (_, i): ProbeInput => ({ kind: "tcp", id: `t${i}`, host: "127.0.0.1", port: ports.tcp ?? 0 })),
      { kind: "tcp", id: "pinned", host: "127.0.0.1", port: ports.tcp ?? 0, sourcePort: takenPort },
    ]);
    const ok = results.slice(0, 20);
    assert.ok(ok.every((r) => r.outcome === "ALLOWED"));
    assert.equal(new Set(ok.map((r) => r.source.port)).size, 20);
    const pinned = results[20];
    assert.equal(pinned?.outcome, "PROBE_ERROR");
    assert.match(pinned?.detail ?? "", /could not bind the local socket: EADDRINUSE/);
  } finally {
    taken.close();
  }
});

test("the batch deadline makes unfinished probes PROBE_ERROR, never TIMEOUT", async () => {
  const results = await run(
    [
      { kind: "udp", id: "running", host: "127.0.0.1", port: silentUdpPort, timeoutMs: 5000 },
      { kind: "udp", id: "queued", host: "127.0.0.1", port: silentUdpPort, timeoutMs: 5000 },
    ],
    { concurrency: 1, deadlineMs: 200 },
  );
  assert.deepEqual(results.map((r) => r.outcome), ["PROBE_ERROR", "PROBE_ERROR"]);
  assert.match(results[0]?.detail ?? "", /deadline of 200 ms passed while the probe ran/);
  assert.match(results[1]?.detail ?? "", /deadline of 200 ms passed before the probe started/);
});

function runCli(input: string, endStdin: boolean): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [probeMainPath(), "batch", "--deadline-ms", "5000"], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.write(input);
    if (endStdin) child.stdin.end();
  });
}

test("CLI: one line on a stdin that stays open is enough (Kubernetes exec v4 cannot close stdin)", async () => {
  const out = await runCli(`${JSON.stringify([{ kind: "tcp", id: "a", host: "127.0.0.1", port: ports.tcp }])}\n`, false);
  assert.equal(out.code, 0, out.stderr);
  const doc = BatchOutputSchema.parse(JSON.parse(out.stdout));
  assert.deepEqual(doc.results.map((r) => r.outcome), ["ALLOWED"]);
});

test("CLI: unreadable input exits 2 with a document naming the problem", async () => {
  const out = await runCli("this is not json", true);
  assert.equal(out.code, 2);
  const doc = BatchOutputSchema.parse(JSON.parse(out.stdout));
  assert.deepEqual(doc.results, []);
  assert.match(doc.error ?? "", /^<stdin>(:\d+:\d+)?: not valid JSON/);
  const empty = await runCli("", true);
  assert.match(BatchOutputSchema.parse(JSON.parse(empty.stdout)).error ?? "", /empty input/);
});
