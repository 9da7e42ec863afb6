// `conform run` on the default suites against a warm local cluster (--keep): wall time per run,
// the probe-cell rate (cells per second of the whole run, and per second of probing alone), and
// where a scenario's time goes (fixtures, steps, cleanup). Printed, never asserted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downCluster } from "../cluster/local/down.js";
import { readState } from "../cluster/local/state.js";
import { runConform } from "./run.js";

const name = `rnbench${process.pid}`;
const RUNS = 3;
const outDir = mkdtempSync(join(tmpdir(), "conform-run-bench-"));
const quiet = { write: () => true };
const phases = new Map<string, number[]>();
let probePhaseMs = 0;

async function once(record: boolean): Promise<{ seconds: number; cells: number; exitCode: number }> {
  const t0 = performance.now();
  const result = await runConform({
    paths: [],
    cluster: "local",
    name,
    keep: true,
    audit: false,
    reporters: ["json"],
    outputDir: outDir,
    parallel: 4,
    stdout: quiet,
    stderr: quiet,
    onPhase: (_scenario, phase, ms) => {
      if (!record) return;
      phases.set(phase, [...(phases.get(phase) ?? []), ms]);
      if (phase !== "fixtures" && phase !== "cleanup") probePhaseMs += ms;
    },
  });
  return { seconds: (performance.now() - t0) / 1000, cells: result.report?.summary.cells.total ?? 0, exitCode: result.exitCode };
}

try {
  // The first run creates the cluster (kept); it is the cold one and is not measured.
  const cold = await once(false);
  if (cold.exitCode !== 0) throw new Error(`the default suites did not pass (exit ${cold.exitCode}); nothing to measure`);
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once(true));
  const cells = runs[0]!.cells;
  const walls = runs.map((r) => r.seconds).sort((a, b) => a - b);
  const median = walls[Math.floor(walls.length / 2)]!;
  const totalCells = runs.reduce((n, r) => n + r.cells, 0);
  const totalWall = runs.reduce((n, r) => n + r.seconds, 0);
  console.log(`default suites on a warm local cluster: ${cells} cells, ${RUNS} runs`);
  console.log(`wall time per run: median ${median.toFixed(2)} s (min ${walls[0]!.toFixed(2)}, max ${walls[walls.length - 1]!.toFixed(2)}); first run incl. cluster up: ${cold.seconds.toFixed(1)} s`);
  console.log(`probe-cell rate: ${(totalCells / totalWall).toFixed(1)} cells/s over the whole run, ${(totalCells / (probePhaseMs / 1000)).toFixed(1)} cells/s while probing (steps only)`);
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`scenario time by phase (mean per run): ${[...phases].map(([p, xs]) => `${p} ${(avg(xs) / 1000).toFixed(2)} s`).join(", ")}`);
} finally {
  if (readState(name)) await downCluster(name);
  rmSync(outDir, { recursive: true, force: true });
}
