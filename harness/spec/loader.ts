// Loads scenario files into fully resolved plans: schema-checked (strict), every referenced
// manifest read and checked, every matrix expanded into cells. Errors carry file, line, column and
// field path, and loading goes on after an error so one run reports all of them.
import { readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { batchBySource, expandStep, nodeIndexesOf, stepKey } from "./cells.js";
import type { Cell, FlowCheck, ProbeBatch } from "./cells.js";
import { parseDuration } from "./duration.js";
import { dedupeSpecErrors, formatPath, SpecLoadError, sortSpecErrors } from "./errors.js";
import type { PathError, SpecError } from "./errors.js";
import { buildCatalog, expandFixtures } from "./fixtures.js";
import type { ExpandOptions, FixtureCatalog, FixturePod, FixtureService } from "./fixtures.js";
import { isScenarioCandidate, listYamlFiles, locatedError, manifestDigest, ManifestReader, resolveManifestSources } from "./manifests.js";
import type { KubeManifest, KubeObject, SourceContext } from "./manifests.js";
import { effectiveRequirements } from "./requirements.js";
import type { EffectiveRequirements } from "./requirements.js";
import { scenarioSchema } from "./schema.js";
import type { Scenario, StepInput } from "./schema.js";
import { parseYamlDocuments } from "./yaml-source.js";
import type { YamlDocument } from "./yaml-source.js";
import { fieldIssues } from "../util/zod-issues.js";

export const DEFAULT_TIMEOUTS_MS = {
  scenario: 10 * 60_000,
  step: 2 * 60_000,
  // k8s e2e raised its probe timeout to 3s after 1s flaked (kubernetes/kubernetes#136715).
  probe: 3_000,
  convergence: 30_000,
} as const;

export type ResolvedTimeouts = { [K in keyof typeof DEFAULT_TIMEOUTS_MS]: number };

interface StepBase {
  index: number;
  /** The step's name, else `steps[<index>]`. */
  key: string;
  timeoutMs: number;
}

export type PlannedStep =
  | (StepBase & { kind: "apply" | "delete"; manifests: KubeManifest[] })
  | (StepBase & { kind: "wait"; for: "policy-converged" | "pods-ready" })
  | (StepBase & { kind: "expect"; cells: Cell[]; batches: ProbeBatch[]; flows: FlowCheck[] });

export interface LoadedScenario {
  name: string;
  /** The file as errors and reports print it, and its absolute path. */
  file: string;
  absoluteFile: string;
  documentIndex: number;
  line: number;
  spec: Scenario;
  requirements: EffectiveRequirements;
  timeouts: ResolvedTimeouts;
  fixtures: {
    pods: FixturePod[];
    services: FixtureService[];
    /** Plain manifests from `fixtures.manifests`. */
    manifests: KubeManifest[];
  };
  steps: PlannedStep[];
  /** sha256 over every manifest the scenario applies (fixtures without node names, then apply steps). */
  manifestDigest: string;
}

export interface LoadResult {
  scenarios: LoadedScenario[];
  /** Sorted by file and line, duplicates removed. */
  errors: SpecError[];
  /** Files that held at least one Scenario document. */
  files: string[];
}

export interface LoadOptions {
  /** Base for printed paths of files found by directory walks and references (default: cwd). */
  cwd?: string;
}

/** The fixture objects to apply, in order; pass node names to bind pods to nodes exactly. */
export function fixtureObjects(scenario: LoadedScenario, options: ExpandOptions = {}): KubeObject[] {
  return expandFixtures(scenario.spec, scenario.fixtures.manifests, options);
}

/** Every cell of the scenario, in step order. */
export function scenarioCells(scenario: LoadedScenario): Cell[] {
  return scenario.steps.flatMap((s) => (s.kind === "expect" ? s.cells : []));
}

/**
 * Loads scenarios from files and directories (recursively, *.yaml/*.yml). In directories, files
 * without Scenario documents are skipped (they are usually the manifests scenarios reference);
 * a file named explicitly must hold at least one.
 */
export function loadScenarios(paths: readonly string[], options: LoadOptions = {}): LoadResult {
  const cwd = options.cwd ?? process.cwd();
  const roots: { absolute: string; shown: string }[] = [];
  const display = (absolute: string): string => {
    for (const root of roots) {
      if (absolute === root.absolute) return root.shown;
      if (absolute.startsWith(root.absolute + sep)) return join(root.shown, relative(root.absolute, absolute));
    }
    const rel = relative(cwd, absolute);
    return rel.startsWith("..") ? absolute : rel;
  };
  const reader = new ManifestReader(display);
  const errors: SpecError[] = [];
  const scenarios: LoadedScenario[] = [];
  const files: string[] = [];
  // Errors print scenario files in the order given, then the manifests they reference.
  const processed: string[] = [];

  for (const given of paths) {
    const absolute = resolve(cwd, given);
    let isDirectory: boolean;
    try {
      isDirectory = statSync(absolute).isDirectory();
    } catch {
      errors.push({ kind: "io", file: given, message: "no such file or directory" });
      continue;
    }
    roots.push({ absolute, shown: given.replace(/\/+$/, "") || given });
    const candidates = isDirectory ? listYamlFiles(absolute) : [absolute];
    let foundHere = 0;
    for (const file of candidates) {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        errors.push({ kind: "io", file: display(file), message: (err as Error).message });
        continue;
      }
      processed.push(display(file));
      const result = loadFile(text, file, display(file), reader, !isDirectory);
      errors.push(...result.errors);
      scenarios.push(...result.scenarios);
      if (result.isScenarioFile) {
        files.push(display(file));
        foundHere++;
      }
    }
    if (isDirectory && foundHere === 0) errors.push({ kind: "io", file: given, message: "no Scenario documents found (in *.yaml/*.yml files)" });
  }
  errors.push(...duplicateNameErrors(scenarios));
  return { scenarios, errors: sortSpecErrors(dedupeSpecErrors(errors), [...paths, ...processed]), files };
}

