// Matrix expansion: an `expect` step's truth table (+ explicit cells, + flow expectations) → a
// flat list of cells, each one probe and one JUnit testcase with a stable id. Pure: it needs the
// scenario and the fixture catalog, and reports problems as path errors the loader locates.
import type { Outcome } from "../probe/outcome.js";
import type { PathError } from "./errors.js";
import { refKey } from "./fixtures.js";
import type { FixtureCatalog, FixturePod } from "./fixtures.js";
import type { ExpectationInput, Protocol, Scenario } from "./schema.js";
import { formatTarget, parsePodRef, parseTarget } from "./targets.js";
import type { HttpRequest, PodRef, Target } from "./targets.js";

export interface Expected {
  outcome: Outcome;
  /** Hubble drop reason name the flow must carry, e.g. POLICY_DENIED. */
  reason?: string;
  /** `<namespace>/<policy>` (or `<policy>` for clusterwide) the flow must name. */
  by?: string;
}

/** A target whose port and protocol are known (what a probe needs). */
export type ResolvedTarget = Target & { port: number; protocol: Protocol };

export interface Cell {
  /** `<scenario>/<step>: <from> -> <to>`; stable across runs while the spec keeps the cell. */
  id: string;
  scenario: string;
  /** Step key: its `name`, else `steps[<index>]`. */
  step: string;
  stepIndex: number;
  /** Source pod, `<namespace>/<pod>`. */
  from: string;
  source: PodRef;
  /** Canonical destination text, e.g. `shop/backend:8080/tcp`. */
  to: string;
  target: ResolvedTarget;
  expected: Expected;
  /** Where the expectation was written, e.g. `spec.steps[1].expect.matrix.from["shop/a"]`. */
  specPath: PropertyKey[];
}

/** All cells of one step from one source pod: the harness runs them with one probe exec. */
export interface ProbeBatch {
  from: string;
  source: PodRef;
  cells: Cell[];
}

export interface FlowCheck {
  id: string;
  scenario: string;
  step: string;
  stepIndex: number;
  name: string;
  from?: PodRef;
  to?: Target;
  verdict?: "FORWARDED" | "DROPPED" | "AUDIT" | "REDIRECTED" | "ERROR";
  reason?: string;
  by?: string;
  direction?: "INGRESS" | "EGRESS";
  encrypted?: boolean;
  http?: { method?: string; path?: string; code?: number };
  dns?: { query?: string; rcode?: string };
  count: { min: number; max?: number };
  specPath: PropertyKey[];
}

export interface StepExpansion {
  cells: Cell[];
  flows: FlowCheck[];
  errors: PathError[];
}

export function stepKey(scenario: Scenario, index: number): string {
  return scenario.spec.steps[index]?.name ?? `steps[${index}]`;
}

export function cellId(scenario: string, step: string, from: string, to: string): string {
  return `${scenario}/${step}: ${from} -> ${to}`;
}

