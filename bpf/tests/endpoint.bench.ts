// Benchmark of bpf/endpoint.c and native/ (printed, never asserted):
//  1. TCP request/response, connect/request/response and stream throughput between two pod
//     netns with the programs attached (1,000 policy entries, both directions enforced,
//     per-connection events consumed), divided by the same on bare veths. Side by side,
//     alternating, median of rounds.
//  2. Event decode rate and loss at 100k/s and 1M/s offered (BPF_PROG_TEST_RUN repeat).
//  3. Policy map writes: 10k entries through one batch update, versus one syscall each.
import { spawn, type ChildProcess } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { Direction, ENDPOINT_PROGRAMS, EndpointFlag, EnforcementMode, IpProto, PolicyAction, TraceMode } from "../../native/abi.js";
import { BpfObject } from "../../native/bpf-object.js";
import { TypedMap } from "../../native/bpf-map.js";
import { policyKeyCodec, policyValueCodec, type CfPolicyKey, type CfPolicyValue } from "../../native/codecs.js";
import { decodeEventBatch } from "../../native/events.js";
import { bpfObjectPath } from "../../native/paths.js";
import { median, NETBENCH, runNetbench } from "./bench/netbench.js";
import { enableRunStats, programRunStats } from "../../native/prog-stats.js";
import { RingBufferReader } from "../../native/ringbuf.js";
import { ifIndex, tcAttach, tcRemoveClsact } from "../../native/tc.js";
import { skbContext, testRunAsync } from "../../native/test-run.js";
import { EndpointFixture } from "./endpoint-fixture.js";
import { createTopology, destroyTopology, type Topology } from "./helpers/netns-topology.js";
import { frame, TCP } from "./packets.js";

const ROUNDS = Number(process.env.CF_BENCH_ROUNDS ?? 6);
const SECONDS = Number(process.env.CF_BENCH_SECONDS ?? 1);
const PORT = 9000;

type Config = "bare" | "noop" | "bpf";
const CONFIGS: readonly Config[] = ["bare", "noop", "bpf"];

/** One client/server pod pair (a list, so more pairs can be added for other experiments). */
const PAIRS = [0].map((i) => ({
  a: { name: `a${i}`, ip: `10.244.9.${10 + 10 * i}`, hostIf: `cfba${i}`, epId: 1 + 2 * i, identity: 1001 + 2 * i },
  b: { name: `b${i}`, ip: `10.244.9.${11 + 10 * i}`, hostIf: `cfbb${i}`, epId: 2 + 2 * i, identity: 1002 + 2 * i },
}));


function sh(netns: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    spawn("ip", ["netns", "exec", netns, ...args], { stdio: "ignore" }).on("close", (c) => (c === 0 ? resolve() : reject(new Error(`${args.join(" ")} failed`)))),
  );
}

