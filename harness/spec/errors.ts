// One error type for everything the loader and `conform lint` report. Every error names the
// file and, when it comes from a YAML node, the line (and column) and the field path.

export const SPEC_ERROR_KINDS = ["syntax", "schema", "reference", "io"] as const;
export type SpecErrorKind = (typeof SPEC_ERROR_KINDS)[number];

export interface SpecError {
  kind: SpecErrorKind;
  file: string;
  /** 1-based; absent when the error is about the file as a whole (e.g. it does not exist). */
  line?: number;
  column?: number;
  /** Field path inside the YAML document, e.g. `spec.steps[1].expect.matrix.form`. */
  path?: string;
  message: string;
}

/**
 * `file:line: path: message` for schema and reference errors (what editors and CI annotators
 * parse), `file:line:col: message` for YAML syntax errors, whose column matters.
 */
export function formatSpecError(error: SpecError): string {
  let where = error.file;
  if (error.line !== undefined) {
    where += `:${error.line}`;
    if (error.kind === "syntax" && error.column !== undefined) where += `:${error.column}`;
  }
  return error.path ? `${where}: ${error.path}: ${error.message}` : `${where}: ${error.message}`;
}

/**
 * Stable order for printing: by file (the files in `leadingFiles` first, in that order, then the
 * others as first seen), then line, then column.
 */
export function sortSpecErrors(errors: readonly SpecError[], leadingFiles: readonly string[] = []): SpecError[] {
  const fileOrder = new Map<string, number>();
  for (const f of leadingFiles) if (!fileOrder.has(f)) fileOrder.set(f, fileOrder.size);
  for (const e of errors) if (!fileOrder.has(e.file)) fileOrder.set(e.file, fileOrder.size);
  return errors
    .map((e, i) => ({ e, i }))
    .sort(
      (a, b) =>
        fileOrder.get(a.e.file)! - fileOrder.get(b.e.file)! ||
        (a.e.line ?? 0) - (b.e.line ?? 0) ||
        (a.e.column ?? 0) - (b.e.column ?? 0) ||
        a.i - b.i,
    )
    .map(({ e }) => e);
}

/** Drops exact duplicates (a manifest file referenced by two scenarios is reported once). */
export function dedupeSpecErrors(errors: readonly SpecError[]): SpecError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.kind}\u0000${formatSpecError(e)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export class SpecLoadError extends Error {
  constructor(readonly errors: SpecError[]) {
    super(errors.map(formatSpecError).join("\n"));
    this.name = "SpecLoadError";
  }
}

/** Formats a path like `spec.steps[1].expect.matrix.from["shop/frontend"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = String(segment);
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) out += out === "" ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** An error found by a semantic check, before it is placed in a file: the loader locates `path`. */
export interface PathError {
  path: PropertyKey[];
  message: string;
}