/** loadScenarios, throwing a SpecLoadError that lists every error. */
export function loadScenariosOrThrow(paths: readonly string[], options: LoadOptions = {}): LoadedScenario[] {
  const result = loadScenarios(paths, options);
  if (result.errors.length > 0) throw new SpecLoadError(result.errors);
  return result.scenarios;
}

/**
 * Loads scenarios from YAML text. `file` is the absolute path the text came from (relative
 * manifest paths resolve against its folder); errors print `shownAs` (default: `file`).
 */
export function loadScenarioText(text: string, file: string, shownAs = file): LoadResult {
  const absolute = resolve(file);
  const reader = new ManifestReader((p) => (p === absolute ? shownAs : join(dirname(shownAs), relative(dirname(absolute), p))));
  const result = loadFile(text, absolute, shownAs, reader, true);
  const errors = [...result.errors, ...duplicateNameErrors(result.scenarios)];
  return { scenarios: result.scenarios, errors: sortSpecErrors(dedupeSpecErrors(errors), [shownAs]), files: result.isScenarioFile ? [shownAs] : [] };
}

interface FileResult {
  scenarios: LoadedScenario[];
  errors: SpecError[];
  isScenarioFile: boolean;
}

function loadFile(text: string, absoluteFile: string, file: string, reader: ManifestReader, explicit: boolean): FileResult {
  const parsed = parseYamlDocuments(text, file);
  const result: FileResult = { scenarios: [], errors: [], isScenarioFile: false };
  const scenarioDocs = parsed.documents.filter((d) => isScenarioCandidate(d.value));
  if (parsed.errors.length > 0) {
    // A file that does not parse may well be a scenario; dropping it silently would shrink the suite.
    result.errors.push(...parsed.errors);
    result.isScenarioFile = scenarioDocs.length > 0;
  }
  if (scenarioDocs.length === 0) {
    if (explicit && parsed.errors.length === 0) {
      result.errors.push({ kind: "schema", file, line: parsed.documents[0]?.position.line, message: `no Scenario documents (expected kind: Scenario, apiVersion: conform.dev/v1alpha1)` });
    }
    return result;
  }
  result.isScenarioFile = true;
  for (const doc of parsed.documents) {
    if (!isScenarioCandidate(doc.value)) {
      result.errors.push({ kind: "schema", file, ...doc.position, message: "a scenario file may only hold Scenario documents; put Kubernetes manifests in their own files and reference them" });
      continue;
    }
    const loaded = loadDocument(doc, absoluteFile, file, reader);
    result.errors.push(...loaded.errors);
    if (loaded.scenario) result.scenarios.push(loaded.scenario);
  }
  return result;
}

