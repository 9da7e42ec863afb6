// Runs every compiled `*.bench.js` in its own process, one after another, and lets each print
// its own figures. Benchmarks print ratios measured side by side; nothing here asserts a time.
//
//   node dist/harness/dev/run-bench.js [substring…]
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, relative, resolve } from "node:path";
import { findFiles } from "./find-files.js";

const distRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const filters = process.argv.slice(2);
const files = findFiles(distRoot, ".bench.js").filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
let failed = 0;
for (const file of files) {
  console.log(`\n## ${relative(distRoot, file).replace(/\.js$/, ".ts")}`);
  const r = spawnSync(process.execPath, ["--enable-source-maps", file], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
if (failed > 0) {
  console.error(`${failed} benchmark(s) failed`);
  process.exit(1);
}