/** Expands one `expect` step; other step kinds give no cells. */
export function expandStep(scenario: Scenario, stepIndex: number, catalog: FixtureCatalog): StepExpansion {
  const result: StepExpansion = { cells: [], flows: [], errors: [] };
  const expect = scenario.spec.steps[stepIndex]?.expect;
  if (!expect) return result;
  const name = scenario.metadata.name;
  const step = stepKey(scenario, stepIndex);
  const base: PropertyKey[] = ["spec", "steps", stepIndex, "expect"];
  const ctx: Ctx = { catalog, errors: result.errors };
  // Report order: matrix rows in order, then cells that only `cells` adds.
  const order: string[] = [];
  const cells = new Map<string, Cell>();
  const pending = new Map<string, PropertyKey[]>();

  const place = (source: PodRef, target: ResolvedTarget, expected: Expected | undefined, specPath: PropertyKey[]) => {
    const from = refKey(source.namespace, source.name);
    const to = formatTarget(target);
    const key = `${from} -> ${to}`;
    if (!cells.has(key) && !pending.has(key)) order.push(key);
    if (expected) {
      pending.delete(key);
      cells.set(key, { id: cellId(name, step, from, to), scenario: name, step, stepIndex, from, source, to, target, expected, specPath });
    } else if (!cells.has(key)) {
      // The expectation may still come from `cells`; if not, this is where the error points.
      pending.set(key, specPath);
    }
  };

  if (expect.matrix) {
    const matrixPath = [...base, "matrix"];
    const columns = expect.matrix.to.map((text, k) => resolveTargets(text, [...matrixPath, "to", k], ctx));
    const seenColumns = new Set<string>();
    columns.forEach((group, k) => {
      for (const t of group) {
        const label = formatTarget(t);
        if (seenColumns.has(label)) ctx.errors.push({ path: [...matrixPath, "to", k], message: `destination ${label} appears twice` });
        seenColumns.add(label);
      }
    });
    const defaultExpectation = expect.matrix.default !== undefined ? normalizeExpectation(expect.matrix.default, [...matrixPath, "default"], ctx) : undefined;
    const from = expect.matrix.from;
    const rows: { text: string; path: PropertyKey[]; row: ExpectationInput | ExpectationInput[] | undefined }[] = Array.isArray(from)
      ? from.map((text, j) => ({ text, path: [...matrixPath, "from", j], row: undefined }))
      : Object.entries(from).map(([text, row]) => ({ text, path: [...matrixPath, "from", text], row }));
    const seenSources = new Set<string>();
    for (const { text, path, row } of rows) {
      const source = resolveSource(text, path, ctx);
      if (!source) continue;
      const key = refKey(source.namespace, source.name);
      if (seenSources.has(key)) {
        ctx.errors.push({ path, message: `source ${key} appears twice` });
        continue;
      }
      seenSources.add(key);
      if (Array.isArray(row) && row.length !== expect.matrix.to.length) {
        ctx.errors.push({ path, message: `row has ${row.length} entr${row.length === 1 ? "y" : "ies"} but \`to\` has ${expect.matrix.to.length}` });
        continue;
      }
      columns.forEach((group, k) => {
        const input = Array.isArray(row) ? row[k] : row;
        const expPath = Array.isArray(row) ? [...path, k] : path;
        const expected = input !== undefined ? normalizeExpectation(input, expPath, ctx) : defaultExpectation;
        // An invalid expectation is already reported; don't report its cells as missing one too.
        if (expected === undefined && (input !== undefined || expect.matrix?.default !== undefined)) return;
        const specPath = input !== undefined ? expPath : expect.matrix?.default !== undefined ? [...matrixPath, "default"] : path;
        for (const target of group) place(source, target, expected, specPath);
      });
    }
  }

  (expect.cells ?? []).forEach((override, i) => {
    const path = [...base, "cells", i];
    const expected = normalizeExpectation(override.expect, [...path, "expect"], ctx);
    const froms = Array.isArray(override.from) ? override.from.map((t, j) => [t, [...path, "from", j]] as const) : [[override.from, [...path, "from"]] as const];
    const tos = Array.isArray(override.to) ? override.to.map((t, j) => [t, [...path, "to", j]] as const) : [[override.to, [...path, "to"]] as const];
    const sources = froms.map(([t, p]) => resolveSource(t, [...p], ctx));
    const targets = tos.flatMap(([t, p]) => resolveTargets(t, [...p], ctx));
    for (const source of sources) {
      if (!source || !expected) continue;
      for (const target of targets) place(source, target, expected, [...path, "expect"]);
    }
  });

  for (const [key, path] of pending) {
    ctx.errors.push({ path, message: `no expectation for ${key} (give the row a value, set matrix.default, or add it to cells)` });
  }
  result.cells = order.flatMap((key) => cells.get(key) ?? []);

  (expect.flows ?? []).forEach((flow, j) => {
    const path = [...base, "flows", j];
    const check: FlowCheck = {
      id: `${name}/${step}: flow ${flow.name ?? `flows[${j}]`}`,
      scenario: name,
      step,
      stepIndex,
      name: flow.name ?? `flows[${j}]`,
      count: { min: flow.count?.min ?? (flow.count?.max !== undefined ? 0 : 1), ...(flow.count?.max !== undefined ? { max: flow.count.max } : {}) },
      specPath: path,
    };
    if (flow.from !== undefined) {
      const source = resolveSource(flow.from, [...path, "from"], ctx);
      if (source) check.from = source;
    }
    if (flow.to !== undefined) {
      const parsed = parseTarget(flow.to);
      if (!parsed.ok) ctx.errors.push({ path: [...path, "to"], message: parsed.error });
      else if (checkTargetExists(parsed.value, [...path, "to"], ctx)) check.to = parsed.value;
    }
    if (check.count.max !== undefined && check.count.max < check.count.min) {
      ctx.errors.push({ path: [...path, "count"], message: `min ${check.count.min} is greater than max ${check.count.max}` });
    }
    for (const field of ["verdict", "reason", "by", "direction", "encrypted", "http", "dns"] as const) {
      if (flow[field] !== undefined) (check as unknown as Record<string, unknown>)[field] = flow[field];
    }
    result.flows.push(check);
  });
  return result;
}

