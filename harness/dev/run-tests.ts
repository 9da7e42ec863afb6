// Runs every compiled test file with node's test runner in one invocation, so the closing
// summary counts them all. Unit tests (`*.test.ts`) need no privileges; integration tests
// (`*.int.test.ts`) need root, BPF and netns and run real clusters, so files run one at a time.
//
//   node dist/harness/dev/run-tests.js [--unit] [substring…]
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import { findFiles } from "./find-files.js";

const distRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const args = process.argv.slice(2);
const unitOnly = args.includes("--unit");
const filters = args.filter((a) => !a.startsWith("--"));

const files = findFiles(distRoot, ".test.js").filter(
  (f) => (!unitOnly || !f.endsWith(".int.test.js")) && (filters.length === 0 || filters.some((s) => f.includes(s))),
);
if (files.length === 0) {
  console.error("run-tests: no test files matched");
  process.exit(1);
}
// Unit files first: a broken pure module should fail fast, before minutes of cluster tests.
files.sort((a, b) => Number(a.endsWith(".int.test.js")) - Number(b.endsWith(".int.test.js")) || a.localeCompare(b));

const result = spawnSync(
  process.execPath,
  ["--enable-source-maps", "--test", "--test-concurrency=1", "--test-reporter=spec", ...files],
  { stdio: "inherit", env: { ...process.env, CONFORM_TEST: "1" } },
);
process.exit(result.status ?? 1);