function loadDocument(doc: YamlDocument, absoluteFile: string, file: string, reader: ManifestReader): { scenario?: LoadedScenario; errors: SpecError[] } {
  const parsed = scenarioSchema.safeParse(doc.value, { reportInput: true });
  if (!parsed.success) {
    const errors = fieldIssues(parsed.error.issues).map((issue): SpecError => {
      const pos = issue.unknownKey ? doc.locateKey(issue.path.slice(0, -1), String(issue.path[issue.path.length - 1])) : doc.locate(issue.path);
      return { kind: "schema", file, ...pos, path: issue.path.length > 0 ? formatPath(issue.path) : undefined, message: issue.message };
    });
    return { errors };
  }
  const spec = parsed.data;
  const errors: SpecError[] = [];
  const pathErrors: PathError[] = [];
  const ctx = { doc, file, absoluteFile, reader };

  const plain = resolveManifestSources(spec.spec.fixtures?.manifests ?? [], (i) => ["spec", "fixtures", "manifests", i], ctx);
  errors.push(...plain.errors);
  const { catalog, errors: catalogErrors } = buildCatalog(spec, plain.manifests);
  pathErrors.push(...catalogErrors);

  const timeouts = resolveTimeouts(spec);
  const steps: PlannedStep[] = [];
  const stepNames = new Map<string, number>();
  spec.spec.steps.forEach((step, index) => {
    const key = stepKey(spec, index);
    if (step.name !== undefined) {
      const earlier = stepNames.get(step.name);
      if (earlier !== undefined) pathErrors.push({ path: ["spec", "steps", index, "name"], message: `duplicate step name "${step.name}" (also steps[${earlier}])` });
      else stepNames.set(step.name, index);
    }
    const timeoutMs = step.timeout !== undefined ? parseDuration(step.timeout) : timeouts.step;
    const planned = planStep(step, index, key, timeoutMs, timeouts, spec, catalog, ctx);
    errors.push(...planned.errors);
    pathErrors.push(...planned.pathErrors);
    if (planned.step) steps.push(planned.step);
  });

  const usedNodes = [
    ...[...catalog.pods.values()].flatMap((p) => (p.node !== undefined ? [p.node] : [])),
    ...steps.flatMap((s) => (s.kind === "expect" ? nodeIndexesOf(s.cells) : [])),
  ];
  for (const e of pathErrors) errors.push(locatedError(file, doc, e));
  if (errors.length > 0) return { errors };

  const applied = [
    ...expandFixtures(spec, plain.manifests),
    ...steps.flatMap((s) => (s.kind === "apply" ? s.manifests.map((m) => m.object) : [])),
  ];
  return {
    errors,
    scenario: {
      name: spec.metadata.name,
      file,
      absoluteFile,
      documentIndex: doc.index,
      line: doc.position.line,
      spec,
      requirements: effectiveRequirements(spec.spec.requirements, usedNodes),
      timeouts,
      fixtures: { pods: [...catalog.pods.values()], services: [...catalog.services.values()], manifests: plain.manifests },
      steps,
      manifestDigest: manifestDigest(applied),
    },
  };
}

function planStep(
  step: StepInput,
  index: number,
  key: string,
  timeoutMs: number,
  timeouts: ResolvedTimeouts,
  spec: Scenario,
  catalog: FixtureCatalog,
  ctx: SourceContext,
): { step?: PlannedStep; errors: SpecError[]; pathErrors: PathError[] } {
  const base = { index, key, timeoutMs };
  for (const kind of ["apply", "delete"] as const) {
    const sources = step[kind];
    if (sources === undefined) continue;
    // `apply: x.yaml` (one source) has no element index in its path.
    const resolved = Array.isArray(sources)
      ? resolveManifestSources(sources, (i) => ["spec", "steps", index, kind, i], ctx)
      : resolveManifestSources([sources], () => ["spec", "steps", index, kind], ctx);
    return { step: { ...base, kind, manifests: resolved.manifests }, errors: resolved.errors, pathErrors: [] };
  }
  if (step.wait) {
    const waitTimeout = step.wait.timeout !== undefined ? parseDuration(step.wait.timeout) : step.timeout !== undefined ? timeoutMs : step.wait.for === "policy-converged" ? timeouts.convergence : timeoutMs;
    return { step: { ...base, timeoutMs: waitTimeout, kind: "wait", for: step.wait.for }, errors: [], pathErrors: [] };
  }
  const expansion = expandStep(spec, index, catalog);
  return {
    step: { ...base, kind: "expect", cells: expansion.cells, batches: batchBySource(expansion.cells), flows: expansion.flows },
    errors: [],
    pathErrors: expansion.errors,
  };
}

function resolveTimeouts(spec: Scenario): ResolvedTimeouts {
  const t = spec.spec.timeouts ?? {};
  return {
    scenario: t.scenario !== undefined ? parseDuration(t.scenario) : DEFAULT_TIMEOUTS_MS.scenario,
    step: t.step !== undefined ? parseDuration(t.step) : DEFAULT_TIMEOUTS_MS.step,
    probe: t.probe !== undefined ? parseDuration(t.probe) : DEFAULT_TIMEOUTS_MS.probe,
    convergence: t.convergence !== undefined ? parseDuration(t.convergence) : DEFAULT_TIMEOUTS_MS.convergence,
  };
}

function duplicateNameErrors(scenarios: readonly LoadedScenario[]): SpecError[] {
  const seen = new Map<string, LoadedScenario>();
  const errors: SpecError[] = [];
  for (const s of scenarios) {
    const first = seen.get(s.name);
    if (first) {
      errors.push({ kind: "schema", file: s.file, line: s.line, path: "metadata.name", message: `duplicate scenario name "${s.name}" (also ${first.file}:${first.line})` });
    } else seen.set(s.name, s);
  }
  return errors;
}
