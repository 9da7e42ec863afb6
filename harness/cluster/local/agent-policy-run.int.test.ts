// `conform run` against `cni: conform` clusters, spawned as users run it: the policy suites pass
// for real (the agent enforces, its flow API names the policies, the convergence wait holds), and
// a wrong expectation fails with the expected/observed diff and the policy the drop's flow names.
// Each run creates its own cluster and removes it (no --keep); `after` sweeps whatever is left.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadScenariosOrThrow, scenarioCells } from "../../spec/index.js";
import { downCluster } from "./down.js";
import { netnsNames } from "./names.js";
import { repoRoot } from "./paths.js";
import { readState } from "./state.js";
import { listNetns } from "./topology.js";

const suiteCluster = `rp${process.pid}`;
const wrongCluster = `rpw${process.pid}`;
const cli = join(repoRoot, "bin", "conform.js");
// The default local cluster runs the agent (its DaemonSet).
const clusterFile = join(repoRoot, "clusters", "local", "default.yaml");
const out = mkdtempSync(join(tmpdir(), "cft-rp-reports-"));

function conformRun(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, "run", ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

interface JUnitCase {
  name: string;
  failure?: { message: string; type: string; text: string };
  error?: { message: string };
  skipped?: { message: string };
}
interface JUnitSuite {
  name: string;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  cases: JUnitCase[];
}

/** JUnit XML through a real XML parser (Python's ElementTree). */
function parseJUnit(file: string): JUnitSuite[] {
  const program = `
import sys, json, xml.etree.ElementTree as E
out = []
for s in E.fromstring(sys.stdin.read()).iter('testsuite'):
    cases = []
    for c in s.iter('testcase'):
        case = {'name': c.get('name')}
        for tag in ('failure', 'error', 'skipped'):
            e = c.find(tag)
            if e is not None: case[tag] = {'message': e.get('message') or '', 'type': e.get('type') or '', 'text': e.text or ''}
        cases.append(case)
    out.append({'name': s.get('name'), 'tests': int(s.get('tests')), 'failures': int(s.get('failures')), 'errors': int(s.get('errors')), 'skipped': int(s.get('skipped')), 'cases': cases})
print(json.dumps(out))
`;
  const r = spawnSync("python3", ["-c", program], { input: readFileSync(file, "utf8"), encoding: "utf8" });
  assert.equal(r.status, 0, `JUnit does not parse: ${r.stderr}`);
  return JSON.parse(r.stdout) as JUnitSuite[];
}

function assertClusterGone(name: string): void {
  assert.equal(readState(name), undefined, `cluster ${name} was removed`);
  assert.deepEqual(listNetns().filter((n) => n.startsWith(netnsNames.prefix(name))), []);
}

describe("conform run on cni: conform clusters (policy suites, spawned CLI)", { timeout: 900_000 }, () => {
  after(async () => {
    // The runs remove their clusters themselves; this is for a run that crashed or timed out.
    for (const name of [suiteCluster, wrongCluster]) await downCluster(name).catch((err: unknown) => console.error(String(err)));
    rmSync(out, { recursive: true, force: true });
  });

  test("suites/policy passes: exit 0, one testcase per cell, zero failures, the drop cells present", async () => {
    const dir = join(out, "suite");
    const r = await conformRun(["--config", clusterFile, "--name", suiteCluster, "suites/policy", "--reporter", "junit", "--output-dir", dir]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const suites = parseJUnit(join(dir, "junit.xml"));
    const scenarios = loadScenariosOrThrow([join(repoRoot, "suites", "policy")]);
    assert.deepEqual(suites.map((s) => s.name).sort(), scenarios.map((s) => s.name).sort());
    let drops = 0;
    for (const scenario of scenarios) {
      const suite = suites.find((s) => s.name === scenario.name)!;
      const cells = scenarioCells(scenario);
      const names = suite.cases.map((c) => c.name);
      for (const cell of cells) assert.ok(names.includes(`${cell.step}: ${cell.from} -> ${cell.to}`), `${scenario.name}: testcase for ${cell.from} -> ${cell.to}`);
      assert.equal(suite.failures, 0, JSON.stringify(suite.cases.filter((c) => c.failure)));
      assert.equal(suite.errors, 0, JSON.stringify(suite.cases.filter((c) => c.error)));
      assert.equal(suite.skipped, 0, JSON.stringify(suite.cases.filter((c) => c.skipped)));
      drops += cells.filter((c) => c.expected.outcome === "DROPPED").length;
    }
    // Every policy scenario has must-drop cells, each with the policy the flow must name.
    for (const name of ["default-deny", "identity-allow", "deny-precedence"]) {
      const cells = scenarioCells(scenarios.find((s) => s.name === name)!);
      assert.ok(cells.some((c) => c.expected.outcome === "DROPPED" && c.expected.by), `${name} has attributed drop cells`);
      assert.ok(cells.some((c) => c.expected.outcome === "ALLOWED"), `${name} has must-pass cells`);
    }
    assert.ok(drops >= 10, `drop cells: ${drops}`);
    assertClusterGone(suiteCluster);
  });

  test("a wrong ALLOWED expectation fails: exit 1, the diff and the flow's policy in the JUnit failure", async () => {
    const dir = join(out, "wrong");
    const scenario = join(repoRoot, "harness", "cluster", "local", "testdata", "policy-wrong-allowed.yaml");
    const r = await conformRun(["--config", clusterFile, "--name", wrongCluster, scenario, "--reporter", "junit", "--output-dir", dir]);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    const [suite] = parseJUnit(join(dir, "junit.xml"));
    assert.equal(suite?.tests, 3, "two cells and the convergence check");
    assert.equal(suite?.failures, 1, JSON.stringify(suite?.cases));
    const failed = suite!.cases.find((c) => c.failure)!;
    assert.equal(failed.name, "wrong: cf-rp-shop/half-match -> cf-rp-shop/backend:8080/tcp");
    assert.equal(failed.failure?.type, "mismatch");
    assert.match(failed.failure?.text ?? "", /expected: ALLOWED\nobserved: DROPPED/);
    assert.match(failed.failure?.text ?? "", /cf-rp-shop\/backend-ingress/);
    assert.ok(suite!.cases.some((c) => c.name === "wrong: cf-rp-shop/frontend -> cf-rp-shop/backend:8080/tcp" && !c.failure && !c.error));
    assertClusterGone(wrongCluster);
  });
});
