// Kubernetes manifests referenced by scenarios: inline objects, files, and whole directories (so a
// user's GitOps folder can be applied as it is). Read without a cluster: YAML syntax and the fields
// every object needs (apiVersion, kind, metadata.name) are checked here; everything else is the
// API server's job at apply time.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { formatPath } from "./errors.js";
import type { PathError, SpecError } from "./errors.js";
import type { ManifestSourceInput } from "./schema.js";
import { isNearMiss } from "../util/zod-issues.js";
import { parseYamlDocuments } from "./yaml-source.js";
import type { YamlDocument } from "./yaml-source.js";

export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string };
};

export interface KubeManifest {
  object: KubeObject;
  /** Where the object was written, so apply errors can name the file and line too. */
  source: { file: string; line: number };
}

export const YAML_EXTENSIONS = [".yaml", ".yml"] as const;
const KUSTOMIZATION_FILES = new Set(["kustomization.yaml", "kustomization.yml", "Kustomization"]);

export function isYamlFile(name: string): boolean {
  return YAML_EXTENSIONS.some((ext) => name.endsWith(ext));
}

/** Documents conform itself owns (Scenario, LocalCluster, ...), never applied to a cluster. */
export function isConformDocument(value: unknown): boolean {
  return isRecord(value) && typeof value.apiVersion === "string" && value.apiVersion.startsWith("conform.dev/");
}

/** A document meant as a Scenario, including misspelt ones (so their errors get reported). */
export function isScenarioCandidate(value: unknown): boolean {
  if (!isRecord(value)) return false;
  if (value.kind === "Scenario") return true;
  return isConformDocument(value) && (value.kind === undefined || (typeof value.kind === "string" && isNearMiss(value.kind, "Scenario")));
}

function isKustomizeDocument(value: unknown): boolean {
  return isRecord(value) && typeof value.apiVersion === "string" && value.apiVersion.startsWith("kustomize.config.k8s.io/");
}

/** Problems with the fields every Kubernetes object needs, as path errors inside the document. */
export function checkKubeObject(value: unknown, path: PropertyKey[] = []): PathError[] {
  if (!isRecord(value)) return [{ path, message: "expected a Kubernetes object (a map with apiVersion, kind, metadata)" }];
  const errors: PathError[] = [];
  const requireString = (field: PropertyKey[], holder: Record<string, unknown>, key: string) => {
    const v = holder[key];
    if (v === undefined || v === null) errors.push({ path: [...path, ...field, key], message: "missing required field" });
    else if (typeof v !== "string" || v === "") errors.push({ path: [...path, ...field, key], message: "must be a non-empty string" });
  };
  requireString([], value, "apiVersion");
  requireString([], value, "kind");
  if (typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items)) {
    value.items.forEach((item, i) => errors.push(...checkKubeObject(item, [...path, "items", i])));
    return errors;
  }
  if (value.metadata === undefined || value.metadata === null) errors.push({ path: [...path, "metadata"], message: "missing required field" });
  else if (!isRecord(value.metadata)) errors.push({ path: [...path, "metadata"], message: "expected a map" });
  else {
    requireString(["metadata"], value.metadata, "name");
    const ns = value.metadata.namespace;
    if (ns !== undefined && (typeof ns !== "string" || ns === "")) errors.push({ path: [...path, "metadata", "namespace"], message: "must be a non-empty string" });
  }
  return errors;
}

/** Flattens `kind: List` (and *List) objects into their items. */
function flattenLists(value: Record<string, unknown>): Record<string, unknown>[] {
  if (typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items)) {
    return value.items.flatMap((item) => (isRecord(item) ? flattenLists(item) : []));
  }
  return [value];
}

export interface ReadResult {
  manifests: KubeManifest[];
  errors: SpecError[];
}

/**
 * Reads manifest files once per load (a policy file shared by many scenarios is parsed and
 * reported once). `display` turns an absolute path into the form errors print.
 */
export class ManifestReader {
  private readonly cache = new Map<string, ReadResult>();

  constructor(private readonly display: (absolutePath: string) => string) {}

