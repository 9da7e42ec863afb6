// `conform run --mutate`: the self-check. Each scenario runs a second time with every network
// policy it applies taken out; a scenario whose cells all still pass could never have caught a
// broken policy, so the mutant must fail at least one cell. The verdict is one check per scenario
// (one JUnit testcase) added to the scenario's normal report; the mutant's own cells are not
// reported, they are expected to fail.
import type { KubeManifest } from "../spec/manifests.js";
import type { LoadedScenario, PlannedStep } from "../spec/loader.js";
import type { CheckReport, ScenarioReport } from "../report/model.js";
import { POLICY_KINDS } from "./requirements.js";

export const MUTATION_CHECK_NAME = "policies removed";

export interface Mutant {
  scenario: LoadedScenario;
  /** `Kind ns/name` of every policy taken out (apply and delete steps, fixture manifests). */
  removed: string[];
}

const isPolicy = (m: KubeManifest): boolean => POLICY_KINDS.includes(m.object.kind);
const describe = (m: KubeManifest): string =>
  `${m.object.kind} ${typeof m.object.metadata.namespace === "string" ? `${m.object.metadata.namespace}/` : ""}${m.object.metadata.name}`;

/** The scenario with its policies removed; step keys and cell ids are unchanged. Pure. */
export function withoutPolicies(scenario: LoadedScenario): Mutant {
  const removed = new Set<string>();
  const strip = (manifests: KubeManifest[]): KubeManifest[] => {
    for (const m of manifests.filter(isPolicy)) removed.add(describe(m));
    return manifests.filter((m) => !isPolicy(m));
  };
  const steps: PlannedStep[] = scenario.steps.map((step) => (step.kind === "apply" || step.kind === "delete" ? { ...step, manifests: strip(step.manifests) } : step));
  const manifests = strip(scenario.fixtures.manifests);
  return { scenario: { ...scenario, steps, fixtures: { ...scenario.fixtures, manifests } }, removed: [...removed] };
}

/** The check the normal report gets: pass when the mutant failed at least one cell. */
export function mutationCheck(mutant: Mutant, mutantReport: ScenarioReport | undefined): CheckReport {
  const base = { id: `${mutant.scenario.name}/self-check: mutation ${MUTATION_CHECK_NAME}`, step: "self-check", kind: "mutation", name: MUTATION_CHECK_NAME, flows: [] };
  if (mutant.removed.length === 0) {
    return { ...base, status: "skipped", skipReason: "the scenario applies no network policy, so there is nothing to remove" };
  }
  const expected = `at least one cell fails without ${mutant.removed.join(", ")}`;
  if (mutantReport === undefined) return { ...base, status: "inconclusive", expected, message: "the mutant did not run" };
  if (mutantReport.status === "skipped") return { ...base, status: "skipped", skipReason: mutantReport.skipReason ?? "the mutant was skipped" };
  const failed = mutantReport.cells.filter((c) => c.status === "fail");
  const ran = mutantReport.cells.filter((c) => c.status !== "skipped");
  const observed = `${failed.length} of ${ran.length} cells failed without the policies`;
  if (failed.length > 0) return { ...base, status: "pass", expected, observed, durationMs: mutantReport.durationMs };
  const errors = mutantReport.errors.map((e) => e.message);
  if (errors.length > 0) return { ...base, status: "inconclusive", expected, observed, message: `the mutant could not run: ${errors.join("; ")}` };
  return {
    ...base,
    status: "fail",
    expected,
    observed,
    durationMs: mutantReport.durationMs,
    message: "every cell passes with the policies removed: this scenario cannot catch a broken policy (expect a DROPPED somewhere the policy is what drops it)",
  };
}
