import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { repoRoot } from "../cluster/local/paths.js";
import { loadScenarios } from "../spec/index.js";
import type { LoadedScenario } from "../spec/index.js";
import type { CellReport, ScenarioReport } from "../report/model.js";
import { mutationCheck, withoutPolicies } from "./mutate.js";

function load(file: string): LoadedScenario {
  const r = loadScenarios([join(repoRoot, "suites/policy", file)]);
  assert.deepEqual(r.errors, []);
  return r.scenarios[0]!;
}

const cell = (status: CellReport["status"]): CellReport =>
  ({ id: "x", step: "s", from: "a/b", to: "a/c:80/tcp", expected: { outcome: "DROPPED" }, status, flows: [] }) as unknown as CellReport;
const report = (cells: CellReport[], extra: Partial<ScenarioReport> = {}): ScenarioReport => ({
  name: "deny-precedence",
  file: "f.yaml",
  status: "passed",
  durationMs: 10,
  errors: [],
  cells,
  checks: [],
  ...extra,
});

test("withoutPolicies takes out every policy of apply and delete steps, keeps steps, cells and the original", () => {
  const scenario = load("netpol-matrix.yaml");
  const mutant = withoutPolicies(scenario);
  assert.deepEqual(mutant.removed.sort(), [
    "NetworkPolicy cf-np-x/allow-y-to-a-80",
    "NetworkPolicy cf-np-x/deny-all",
    "NetworkPolicy cf-np-y/c-from-x-or-a",
    "NetworkPolicy cf-np-z/egress-to-b-81",
  ]);
  assert.equal(mutant.scenario.steps.length, scenario.steps.length);
  for (const step of mutant.scenario.steps) if (step.kind === "apply" || step.kind === "delete") assert.deepEqual(step.manifests, []);
  assert.deepEqual(
    mutant.scenario.steps.map((s) => s.key),
    scenario.steps.map((s) => s.key),
  );
  // The loaded scenario itself still applies its policies.
  assert.ok(scenario.steps.some((s) => s.kind === "apply" && s.manifests.length > 0));
});

test("fixture manifests that are not policies stay (the host servers of the entities scenario)", () => {
  const scenario = load("entities.yaml");
  const mutant = withoutPolicies(scenario);
  assert.equal(mutant.scenario.fixtures.manifests.length, 2);
  assert.equal(mutant.removed.length, 11);
});

test("the check passes when the mutant fails a cell, fails when every cell still passes", () => {
  const mutant = withoutPolicies(load("deny-precedence.yaml"));
  const killed = mutationCheck(mutant, report([cell("pass"), cell("fail")], { status: "failed" }));
  assert.equal(killed.status, "pass");
  assert.equal(killed.observed, "1 of 2 cells failed without the policies");
  const survived = mutationCheck(mutant, report([cell("pass"), cell("pass")]));
  assert.equal(survived.status, "fail");
  assert.match(survived.message ?? "", /cannot catch a broken policy/);
  assert.match(survived.expected ?? "", /CiliumClusterwideNetworkPolicy cf-pol-guard-untrusted/);
  const broken = mutationCheck(mutant, report([cell("pass")], { errors: [{ message: "apply refused" }], status: "failed" }));
  assert.equal(broken.status, "inconclusive");
});

test("a scenario without policies has nothing to mutate: skipped with the reason", () => {
  const mutant = withoutPolicies(load("baseline-connectivity.yaml"));
  const check = mutationCheck(mutant, undefined);
  assert.equal(check.status, "skipped");
  assert.match(check.skipReason ?? "", /applies no network policy/);
});
