// YAML + zod with errors a person can act on: every problem names the file, line and field path,
// and all problems are reported at once, not just the first.
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node } from "yaml";
import type { z } from "zod";
import { fieldIssues } from "./zod-issues.js";

export interface InputProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Field path such as `spec.steps[1].expect.matrix.form`; empty for whole-document problems. */
  readonly path: string;
  readonly message: string;
}

export class InputError extends Error {
  constructor(readonly problems: readonly InputProblem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "InputError";
  }
}

export function formatProblem(p: InputProblem): string {
  return `${p.file}:${p.line}: ${p.path ? `${p.path}: ` : ""}${p.message}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), "");
}

/** The node at `path` in a YAML document, or the deepest existing ancestor. */
function nodeAt(doc: Document, path: readonly PropertyKey[]): { node: Node | null; keyNode?: Node } {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => (it.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number" && node.items[key] !== undefined) {
      keyNode = undefined;
      node = node.items[key];
    } else break;
  }
  return { node: (node as Node | null) ?? null, ...(keyNode ? { keyNode } : {}) };
}

/** Problems for one parsed YAML document checked against `schema`; `data` when valid. */
export function checkDocument<S extends z.ZodType>(
  file: string,
  doc: Document,
  lines: LineCounter,
  schema: S,
): { data: z.output<S>; problems: [] } | { data?: undefined; problems: InputProblem[] } {
  const pos = (offset: number | undefined) => {
    const lp = lines.linePos(offset ?? 0);
    return { line: lp.line, column: lp.col };
  };
  if (doc.errors.length > 0) {
    return { problems: doc.errors.map((e) => ({ file, ...pos(e.pos[0]), path: "", message: e.message.split("\n")[0] ?? e.message })) };
  }
  const result = schema.safeParse(doc.toJS(), { reportInput: true });
  if (result.success) return { data: result.data, problems: [] };
  const problems: InputProblem[] = fieldIssues(result.error.issues).map((issue) => {
    const { node, keyNode } = nodeAt(doc, issue.path);
    const at = issue.unknownKey ? (keyNode ?? node) : (node ?? keyNode);
    return { file, ...pos(at?.range?.[0]), path: formatPath(issue.path), message: issue.message };
  });
  return { problems };
}

/** Parses a single-document YAML file and validates it; throws InputError listing every problem. */
export function parseYamlWithSchema<S extends z.ZodType>(file: string, text: string, schema: S): z.output<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const checked = checkDocument(file, doc, lines, schema);
  if (checked.problems.length > 0) throw new InputError(checked.problems);
  return checked.data as z.output<S>;
}
