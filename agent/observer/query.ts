/**
 * A flow query: the allowlist plus the selection flags (`--since`, `--until`, `--first`,
 * `--last`, `--all`, `--follow`). The same names serve as CLI flags and as `/v1/flows` query
 * parameters, so the CLI forwards its flags to every agent unchanged and re-applies the query
 * to the merged stream.
 */
import type { StoredFlow } from "./decode.js";
import { buildFlowFilters, FILTER_FLAGS, FilterError, matchesAny, type FilterFlags, type FlowFilter } from "./filters.js";
import { nowEpochNs, parseSinceNs } from "./time.js";

export interface FlowQuery {
  readonly filters: readonly FlowFilter[];
  readonly sinceNs?: bigint;
  readonly untilNs?: bigint;
  readonly first?: number;
  readonly last?: number;
  readonly follow: boolean;
}

export const SELECTION_PARAMS = ["since", "until", "first", "last", "all", "follow"] as const;

/** Reads every value of a flag or parameter (repeatable). */
export type ParamGetter = (name: string) => readonly string[];

function single(get: ParamGetter, name: string): string | undefined {
  const values = get(name);
  if (values.length > 1) throw new FilterError(name, "given more than once");
  return values[0];
}

function count(get: ParamGetter, name: string): number | undefined {
  const v = single(get, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new FilterError(name, `must be a non-negative integer, not "${v}"`);
  return Number(v);
}

function bool(get: ParamGetter, name: string): boolean {
  const v = single(get, name);
  if (v === undefined || v === "false" || v === "0") return false;
  if (v === "" || v === "true" || v === "1") return true;
  throw new FilterError(name, `must be true or false, not "${v}"`);
}

export interface ParseQueryOptions {
  readonly nowNs?: bigint;
  /** Hubble's CLI shows the last 20 flows when nothing else selects; the API returns the whole ring. */
  readonly defaultLast?: number;
}

export function parseFlowQuery(get: ParamGetter, opts: ParseQueryOptions = {}): FlowQuery {
  const flags: FilterFlags = {};
  for (const f of FILTER_FLAGS) {
    const values = get(f);
    if (values.length) flags[f] = values;
  }
  const now = opts.nowNs ?? nowEpochNs();
  const time = (name: string): bigint | undefined => {
    const v = single(get, name);
    if (v === undefined) return undefined;
    const ns = parseSinceNs(v, now);
    if (ns === undefined) throw new FilterError(name, `"${v}" is neither a duration (30s, 5m, 1h30m) nor an RFC 3339 time`);
    return ns;
  };
  const follow = bool(get, "follow");
  const all = bool(get, "all");
  const first = count(get, "first");
  let last = count(get, "last");
  const sinceNs = time("since");
  const untilNs = follow ? undefined : time("until");
  if (first !== undefined && (last !== undefined || all || follow)) throw new FilterError("first", "cannot be combined with --last, --all or --follow");
  if (all && last !== undefined) throw new FilterError("all", "cannot be combined with --last");
  if (last === undefined && !all && first === undefined && !follow && sinceNs === undefined && untilNs === undefined) last = opts.defaultLast;
  // --follow alone shows nothing from the past.
  if (follow && last === undefined && sinceNs === undefined && !all) last = 0;
  return {
    filters: buildFlowFilters(flags),
    ...(sinceNs !== undefined ? { sinceNs } : {}),
    ...(untilNs !== undefined ? { untilNs } : {}),
    ...(first !== undefined ? { first } : {}),
    ...(last !== undefined ? { last } : {}),
    follow,
  };
}

/** Filters and time window only (no first/last): what a live flow must pass under --follow. */
export function matchesQuery(f: StoredFlow, q: FlowQuery): boolean {
  if (q.sinceNs !== undefined && f.timeNs < q.sinceNs) return false;
  if (q.untilNs !== undefined && f.timeNs > q.untilNs) return false;
  return matchesAny(f.flow, q.filters);
}

/** The historical part of a query over flows in time order. */
export function selectFlows(flows: Iterable<StoredFlow>, q: FlowQuery): StoredFlow[] {
  const out: StoredFlow[] = [];
  for (const f of flows) {
    if (!matchesQuery(f, q)) continue;
    out.push(f);
    if (q.first !== undefined && out.length >= q.first) break;
  }
  if (q.last !== undefined) return q.last === 0 ? [] : out.slice(-q.last);
  return out;
}

/** Query parameters reproducing `get`'s flags, for forwarding a CLI query to agents. */
export function queryParams(get: ParamGetter): URLSearchParams {
  const params = new URLSearchParams();
  for (const name of [...FILTER_FLAGS, ...SELECTION_PARAMS]) for (const v of get(name)) params.append(name, v);
  return params;
}