  /** All manifests of one file. `viaDirectory`: conform and kustomize documents are skipped, not errors. */
  readFile(absolutePath: string, viaDirectory: boolean): ReadResult {
    const key = `${viaDirectory ? "d" : "f"}:${absolutePath}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const file = this.display(absolutePath);
    const result: ReadResult = { manifests: [], errors: [] };
    let text: string;
    try {
      text = readFileSync(absolutePath, "utf8");
    } catch (err) {
      result.errors.push({ kind: "io", file, message: (err as Error).message });
      this.cache.set(key, result);
      return result;
    }
    const parsed = parseYamlDocuments(text, file);
    result.errors.push(...parsed.errors);
    for (const doc of parsed.documents) {
      if (isConformDocument(doc.value) || isKustomizeDocument(doc.value)) {
        if (!viaDirectory) {
          const what = isConformDocument(doc.value) ? "a conform document" : "a kustomize file (kustomize is not run; reference the resources directly)";
          result.errors.push({ kind: "reference", file, ...doc.position, message: `is ${what}, not a Kubernetes manifest` });
        }
        continue;
      }
      const problems = checkKubeObject(doc.value);
      if (problems.length > 0) {
        for (const p of problems) result.errors.push(locatedError(file, doc, p));
        continue;
      }
      for (const object of flattenLists(doc.value as Record<string, unknown>)) {
        result.manifests.push({ object: object as KubeObject, source: { file, line: doc.position.line } });
      }
    }
    this.cache.set(key, result);
    return result;
  }

  /** Every *.yaml/*.yml below a directory, sorted, skipping hidden folders and kustomization files. */
  readDirectory(absolutePath: string): ReadResult & { files: number } {
    const files = listYamlFiles(absolutePath).filter((f) => !KUSTOMIZATION_FILES.has(basename(f)));
    const result = { manifests: [] as KubeManifest[], errors: [] as SpecError[], files: files.length };
    for (const f of files) {
      const r = this.readFile(f, true);
      result.manifests.push(...r.manifests);
      result.errors.push(...r.errors);
    }
    return result;
  }
}

/** Recursively lists YAML files, sorted by path so the apply order is reproducible. */
export function listYamlFiles(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    const entries = readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile() && isYamlFile(entry.name)) out.push(full);
    }
  };
  visit(dir);
  return out;
}

export interface SourceContext {
  /** The scenario document the sources were written in (for inline objects and bad paths). */
  doc: YamlDocument;
  /** The scenario file as errors print it, and its absolute path. */
  file: string;
  absoluteFile: string;
  reader: ManifestReader;
}

/** Resolves `apply:`/`delete:`/`fixtures.manifests` entries into manifests, with located errors. */
export function resolveManifestSources(sources: readonly ManifestSourceInput[], pathOf: (index: number) => PropertyKey[], ctx: SourceContext): ReadResult {
  const result: ReadResult = { manifests: [], errors: [] };
  const baseDir = dirname(ctx.absoluteFile);
  sources.forEach((source, i) => {
    const path = pathOf(i);
    if (typeof source !== "string") {
      const problems = checkKubeObject(source);
      if (problems.length > 0) {
        for (const p of problems) result.errors.push(locatedError(ctx.file, ctx.doc, { path: [...path, ...p.path], message: p.message }, "reference"));
        return;
      }
      for (const object of flattenLists(source)) {
        result.manifests.push({ object: object as KubeObject, source: { file: ctx.file, line: ctx.doc.locate(path).line } });
      }
      return;
    }
    const target = resolve(baseDir, source);
    if (!existsSync(target)) {
      result.errors.push(locatedError(ctx.file, ctx.doc, { path, message: `no such file or directory: ${source}` }, "reference"));
      return;
    }
    if (statSync(target).isDirectory()) {
      const r = ctx.reader.readDirectory(target);
      if (r.files === 0) result.errors.push(locatedError(ctx.file, ctx.doc, { path, message: `directory ${source} has no .yaml/.yml files` }, "reference"));
      result.manifests.push(...r.manifests);
      result.errors.push(...r.errors);
      return;
    }
    const r = ctx.reader.readFile(target, false);
    result.manifests.push(...r.manifests);
    result.errors.push(...r.errors);
  });
  return result;
}

export function locatedError(file: string, doc: YamlDocument, error: PathError, kind: SpecError["kind"] = "schema"): SpecError {
  const { line, column } = doc.locate(error.path);
  return { kind, file, line, column, path: error.path.length > 0 ? formatPath(error.path) : undefined, message: error.message };
}

/**
 * `sha256:<hex>` over the manifests in order, each serialised as JSON with sorted keys, so the
 * digest changes exactly when what gets applied changes (not with YAML formatting or comments).
 */
export function manifestDigest(objects: readonly Record<string, unknown>[]): string {
  const hash = createHash("sha256");
  for (const object of objects) hash.update(canonicalJson(object)).update("\n");
  return `sha256:${hash.digest("hex")}`;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The form a path prints in: relative to `cwd` when inside it, absolute otherwise. */
export function displayPath(absolutePath: string, cwd = process.cwd()): string {
  const rel = relative(cwd, absolutePath);
  return rel === "" ? "." : rel.startsWith("..") || resolve(cwd, rel) !== absolutePath ? absolutePath : rel;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
