// --grep / --skip: regular expressions over scenario names and case ids (cell ids
// `<scenario>/<step>: <from> -> <to>`, flow check ids `<scenario>/<step>: flow <name>`).
// A scenario whose name matches --grep runs whole; otherwise only its matching cases run, and
// the steps around them still run in order (fixtures, applies, waits), since cases depend on them.
// Cases filtered out do not appear in reports, as with any test runner's grep.
import type { LoadedScenario } from "../spec/loader.js";

export interface Selection {
  grep?: RegExp;
  skip?: RegExp;
}

export class SelectionError extends Error {}

export function parseSelection(grep: string | undefined, skip: string | undefined): Selection {
  const compile = (flag: string, text: string | undefined) => {
    if (text === undefined || text === "") return undefined;
    try {
      return new RegExp(text);
    } catch (err) {
      throw new SelectionError(`${flag} ${JSON.stringify(text)} is not a valid regular expression: ${(err as Error).message}`);
    }
  };
  const selection: Selection = {};
  const g = compile("--grep", grep);
  const s = compile("--skip", skip);
  if (g) selection.grep = g;
  if (s) selection.skip = s;
  return selection;
}

/** Which of a scenario's case ids run; `undefined` when the scenario does not run at all. */
export interface ScenarioSelection {
  scenario: LoadedScenario;
  /** Whole scenario selected (every case runs). */
  all: boolean;
  caseIds: Set<string>;
}

function caseIds(scenario: LoadedScenario): string[] {
  return scenario.steps.flatMap((s) => (s.kind === "expect" ? [...s.cells.map((c) => c.id), ...s.flows.map((f) => f.id)] : []));
}

export function selectScenarios(scenarios: readonly LoadedScenario[], selection: Selection): ScenarioSelection[] {
  const out: ScenarioSelection[] = [];
  for (const scenario of scenarios) {
    if (selection.skip?.test(scenario.name)) continue;
    const ids = caseIds(scenario).filter((id) => !selection.skip?.test(id));
    const whole = !selection.grep || selection.grep.test(scenario.name);
    const chosen = whole ? ids : ids.filter((id) => selection.grep!.test(id));
    if (chosen.length === 0 && !(whole && ids.length === caseIds(scenario).length)) continue;
    out.push({ scenario, all: chosen.length === caseIds(scenario).length, caseIds: new Set(chosen) });
  }
  return out;
}
