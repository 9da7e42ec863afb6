// Probe batch throughput and per-exec overhead between two network namespaces, measured side by
// side in one run. Needs root. Prints figures; asserts nothing about time.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { NetnsProbeExecutor } from "./netns-executor.js";
import type { ProbeInput, ProbeResult } from "./schema.js";
import { createNetnsPair, isRoot, PAIR_ADDR } from "./testing/netns-pair.js";

const run = promisify(execFile);
const REPEAT = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

/** Time the probes themselves took inside the batch process (first start to last end). */
function inBatchMs(results: ProbeResult[]): number {
  return Math.max(...results.map((r) => r.timings.startMs + r.timings.totalMs));
}

if (!(await isRoot())) {
  console.log("skipped: needs root (netns, veth)");
  process.exit(0);
}

const pair = await createNetnsPair("pbench");
try {
  await pair.startServer(["--tcp", "9000"]);
  const executor = new NetnsProbeExecutor({ resolveNetns: () => pair.b });
  const pod = { namespace: "bench", name: "client" };
  const tcp = (n: number): ProbeInput[] => Array.from({ length: n }, (_, i) => ({ kind: "tcp", id: `p${i}`, host: PAIR_ADDR.server, port: 9000 }));

  await executor.runBatch(pod, tcp(5)); // warm the page cache and the server

  // Per-exec overhead: what one batch costs beyond its probes, next to its parts.
  const spawnTrue: number[] = [];
  const nodeEmpty: number[] = [];
  const oneProbe: number[] = [];
  const oneProbeInside: number[] = [];
  for (let i = 0; i < REPEAT * 2; i++) {
    spawnTrue.push((await timed(() => run("ip", ["netns", "exec", pair.b, "true"]))).ms);
    nodeEmpty.push((await timed(() => run("ip", ["netns", "exec", pair.b, process.execPath, "-e", "0"]))).ms);
    const r = await timed(() => executor.runBatch(pod, tcp(1)));
    if (r.value[0]?.outcome !== "ALLOWED") throw new Error(`probe failed: ${r.value[0]?.detail}`);
    oneProbe.push(r.ms);
    oneProbeInside.push(inBatchMs(r.value));
  }
  const overhead = median(oneProbe) - median(oneProbeInside);
  console.log("per-exec overhead (median of %d)", REPEAT * 2);
  console.log(`  ip netns exec true            ${median(spawnTrue).toFixed(1)} ms`);
  console.log(`  ip netns exec node -e 0       ${median(nodeEmpty).toFixed(1)} ms`);
  console.log(`  runBatch, 1 TCP probe         ${median(oneProbe).toFixed(1)} ms (probe itself ${median(oneProbeInside).toFixed(2)} ms)`);
  console.log(`  overhead per batch exec       ${overhead.toFixed(1)} ms = ${(overhead / median(nodeEmpty)).toFixed(2)}x a bare node start`);

  console.log("\nthroughput, batch of 100 TCP connect probes (median of %d)", REPEAT);
  console.log("  concurrency  wall ms  probes/s (incl. exec)  probes/s (inside the batch)");
  const rows: { c: number; pps: number }[] = [];
  for (const concurrency of [1, 16, 64]) {
    const wall: number[] = [];
    const inside: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const r = await timed(() => executor.runBatch(pod, tcp(100), { concurrency }));
      const failed = r.value.filter((x) => x.outcome !== "ALLOWED");
      if (failed.length > 0) throw new Error(`${failed.length} probes failed: ${failed[0]?.detail}`);
      wall.push(r.ms);
      inside.push(inBatchMs(r.value));
    }
    const pps = 100 / (median(wall) / 1000);
    rows.push({ c: concurrency, pps });
    console.log(
      `  ${String(concurrency).padStart(11)}  ${median(wall).toFixed(0).padStart(7)}  ${pps.toFixed(0).padStart(21)}  ${(100 / (median(inside) / 1000)).toFixed(0).padStart(27)}`,
    );
  }
  const seq = rows.find((r) => r.c === 1)?.pps ?? NaN;
  const par = rows.find((r) => r.c === 16)?.pps ?? NaN;
  console.log(`\n  one batch of 100 at concurrency 16 vs 100 one-probe execs: ${((100 * median(oneProbe)) / (100_000 / par)).toFixed(1)}x faster`);
  console.log(`  concurrency 16 vs 1: ${(par / seq).toFixed(2)}x`);
} finally {
  await pair.destroy();
}
