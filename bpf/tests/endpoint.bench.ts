// Benchmark of bpf/endpoint.c and native/ (printed, never asserted):
//  1. TCP request/response, connect/request/response and stream throughput between two pod
//     netns with the programs attached (1,000 policy entries, both directions enforced,
//     per-connection events consumed), divided by the same on bare veths. Side by side,
//     alternating, median of rounds.
//  2. Event decode rate and loss at 100k/s and 1M/s offered (BPF_PROG_TEST_RUN repeat).
//  3. Policy map writes: 10k entries through one batch update, versus one syscall each.
import { spawn, type ChildProcess } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Direction, ENDPOINT_PROGRAMS, EnforcementMode, IpProto, PolicyAction, TraceMode } from "../../native/abi.js";
import { BpfObject } from "../../native/bpf-object.js";
import { TypedMap } from "../../native/bpf-map.js";
import { policyKeyCodec, policyValueCodec, type CfPolicyKey, type CfPolicyValue } from "../../native/codecs.js";
import { decodeEventBatch } from "../../native/events.js";
import { bpfObjectPath, repoRoot } from "../../native/paths.js";
import { RingBufferReader } from "../../native/ringbuf.js";
import { ifIndex, tcAttach, tcRemoveClsact } from "../../native/tc.js";
import { skbContext, testRunAsync } from "../../native/test-run.js";
import { EndpointFixture } from "./endpoint-fixture.js";
import { createTopology, destroyTopology, type Topology } from "./helpers/netns-topology.js";
import { frame, TCP } from "./packets.js";

const tool = join(repoRoot(), "bpf", "build", "tools", "cf-netbench");
const ROUNDS = Number(process.env.CF_BENCH_ROUNDS ?? 8);
const SECONDS = Number(process.env.CF_BENCH_SECONDS ?? 1);
const PORT = 9000;

const A = { name: "a", ip: "10.244.9.10", hostIf: "cfba", epId: 1, identity: 1001 };
const B = { name: "b", ip: "10.244.9.11", hostIf: "cfbb", epId: 2, identity: 1002 };

type Config = "bare" | "noop" | "bpf";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function runTool(netns: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", netns, tool, ...args]);
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("close", (code) => {
      const [, count, secs] = out.trim().split(" ");
      if (code !== 0 || !count || !secs) reject(new Error(`cf-netbench ${args.join(" ")}: exit ${code}: ${err}`));
      else resolve(Number(count) / Number(secs));
    });
  });
}

