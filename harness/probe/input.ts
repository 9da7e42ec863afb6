// Reading a batch: JSON text → validated probes. One bad probe does not sink the batch: it becomes
// a PROBE_ERROR result naming the input, line and field, and the others still run.
import type { z } from "zod";
import type { DropNotice, Probe, ProbeKind, ProbeResult } from "./schema.js";
import { DropNoticeSchema, PROBE_KINDS, ProbeSchema } from "./schema.js";

export type BatchItem = { kind: "probe"; probe: Probe } | { kind: "invalid"; result: ProbeResult };

export type ParsedBatch = { ok: true; items: BatchItem[] } | { ok: false; error: string };

type PathKey = string | number;

function pathText(path: readonly PathKey[]): string {
  let out = "";
  for (const k of path) out += typeof k === "number" ? `[${k}]` : out === "" ? k : `.${k}`;
  return out;
}

/**
 * 1-based line of the value at `path` in JSON/YAML `text`. Only error paths need it, so the YAML
 * parser (which keeps source positions, unlike JSON.parse) is loaded on first use: every batch
 * exec pays the client's start-up time.
 */
export async function lineOf(text: string, path: readonly PathKey[]): Promise<number | undefined> {
  const { LineCounter, parseDocument } = await import("yaml");
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Turns V8's "… at position N" into a line:column. */
export function jsonErrorLocation(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (!m?.[1]) return "";
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const col = pos - before.lastIndexOf("\n");
  return `:${line}:${col}`;
}

function issueText(issue: z.core.$ZodIssue): { path: PathKey[]; message: string } {
  const path = issue.path.filter((k): k is PathKey => typeof k !== "symbol");
  if (issue.code === "unrecognized_keys") {
    return { path: [...path, issue.keys[0] ?? ""], message: `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}` };
  }
  if (issue.code === "invalid_union" && "discriminator" in issue) {
    return { path, message: `must be one of ${PROBE_KINDS.join(", ")}` };
  }
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) {
    return { path, message: `missing required field (expected ${issue.expected})` };
  }
  return { path, message: issue.message };
}

function invalid(id: string, kind: ProbeKind | null, detail: string): BatchItem {
  return {
    kind: "invalid",
    result: {
      id,
      kind,
      outcome: "PROBE_ERROR",
      detail,
      source: { address: null, port: null },
      destination: { address: null, port: null },
      timings: { startedAt: new Date().toISOString(), startMs: 0, totalMs: 0 },
    },
  };
}

export async function parseBatchText(text: string, sourceName: string): Promise<ParsedBatch> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, error: `${sourceName}${jsonErrorLocation(text, message)}: not valid JSON: ${message}` };
  }
  if (!Array.isArray(data)) {
    return { ok: false, error: `${sourceName}:${(await lineOf(text, [])) ?? 1}: expected a JSON array of probes, got ${data === null ? "null" : typeof data}` };
  }
  const seen = new Map<string, number>();
  const items: BatchItem[] = [];
  for (const [index, raw] of (data as unknown[]).entries()) {
    const rec = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
    const id = typeof rec.id === "string" && rec.id !== "" ? rec.id : `#${index}`;
    const kind = (PROBE_KINDS as readonly unknown[]).includes(rec.kind) ? (rec.kind as ProbeKind) : null;
    const parsed = ProbeSchema.safeParse(raw);
    if (!parsed.success) {
      const problems: string[] = [];
      for (const issue of parsed.error.issues.slice(0, 3)) {
        const { path, message } = issueText(issue);
        const line = await lineOf(text, [index, ...path]);
        problems.push(`${sourceName}${line ? `:${line}` : ""}: ${pathText([index, ...path])}: ${message}`);
      }
      items.push(invalid(id, kind, `invalid probe: ${problems.join("; ")}`));
      continue;
    }
    const first = seen.get(parsed.data.id);
    if (first !== undefined) {
      const line = await lineOf(text, [index, "id"]);
      items.push(invalid(id, kind, `invalid probe: ${sourceName}${line ? `:${line}` : ""}: [${index}].id: duplicate id (first used by [${first}])`));
      continue;
    }
    seen.set(parsed.data.id, index);
    items.push({ kind: "probe", probe: parsed.data });
  }
  return { ok: true, items };
}

/**
 * The first complete JSON document of `text` that ends at a newline, and what follows it (drop
 * notices, one per line); undefined while the document is still incomplete.
 */
export function splitDocument(text: string): { document: string; rest: string } | undefined {
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
    try {
      JSON.parse(text.slice(0, i + 1));
      return { document: text.slice(0, i + 1), rest: text.slice(i + 1) };
    } catch {
      // Not complete yet: a multi-line document continues on the next line.
    }
  }
  return undefined;
}

/** One drop-notice line from stdin; undefined for anything else (ignored: notices only ever shorten a wait). */
export function parseDropNotice(line: string): DropNotice | undefined {
  try {
    const r = DropNoticeSchema.safeParse(JSON.parse(line));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

