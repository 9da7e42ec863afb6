// Turns zod issues into short, field-level messages. Unions are resolved to the branch the input
// was evidently meant for (a string for a string branch, a map for an object branch), so users see
// "missing required field" rather than "Invalid input".
import type { z } from "zod";

export interface FieldIssue {
  /** Path of the offending field (for unknown fields: the unknown key itself). */
  path: PropertyKey[];
  message: string;
  /** Set for unknown fields: the position to report is the key, not a value. */
  unknownKey?: boolean;
}

type Issue = z.core.$ZodIssue;

export function fieldIssues(issues: readonly Issue[]): FieldIssue[] {
  const flat: FieldIssue[] = [];
  for (const issue of issues) collect(issue, [], flat);
  return suppressTypoConsequences(flat);
}

function collect(issue: Issue, prefix: PropertyKey[], out: FieldIssue[]): void {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case "unrecognized_keys":
      for (const key of issue.keys) out.push({ path: [...path, key], message: "unknown field", unknownKey: true });
      return;
    case "invalid_union": {
      if (issue.input === undefined) {
        out.push({ path, message: "missing required field" });
        return;
      }
      const branch = pickBranch(issue.errors);
      if (branch) {
        for (const inner of branch) collect(inner, path, out);
      } else {
        const expected = unique(issue.errors.flatMap((errs) => errs.flatMap((e) => expectedAtRoot(e))));
        out.push({ path, message: `expected ${expected.join(" or ") || "a different value"}, got ${describeInput(issue.input)}` });
      }
      return;
    }
    case "invalid_type":
      if (issue.input === undefined) out.push({ path, message: "missing required field" });
      else out.push({ path, message: `expected ${typeName(issue.expected)}, got ${describeInput(issue.input)}` });
      return;
    case "invalid_value": {
      if (issue.input === undefined) {
        out.push({ path, message: "missing required field" });
        return;
      }
      const values = issue.values.map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
      const expected = values.length === 1 ? `"${values[0]}"` : `one of ${values.join(", ")}`;
      out.push({ path, message: `expected ${expected}, got ${describeInput(issue.input)}` });
      return;
    }
    case "too_small":
      out.push({ path, message: sizeMessage(issue.origin, "at least", issue.minimum, issue.inclusive) });
      return;
    case "too_big":
      out.push({ path, message: sizeMessage(issue.origin, "at most", issue.maximum, issue.inclusive) });
      return;
    case "invalid_key":
      for (const inner of issue.issues) out.push({ path, message: `invalid key: ${messageOf(inner)}` });
      return;
    case "invalid_element":
      for (const inner of issue.issues) collect(inner, path, out);
      return;
    default:
      out.push({ path, message: messageOf(issue) });
  }
}

/**
 * The branch whose root type matched the input. A branch "mismatches" when it complains about the
 * type of the value itself (not of a field inside it), directly or through a nested union.
 */
function pickBranch(branches: readonly (readonly Issue[])[]): readonly Issue[] | undefined {
  const matching = branches.filter((issues) => !issues.some(isRootMismatch));
  if (matching.length === 0) return undefined;
  // A branch that only objects to fields inside the value fits better than one rejecting the value
  // itself: `{outcome: DENIED}` is a bad object, not a bad outcome string.
  const rootIssues = (issues: readonly Issue[]) => issues.filter((i) => i.path.length === 0).length;
  return matching.reduce((best, b) => {
    const byRoot = rootIssues(b) - rootIssues(best);
    return byRoot < 0 || (byRoot === 0 && b.length < best.length) ? b : best;
  });
}

function isRootMismatch(issue: Issue): boolean {
  if (issue.path.length > 0) return false;
  if (issue.code === "invalid_type") return true;
  if (issue.code === "invalid_union") return issue.errors.every((errs) => errs.some(isRootMismatch));
  return false;
}

function expectedAtRoot(issue: Issue): string[] {
  if (issue.path.length > 0) return [];
  if (issue.code === "invalid_type") return [typeName(issue.expected)];
  if (issue.code === "invalid_union") return issue.errors.flatMap((errs) => errs.flatMap(expectedAtRoot));
  return [];
}

const TYPE_NAMES: Record<string, string> = {
  object: "a map",
  record: "a map",
  array: "a list",
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

export function describeInput(input: unknown): string {
  if (input === undefined) return "nothing";
  if (input === null) return "null";
  if (Array.isArray(input)) return "a list";
  if (typeof input === "object") return "a map";
  if (typeof input === "string") return JSON.stringify(input.length > 40 ? `${input.slice(0, 37)}...` : input);
  return String(input);
}

function sizeMessage(origin: string, bound: string, limit: number | bigint, inclusive: boolean | undefined): string {
  const n = Number(limit);
  if (origin === "array") {
    const count = inclusive === false ? (bound === "at least" ? n + 1 : n - 1) : n;
    return count === 1 && bound === "at least" ? "must not be empty" : `must have ${bound} ${count} item${count === 1 ? "" : "s"}`;
  }
  if (origin === "string") return n === 1 && bound === "at least" ? "must not be empty" : `must be ${bound} ${n} characters`;
  const op = bound === "at least" ? (inclusive === false ? ">" : ">=") : inclusive === false ? "<" : "<=";
  return `must be ${op} ${n}`;
}

function messageOf(issue: Issue): string {
  return issue.message.replace(/^Invalid input: /, "");
}

/**
 * A misspelt key produces two issues: "unknown field" for the typo and "missing required field"
 * for the key it was meant to be. They are one mistake, so only the unknown field is reported.
 */
function suppressTypoConsequences(issues: FieldIssue[]): FieldIssue[] {
  const unknownByParent = new Map<string, string[]>();
  for (const issue of issues) {
    if (!issue.unknownKey) continue;
    const parent = JSON.stringify(issue.path.slice(0, -1));
    const list = unknownByParent.get(parent) ?? [];
    list.push(String(issue.path[issue.path.length - 1]));
    unknownByParent.set(parent, list);
  }
  return issues.filter((issue) => {
    if (issue.message !== "missing required field") return true;
    const missing = String(issue.path[issue.path.length - 1]);
    const unknown = unknownByParent.get(JSON.stringify(issue.path.slice(0, -1))) ?? [];
    return !unknown.some((u) => isNearMiss(u, missing));
  });
}

/** Case-insensitive equal, or within 2 edits (transpositions count once) for words of 3+ letters. */
export function isNearMiss(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x === y) return true;
  if (Math.min(x.length, y.length) < 3) return false;
  return editDistance(x, y) <= 2;
}

function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
