// Runs the API server's own CRD and custom-object validation (kube-check/, built from the
// k8s.io/apiextensions-apiserver release of conform's control plane) over the CRDs and the
// testdata objects. Needs the Go toolchain and its module cache (the control-plane setup fills
// it); the first build takes about 1.5 minutes on two cores, later ones a few seconds.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FIXTURE_DIRECTORIES, loadFixtures } from "./fixtures.js";
import { CRD_DIRECTORY, CRD_FILES } from "./index.js";

interface FieldError {
  field: string;
  type: string;
  detail: string;
}
interface Report {
  crds: { file: string; name: string; errors: FieldError[] }[];
  objects: { file: string; kind: string; name: string; errors: FieldError[] }[];
}

const SOURCE = join(CRD_DIRECTORY, "kube-check");
const SKIPPED_CEL_NOTE = "some validation rules were not checked";

function findGo(): string | undefined {
  for (const candidate of ["go", "/usr/local/go/bin/go"]) {
    if (spawnSync(candidate, ["version"], { encoding: "utf8" }).status === 0) return candidate;
  }
  return undefined;
}

/**
 * The field an error is about. oneOf failures come back without a field and name the object in
 * their detail instead; the "rules were not checked" note names nothing.
 */
function errorPath(e: FieldError): string | undefined {
  if (e.field !== "<nil>" && e.field !== "") return e.field;
  if (e.detail.startsWith(SKIPPED_CEL_NOTE)) return undefined;
  return /^"([^"]+)"/.exec(e.detail)?.[1] ?? "<unattributed>";
}

const describeErrors = (errors: FieldError[]): string => errors.map((e) => `  ${e.type} ${e.field}: ${e.detail}`).join("\n");

describe("CRDs under kube-apiserver's validation code", () => {
  const go = findGo();
  let workDir = "";
  let binary = "";

  before(() => {
    if (go === undefined) return;
    workDir = mkdtempSync(join(tmpdir(), "conform-crd-kube-check-"));
    binary = join(workDir, "crd-kube-check");
    const built = spawnSync(go, ["build", "-mod=readonly", "-o", binary, "."], {
      cwd: SOURCE,
      encoding: "utf8",
      timeout: 15 * 60_000,
    });
    assert.equal(built.status, 0, `go build in ${SOURCE} failed:\n${built.stderr}`);
  });

  after(() => {
    if (workDir !== "") rmSync(workDir, { recursive: true, force: true });
  });

  const run = (t: { skip: (why: string) => void }, ...args: string[]): Report | undefined => {
    if (go === undefined) {
      t.skip("no Go toolchain (go or /usr/local/go/bin/go): the API-server validation check cannot run");
      return undefined;
    }
    const out = spawnSync(binary, args, { encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 });
    assert.equal(out.status, 0, `crd-kube-check failed:\n${out.stderr}`);
    return JSON.parse(out.stdout) as Report;
  };

  it("accepts every conform CRD as a create (structural schema, CEL compile and cost budgets)", (t) => {
    const report = run(t, "-crds", CRD_DIRECTORY);
    if (report === undefined) return;
    assert.deepEqual(report.crds.map((c) => c.file).sort(), [...CRD_FILES].sort());
    for (const crd of report.crds) assert.deepEqual(crd.errors, [], `${crd.file}:\n${describeErrors(crd.errors)}`);
  });

  it("refuses deliberately broken CRDs, so a silent checker cannot pass the test above", (t) => {
    const report = run(t, "-crds", join(CRD_DIRECTORY, "testdata", "broken-crds"));
    if (report === undefined) return;
    const expected: Record<string, RegExp> = {
      "untyped-field.yaml": /must not be empty for specified object fields/,
      "cel-undefined-field.yaml": /undefined field 'prot'/,
      "cel-over-budget.yaml": /exceeds budget/,
      "described-metadata.yaml": /must not specify anything other than name and generateName/,
    };
    assert.deepEqual(report.crds.map((c) => basename(c.file)).sort(), Object.keys(expected).sort());
    for (const crd of report.crds) {
      const pattern = expected[basename(crd.file)]!;
      assert.ok(crd.errors.some((e) => pattern.test(e.detail)), `${crd.file}: expected ${pattern}, got:\n${describeErrors(crd.errors)}`);
    }
  });

  it("accepts every good sample and refuses every bad one exactly at the fields it names", (t) => {
    const report = run(t, "-crds", CRD_DIRECTORY, "-objects", FIXTURE_DIRECTORIES.good, "-objects", FIXTURE_DIRECTORIES.bad);
    if (report === undefined) return;
    const byFile = new Map(report.objects.map((o) => [o.file, o]));
    const good = loadFixtures("good");
    const bad = loadFixtures("bad");
    assert.equal(report.objects.length, good.length + bad.length);

    for (const fixture of good) {
      const result = byFile.get(fixture.file);
      assert.ok(result, `${fixture.file} not checked`);
      assert.deepEqual(result.errors, [], `${fixture.file}:\n${describeErrors(result.errors)}`);
    }
    for (const fixture of bad) {
      const result = byFile.get(fixture.file);
      assert.ok(result, `${fixture.file} not checked`);
      const reported = new Set(result.errors.map(errorPath).filter((p): p is string => p !== undefined));
      // A wrongly typed field also gets its children flagged (e.g. as unknown fields); count the field once.
      const isInside = (p: string, q: string): boolean => p.startsWith(`${q}.`) || p.startsWith(`${q}[`);
      const paths = [...reported].filter((p) => ![...reported].some((q) => isInside(p, q)));
      // Both directions: each named field is reported, and nothing else is wrong with the sample,
      // so every bad sample tests exactly the mistake its header describes.
      assert.deepEqual(paths.sort(), [...new Set(fixture.expectedErrorPaths)].sort(), `${fixture.file}:\n${describeErrors(result.errors)}`);
    }
  });

  it("checks with the same Kubernetes release the local control plane is built from", (t) => {
    for (const f of ["go.mod", "go.sum", "main.go"]) assert.ok(existsSync(join(SOURCE, f)), `${f} missing in ${SOURCE}`);
    const controlPlaneMod = join(CRD_DIRECTORY, "..", "..", "..", "clusters", "local", "build", "kubernetes", "go.mod");
    if (!existsSync(controlPlaneMod)) {
      t.skip(`${controlPlaneMod} not found`);
      return;
    }
    const kube = /^\s*k8s\.io\/kubernetes v1\.(\d+\.\d+)\s*$/m.exec(readFileSync(controlPlaneMod, "utf8"))?.[1];
    const checker = /^\s*k8s\.io\/apiextensions-apiserver v0\.(\d+\.\d+)\s*$/m.exec(readFileSync(join(SOURCE, "go.mod"), "utf8"))?.[1];
    assert.ok(kube !== undefined && checker !== undefined, "cannot read the Kubernetes versions");
    assert.equal(checker, kube, "bump k8s.io/apiextensions-apiserver (and apimachinery, apiserver) in kube-check/go.mod to match");
  });
});