/** Groups cells into one probe batch per source pod, in order of first appearance. */
export function batchBySource(cells: readonly Cell[]): ProbeBatch[] {
  const batches = new Map<string, ProbeBatch>();
  for (const cell of cells) {
    let batch = batches.get(cell.from);
    if (!batch) {
      batch = { from: cell.from, source: cell.source, cells: [] };
      batches.set(cell.from, batch);
    }
    batch.cells.push(cell);
  }
  return [...batches.values()];
}

/** Node indexes a step's targets name (`node:<n>`, `health:<n>`), for the effective node requirement. */
export function nodeIndexesOf(cells: readonly Cell[]): number[] {
  return cells.flatMap((c) => (c.target.kind === "node" || c.target.kind === "health" ? [c.target.index] : []));
}

// ---------------------------------------------------------------------------------------------

interface Ctx {
  catalog: FixtureCatalog;
  errors: PathError[];
}

function resolveSource(text: string, path: PropertyKey[], ctx: Ctx): PodRef | undefined {
  const ref = parsePodRef(text);
  if (!ref.ok) {
    ctx.errors.push({ path, message: `${ref.error}; sources are fixture pods` });
    return undefined;
  }
  if (!ctx.catalog.pods.has(refKey(ref.value.namespace, ref.value.name))) {
    ctx.errors.push({ path, message: unknownPodMessage(text, ctx.catalog) });
    return undefined;
  }
  return ref.value;
}

function unknownPodMessage(ref: string, catalog: FixtureCatalog): string {
  const known = [...catalog.pods.keys()];
  return `pod "${ref}" is not in fixtures${known.length > 0 ? ` (fixture pods: ${known.join(", ")})` : " (there are no fixture pods)"}`;
}

function checkTargetExists(target: Target, path: PropertyKey[], ctx: Ctx): boolean {
  if (target.kind === "pod" && !ctx.catalog.pods.has(refKey(target.namespace, target.name))) {
    ctx.errors.push({ path, message: unknownPodMessage(refKey(target.namespace, target.name), ctx.catalog) });
    return false;
  }
  if (target.kind === "service" && !ctx.catalog.services.has(refKey(target.namespace, target.name))) {
    const known = [...ctx.catalog.services.keys()];
    ctx.errors.push({ path, message: `service "${refKey(target.namespace, target.name)}" is not in fixtures${known.length > 0 ? ` (fixture services: ${known.join(", ")})` : ""}` });
    return false;
  }
  return true;
}

