import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runLint } from "./lint.js";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const TESTDATA = join(REPO_ROOT, "harness", "spec", "testdata");

function lint(paths: string[]): { code: number; out: string } {
  let out = "";
  const code = runLint(paths, { stdout: (t) => (out += t) }, TESTDATA);
  return { code, out };
}

describe("conform lint", () => {
  it("passes valid specs with exit 0", () => {
    assert.deepEqual(lint(["valid"]), { code: 0, out: "2 scenarios in 1 file: ok\n" });
  });

  it("prints every error and exits 2", () => {
    const { code, out } = lint(["typo-from.yaml", "valid/policies", "missing.yaml"]);
    assert.equal(code, 2);
    assert.equal(
      out,
      [
        "typo-from.yaml:14: spec.steps[1].expect.matrix.form: unknown field",
        "valid/policies: no Scenario documents found (in *.yaml/*.yml files)",
        "missing.yaml: no such file or directory",
        "",
      ].join("\n"),
    );
  });

  it("works end to end through the conform binary (the tracker's acceptance check)", () => {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, "bin", "conform.js"), "lint", "typo-from.yaml"], { cwd: TESTDATA, encoding: "utf8" });
    assert.equal(result.stdout, "typo-from.yaml:14: spec.steps[1].expect.matrix.form: unknown field\n");
    assert.equal(result.stderr, "");
    assert.equal(result.status, 2);
    const valid = spawnSync(process.execPath, [join(REPO_ROOT, "bin", "conform.js"), "lint", "valid"], { cwd: TESTDATA, encoding: "utf8" });
    assert.equal(valid.status, 0, valid.stdout + valid.stderr);
  });
});