async function trafficBench(): Promise<void> {
  const prefix = `cft-bpfb-${process.pid}`;
  let topo: Topology | undefined;
  let f: EndpointFixture | undefined;
  let noop: BpfObject | undefined;
  const servers: ChildProcess[] = [];
  const loadAtStart = loadavg()[0]?.toFixed(1);
  let events = 0;
  try {
    topo = createTopology(
      prefix,
      "10.244.9.1",
      PAIRS.flatMap((p) => [p.a, p.b]),
    );
    const node = topo.node;
    const ns = (name: string) => topo?.pods[name]?.netns ?? "";
    f = new EndpointFixture({ globals: { cfg_trace_mode: TraceMode.firstPerConnection }, events: false });
    const reader = RingBufferReader.open(f.obj.map("cf_events_v1"), (batch) => (events += decodeEventBatch(batch).events.length));
    noop = BpfObject.load(bpfObjectPath("tests/noop"));
    const noopProg = noop.program("cft_noop");
    const idx: Record<string, number> = {};
    // The policy below has no deny entries, so the agent's no-deny hint applies.
    const flags = EndpointFlag.noDenyIngress | EndpointFlag.noDenyEgress;
    const entries: Array<[CfPolicyKey, CfPolicyValue]> = [];
    for (const pair of PAIRS) {
      for (const ep of [pair.a, pair.b]) {
        idx[ep.name] = ifIndex(ep.hostIf, node);
        f.setIdentity(`${ep.ip}/32`, ep.identity);
        f.setEndpoint(idx[ep.name] ?? 0, { epId: ep.epId, identity: ep.identity, ipv4: ep.ip, egressMode: EnforcementMode.enforce, ingressMode: EnforcementMode.enforce, flags });
      }
      for (const port of [PORT, PORT + 1, PORT + 2]) {
        entries.push([{ epId: pair.a.epId, identity: pair.b.identity, dport: port, proto: IpProto.tcp, direction: Direction.egress }, { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: 1 }]);
        entries.push([{ epId: pair.b.epId, identity: pair.a.identity, dport: port, proto: IpProto.tcp, direction: Direction.ingress }, { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: 2 }]);
      }
    }
    // Fill up to 1,000 entries with rules for other peers and ports of the same endpoints.
    for (let i = 0; entries.length < 1000; i++) {
      entries.push([
        { epId: 1 + (i % (2 * PAIRS.length)), identity: 5000 + i, dport: 1000 + (i % 50), proto: IpProto.tcp, direction: i % 2 ? Direction.ingress : Direction.egress },
        { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: i },
      ]);
    }
    f.policy.setMany(entries);
    for (const pair of PAIRS) {
      // Standard CRR closes from the client; let its netns re-use TIME_WAIT ports.
      await sh(ns(pair.a.name), ["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1"]);
      const srv = spawn("ip", ["netns", "exec", ns(pair.b.name), NETBENCH, "server", String(PORT)]);
      servers.push(srv);
      await new Promise<void>((resolve) => srv.stdout.once("data", () => resolve()));
    }
    const configure = (pairIndex: number, cfg: Config) => {
      const pair = PAIRS[pairIndex];
      if (!pair) return;
      for (const ep of [pair.a, pair.b]) {
        const i = idx[ep.name] ?? 0;
        if (cfg === "bare") {
          tcRemoveClsact(i, node);
          continue;
        }
        tcAttach({ ifindex: i, hook: "ingress", program: cfg === "bpf" ? f!.obj.program(ENDPOINT_PROGRAMS.fromEndpoint.name) : noopProg, netns: node });
        tcAttach({ ifindex: i, hook: "egress", program: cfg === "bpf" ? f!.obj.program(ENDPOINT_PROGRAMS.toEndpoint.name) : noopProg, netns: node });
      }
    };

    type Metric = "rr" | "crr" | "stream";
    const args = (metric: Metric, pairIndex: number): string[] => {
      const ip = PAIRS[pairIndex]?.b.ip ?? "";
      if (metric === "rr") return ["rr", ip, String(PORT), String(SECONDS), "1"];
      if (metric === "crr") return ["crr", ip, String(PORT + 2), String(SECONDS)];
      return ["stream", ip, String(PORT + 1), String(SECONDS)];
    };
    const results = Object.fromEntries((["rr", "crr", "stream"] as const).map((m) => [m, { bare: [] as number[], noop: [] as number[], bpf: [] as number[] }])) as Record<
      Metric,
      Record<Config, number[]>
    >;
    const ratio = { rr: [] as number[], crr: [] as number[], stream: [] as number[] };
    const noopRatio = { rr: [] as number[], crr: [] as number[], stream: [] as number[] };
    // Configurations back to back per metric, in rotating order, so drifting load from
    // elsewhere on the machine hits all alike; ratios are medians of per-round ratios.
    for (let round = 0; round < ROUNDS; round++) {
      const order = CONFIGS.map((_, i) => CONFIGS[(i + round) % 3] as Config);
      for (const metric of ["rr", "crr", "stream"] as const) {
        const by: Partial<Record<Config, number>> = {};
        for (const cfg of order) {
          configure(0, cfg);
          by[cfg] = await runNetbench(ns(PAIRS[0]?.a.name ?? ""), args(metric, 0));
        }
        for (const cfg of CONFIGS) results[metric][cfg].push(by[cfg] ?? NaN);
        ratio[metric].push((by.bpf ?? NaN) / (by.bare ?? NaN));
        noopRatio[metric].push((by.noop ?? NaN) / (by.bare ?? NaN));
      }
    }

    // In-kernel cost of the programs per packet and per transaction, from the kernel's own
    // run-time accounting, with the datapath pair running alone.
    configure(0, "bpf");
    const progs = [f.obj.program(ENDPOINT_PROGRAMS.fromEndpoint.name), f.obj.program(ENDPOINT_PROGRAMS.toEndpoint.name)];
    const cost: Record<string, string> = {};
    const disable = enableRunStats();
    try {
      for (const metric of ["rr", "crr"] as const) {
        const before = progs.map((p) => programRunStats(p));
        const rate = await runNetbench(ns(PAIRS[0]?.a.name ?? ""), args(metric, 0));
        const after = progs.map((p) => programRunStats(p));
        const ns_ = after.reduce((n, a, i) => n + Number(a.runTimeNs - (before[i]?.runTimeNs ?? 0n)), 0);
        const runs = after.reduce((n, a, i) => n + Number(a.runCount - (before[i]?.runCount ?? 0n)), 0);
        const perUnitUs = ns_ / (rate * SECONDS) / 1e3;
        // A latency-bound transaction gets longer by the programs' time: this is the ratio
        // the in-kernel cost alone implies against the measured bare rate.
        const bareUs = 1e6 / median(results[metric].bare);
        cost[metric] =
          `${(ns_ / runs).toFixed(0)} ns/run, ${(runs / (rate * SECONDS)).toFixed(1)} runs per transaction, ${perUnitUs.toFixed(2)} us per transaction; ` +
          `bare transaction ${bareUs.toFixed(1)} us -> implied bpf/bare ${(bareUs / (bareUs + perUnitUs)).toFixed(3)}`;
      }
    } finally {
      disable();
    }
    PAIRS.forEach((_, i) => configure(i, "bare"));
    await sleep(100);
    const drops = [133, 181].reduce((n, code) => n + Number(f!.counter(0, code).packets + f!.counter(1, code).packets), 0);
    console.log(`\n### TCP between two pod netns: bare veth, a noop tc program, the datapath`);
    console.log(`(${ROUNDS} rounds x ${SECONDS}s, order rotating; medians of per-round ratios; load average ${loadAtStart} -> ${loadavg()[0]?.toFixed(1)} on ${cpus().length} CPUs)`);
    console.log(`policy entries: ${entries.length}, both directions enforced (no-deny hint set), trace mode 1 (per connection), events consumed`);
    const row = (name: string, key: Metric, unit: string, scale: number) => {
      const r = results[key];
      const rs = [...ratio[key]].sort((a, b) => a - b);
      const fmt = (xs: number[]) => (median(xs) / scale).toFixed(1).padStart(6);
      console.log(
        `${name.padEnd(24)} bare ${fmt(r.bare)}  noop-tc ${fmt(r.noop)}  bpf ${fmt(r.bpf)} ${unit}  ` +
          `bpf/bare ${median(ratio[key]).toFixed(3)} (rounds ${rs[0]?.toFixed(2)}..${rs.at(-1)?.toFixed(2)})  noop/bare ${median(noopRatio[key]).toFixed(3)}`,
      );
    };
    row("request/response (1 B)", "rr", "k trans/s", 1e3);
    row("connect/req/resp/close", "crr", "k conn/s", 1e3);
    row("stream (64 KiB writes)", "stream", "Gbit/s", 1e9 / 8);
    for (const [m, c] of Object.entries(cost)) console.log(`in-kernel program cost (${m}, kernel run-time stats): ${c}`);
    console.log(`events decoded: ${events}, lost: ${f.lostEvents()}, policy drops: ${drops} (stragglers of connections opened while a pair was bare), reader stats: ${JSON.stringify(reader.stats())}`);
    reader.close();
  } finally {
    for (const s of servers) if (s.pid && s.exitCode === null) process.kill(s.pid, "SIGTERM");
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
