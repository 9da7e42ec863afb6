import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFiles } from "./find-files.js";

test("findFiles walks sub-folders, keeps the suffix and skips node_modules", () => {
  const dir = mkdtempSync(join(tmpdir(), "conform-find-"));
  try {
    mkdirSync(join(dir, "a/b"), { recursive: true });
    mkdirSync(join(dir, "node_modules/x"), { recursive: true });
    for (const f of ["a/one.test.js", "a/b/two.test.js", "a/b/three.js", "node_modules/x/four.test.js"]) writeFileSync(join(dir, f), "");
    assert.deepEqual(findFiles(dir, ".test.js").map((f) => f.slice(dir.length + 1)), ["a/b/two.test.js", "a/one.test.js"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