async function trafficBench(): Promise<void> {
  const prefix = `cft-bpfb-${process.pid}`;
  let topo: Topology | undefined;
  let f: EndpointFixture | undefined;
  let server: ChildProcess | undefined;
  let noop: BpfObject | undefined;
  const loadAtStart = loadavg()[0]?.toFixed(1);
  let events = 0;
  try {
    topo = createTopology(prefix, "10.244.9.1", [A, B]);
    const na = topo.pods.a?.netns ?? "";
    const node = topo.node;
    f = new EndpointFixture({ globals: { cfg_trace_mode: TraceMode.firstPerConnection }, events: false });
    const reader = RingBufferReader.open(f.obj.map("cf_events_v1"), (batch) => (events += decodeEventBatch(batch).events.length));
    const idx = { a: ifIndex(A.hostIf, node), b: ifIndex(B.hostIf, node) };
    f.setIdentity(`${A.ip}/32`, A.identity);
    f.setIdentity(`${B.ip}/32`, B.identity);
    f.setEndpoint(idx.a, { epId: A.epId, identity: A.identity, ipv4: A.ip, egressMode: EnforcementMode.enforce, ingressMode: EnforcementMode.enforce });
    f.setEndpoint(idx.b, { epId: B.epId, identity: B.identity, ipv4: B.ip, egressMode: EnforcementMode.enforce, ingressMode: EnforcementMode.enforce });
    // 1,000 entries for other peers and ports, plus the ones this traffic needs.
    const entries: Array<[CfPolicyKey, CfPolicyValue]> = [];
    for (let i = 0; i < 994; i++) {
      entries.push([{ epId: 1 + (i % 2), identity: 5000 + i, dport: 1000 + (i % 50), proto: IpProto.tcp, direction: i % 2 ? Direction.ingress : Direction.egress }, { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: i }]);
    }
    for (const port of [PORT, PORT + 1, PORT + 2]) {
      entries.push([{ epId: A.epId, identity: B.identity, dport: port, proto: IpProto.tcp, direction: Direction.egress }, { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: 1 }]);
      entries.push([{ epId: B.epId, identity: A.identity, dport: port, proto: IpProto.tcp, direction: Direction.ingress }, { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: 2 }]);
    }
    f.policy.setMany(entries);
    const srv = spawn("ip", ["netns", "exec", topo.pods.b?.netns ?? "", tool, "server", String(PORT)]);
    server = srv;
    await new Promise<void>((resolve) => srv.stdout.once("data", () => resolve()));

    noop = BpfObject.load(bpfObjectPath("tests/noop"));
    const noopProg = noop.program("cft_noop");
    const configure = (cfg: Config) => {
      for (const i of [idx.a, idx.b]) {
        if (cfg === "bare") {
          tcRemoveClsact(i, node);
          continue;
        }
        const from = cfg === "bpf" ? f!.obj.program(ENDPOINT_PROGRAMS.fromEndpoint.name) : noopProg;
        const to = cfg === "bpf" ? f!.obj.program(ENDPOINT_PROGRAMS.toEndpoint.name) : noopProg;
        tcAttach({ ifindex: i, hook: "ingress", program: from, netns: node });
        tcAttach({ ifindex: i, hook: "egress", program: to, netns: node });
      }
    };
    await new Promise<void>((resolve, reject) =>
      spawn("ip", ["netns", "exec", na, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"]).on("close", (c) => (c === 0 ? resolve() : reject(new Error("sysctl")))),
    );
    type Metric = "rr" | "crr" | "stream";
    const args: Record<Metric, string[]> = {
      rr: ["rr", B.ip, String(PORT), String(SECONDS), "1"],
      crr: ["crr", B.ip, String(PORT + 2), String(SECONDS)],
      stream: ["stream", B.ip, String(PORT + 1), String(SECONDS)],
    };
    const results = Object.fromEntries(
      (["rr", "crr", "stream"] as const).map((m) => [m, { bare: [] as number[], noop: [] as number[], bpf: [] as number[], ratio: [] as number[], noopRatio: [] as number[] }]),
    ) as Record<Metric, Record<Config | "ratio" | "noopRatio", number[]>>;
    // The three configurations back to back per metric, in rotating order, so load from
    // elsewhere on the machine hits all alike; ratios are medians of per-round ratios.
    const orders: Config[][] = [
      ["bare", "noop", "bpf"],
      ["bpf", "bare", "noop"],
      ["noop", "bpf", "bare"],
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (const metric of ["rr", "crr", "stream"] as const) {
        const got: Partial<Record<Config, number>> = {};
        for (const cfg of orders[round % 3] ?? []) {
          configure(cfg);
          got[cfg] = await runTool(na, args[metric]);
        }
        const r = results[metric];
        r.bare.push(got.bare ?? NaN);
        r.noop.push(got.noop ?? NaN);
        r.bpf.push(got.bpf ?? NaN);
        r.ratio.push((got.bpf ?? NaN) / (got.bare ?? NaN));
        r.noopRatio.push((got.noop ?? NaN) / (got.bare ?? NaN));
      }
    }
    configure("bare");
    await sleep(100);
    const drops = [133, 181].reduce((n, code) => n + Number(f!.counter(0, code).packets + f!.counter(1, code).packets), 0);
    console.log(`\n### TCP between two pod netns (${ROUNDS} interleaved rounds x ${SECONDS}s; medians; load average ${loadAtStart} -> ${loadavg()[0]?.toFixed(1)})`);
    console.log(`policy entries: ${entries.length}, both directions enforced, trace mode 1 (per connection), events consumed`);
    const row = (name: string, key: Metric, unit: string, scale: number) => {
      const r = results[key];
      const ratios = [...r.ratio].sort((a, b) => a - b);
      const fmt = (xs: number[]) => (median(xs) / scale).toFixed(1).padStart(6);
      console.log(
        `${name.padEnd(24)} bare ${fmt(r.bare)}  noop-tc ${fmt(r.noop)}  bpf ${fmt(r.bpf)} ${unit}  ` +
          `bpf/bare ${median(r.ratio).toFixed(3)} (rounds ${ratios[0]?.toFixed(2)}..${ratios.at(-1)?.toFixed(2)})  noop/bare ${median(r.noopRatio).toFixed(3)}`,
      );
    };
    row("request/response (1 B)", "rr", "k trans/s", 1e3);
    row("connect/req/resp/close", "crr", "k conn/s", 1e3);
    row("stream (64 KiB writes)", "stream", "Gbit/s", 1e9 / 8);
    console.log(`events decoded: ${events}, lost: ${f.lostEvents()}, policy drops: ${drops}, reader stats: ${JSON.stringify(reader.stats())}`);
    reader.close();
  } finally {
    if (server?.pid && server.exitCode === null) process.kill(server.pid, "SIGTERM");
    noop?.close();
    f?.close();
    if (topo) destroyTopology(topo);
  }
}

async function eventBench(): Promise<void> {
  console.log(`\n### Events: offered by BPF_PROG_TEST_RUN repeat, decoded into objects in JS`);
  for (const rate of [100_000, 1_000_000]) {
    const f = new EndpointFixture({ globals: { cfg_trace_mode: TraceMode.everyPacket }, events: false });
    try {
      f.setEndpoint(1, { epId: 1, identity: 1001 });
      let received = 0;
      let decodeNs = 0n;
      let lastBatchAt = 0n;
      const reader = RingBufferReader.open(f.obj.map("cf_events_v1"), (batch) => {
        const t0 = process.hrtime.bigint();
        received += decodeEventBatch(batch).events.length;
        lastBatchAt = process.hrtime.bigint();
        decodeNs += lastBatchAt - t0;
      });
      const prog = f.obj.program(ENDPOINT_PROGRAMS.fromEndpoint.name);
      const data = frame({ src: "10.244.0.10", dst: "10.244.0.20", proto: "tcp", sport: 40000, dport: 80, flags: TCP.ack });
      const ctx = skbContext({ ifindex: 1 });
      const seconds = 2;
      const start = process.hrtime.bigint();
      let offered = 0;
      for (;;) {
        const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
        if (elapsed >= seconds) break;
        const due = Math.floor(rate * elapsed) - offered;
        if (due <= 0) {
          await sleep(1);
          continue;
        }
        const n = Math.min(due, rate / 50);
        await testRunAsync(prog, { data, ctx, repeat: n });
        offered += n;
      }
      const offerSecs = Number(process.hrtime.bigint() - start) / 1e9;
      for (let i = 0; i < 100 && received + Number(f.lostEvents()) < offered; i++) await sleep(20);
      const lost = Number(f.lostEvents());
      const spanSecs = Number(lastBatchAt - start) / 1e9;
      console.log(
        `offered ${(rate / 1e3).toFixed(0).padStart(5)}k/s: generated ${(offered / offerSecs / 1e3).toFixed(0)}k/s, received ${received} of ${offered} ` +
          `(${((received / offered) * 100).toFixed(2)}%), lost ${lost}, delivered ${(received / spanSecs / 1e3).toFixed(0)}k/s, ` +
          `decode ${(Number(decodeNs) / Math.max(received, 1)).toFixed(0)} ns/event, batches ${reader.stats().batches}, waits ${reader.stats().queueFullWaits}`,
      );
      reader.close();
    } finally {
      f.close();
    }
  }
}

async function policyUpdateBench(): Promise<void> {
  console.log(`\n### Policy map writes (10k entries)`);
  const obj = BpfObject.load(bpfObjectPath("endpoint"));
  try {
    const policy = new TypedMap(obj.map("cf_policy_v1"), policyKeyCodec, policyValueCodec);
    const entries = (salt: number): Array<[CfPolicyKey, CfPolicyValue]> =>
      Array.from({ length: 10_000 }, (_, i) => [
        { epId: 1 + (i % 20), identity: 256 + i, dport: 1 + (i % 1000), proto: IpProto.tcp, direction: i % 2 },
        { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: i + salt },
      ]);
    const time = (fn: () => void): number => {
      const t0 = process.hrtime.bigint();
      fn();
      return Number(process.hrtime.bigint() - t0) / 1e9;
    };
    const e1 = entries(0);
    const batchInsert = time(() => policy.setMany(e1));
    const e2 = entries(1);
    const batchReplace = time(() => policy.setMany(e2));
    const del = time(() => policy.deleteMany(e1.map(([k]) => k)));
    const single = time(() => {
      for (const [k, v] of e1) policy.set(k, v);
    });
    const rate = (s: number) => `${(10_000 / s / 1e3).toFixed(0).padStart(6)}k entries/s (${(s * 1e3).toFixed(1)} ms)`;
    console.log(`batch insert           ${rate(batchInsert)}`);
    console.log(`batch replace          ${rate(batchReplace)}`);
    console.log(`batch delete           ${rate(del)}`);
    console.log(`one update per entry   ${rate(single)}   (batch speed-up ${(single / batchInsert).toFixed(1)}x)`);
  } finally {
    obj.close();
  }
}

await trafficBench();
await eventBench();
await policyUpdateBench();