/** One destination text → the concrete (port, protocol) targets it stands for. */
function resolveTargets(text: string, path: PropertyKey[], ctx: Ctx): ResolvedTarget[] {
  const parsed = parseTarget(text);
  if (!parsed.ok) {
    ctx.errors.push({ path, message: parsed.error });
    return [];
  }
  const target = parsed.value;
  if (!checkTargetExists(target, path, ctx)) return [];
  const withHttp = (t: Target, port: number, protocol: Protocol): ResolvedTarget => {
    const http: HttpRequest | undefined = protocol === "http" ? (t.http ?? { method: "GET", path: "/" }) : undefined;
    const { http: _ignored, ...rest } = t;
    return { ...rest, port, protocol, ...(http ? { http } : {}) } as ResolvedTarget;
  };

  if (target.kind === "pod") {
    const pod = ctx.catalog.pods.get(refKey(target.namespace, target.name))!;
    if (target.port === undefined) {
      if (pod.ports.length === 0) {
        ctx.errors.push({ path, message: `pod ${refKey(pod.namespace, pod.name)} declares no ports; name one (e.g. ${text}:8080/tcp)` });
        return [];
      }
      return pod.ports.map((p) => withHttp(target, p.port, p.protocol));
    }
    const protocol = target.protocol ?? defaultProtocol(pod, target.port);
    if (pod.portsKnown && !serves(pod, target.port, protocol)) {
      ctx.errors.push({ path, message: `pod ${refKey(pod.namespace, pod.name)} does not serve ${target.port}/${protocol} (it serves ${describePorts(pod)}); add it to the pod's ports` });
      return [];
    }
    return [withHttp(target, target.port, protocol)];
  }

  if (target.kind === "service") {
    const service = ctx.catalog.services.get(refKey(target.namespace, target.name))!;
    if (target.port === undefined) return service.ports.map((p) => withHttp(target, p.port, target.protocol ?? p.protocol));
    const port = service.ports.find((p) => p.port === target.port);
    const protocol = target.protocol ?? port?.protocol ?? "tcp";
    if (!port || (port.protocol === "udp") !== (protocol === "udp")) {
      const list = service.ports.map((p) => `${p.port}/${p.protocol}`).join(", ");
      ctx.errors.push({ path, message: `service ${refKey(service.namespace, service.name)} has no port ${target.port}/${protocol === "udp" ? "udp" : "tcp"} (it has ${list})` });
      return [];
    }
    return [withHttp(target, target.port, protocol)];
  }

  // world, cidr, host, node, apiserver and health targets always carry a port (parseTarget insists).
  return [withHttp(target, target.port!, target.protocol ?? "tcp")];
}

function defaultProtocol(pod: FixturePod, port: number): Protocol {
  const declared = pod.ports.filter((p) => p.port === port).map((p) => p.protocol);
  return declared.length === 1 ? declared[0]! : "tcp";
}

/** http is served over TCP, so a port declared http also answers plain TCP probes. */
function serves(pod: FixturePod, port: number, protocol: Protocol): boolean {
  return pod.ports.some((p) => p.port === port && (p.protocol === protocol || (protocol === "tcp" && p.protocol === "http")));
}

function describePorts(pod: FixturePod): string {
  return pod.ports.length === 0 ? "no ports" : pod.ports.map((p) => `${p.port}/${p.protocol}`).join(", ");
}

const BY_NEEDS_A_VERDICT: readonly Outcome[] = ["TIMEOUT", "PROBE_ERROR"];

function normalizeExpectation(input: ExpectationInput, path: PropertyKey[], ctx: Ctx): Expected | undefined {
  const expected: Expected = typeof input === "string" ? { outcome: input } : { ...input };
  const outcomePath = typeof input === "string" ? path : [...path, "outcome"];
  if (expected.outcome === "PROBE_ERROR") {
    ctx.errors.push({ path: outcomePath, message: "PROBE_ERROR cannot be expected: it marks a probe that could not run (inconclusive)" });
    return undefined;
  }
  if (expected.reason !== undefined && expected.outcome !== "DROPPED") {
    ctx.errors.push({ path: [...path, "reason"], message: `a drop reason needs outcome DROPPED, not ${expected.outcome}` });
    return undefined;
  }
  if (expected.by !== undefined && BY_NEEDS_A_VERDICT.includes(expected.outcome)) {
    ctx.errors.push({ path: [...path, "by"], message: `no flow names a policy for ${expected.outcome}; use DROPPED, ALLOWED, REJECTED, L7_DENIED or DNS_FAILED` });
    return undefined;
  }
  return expected;
}
