// Golden-file assertions for reporter tests. Goldens live in the source tree next to this file;
// `UPDATE_GOLDEN=1` rewrites them from the current output instead of comparing.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, from this file's compiled location (dist/harness/report/testdata). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const GOLDEN_DIR = join(REPO_ROOT, "harness", "report", "testdata");

export function assertGolden(name: string, actual: string): void {
  const file = join(GOLDEN_DIR, `${name}.golden`);
  if (process.env.UPDATE_GOLDEN === "1") {
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `missing golden file ${file}; run with UPDATE_GOLDEN=1 to create it`);
  assert.equal(actual, readFileSync(file, "utf8"), `output differs from ${file} (UPDATE_GOLDEN=1 rewrites it after review)`);
}
