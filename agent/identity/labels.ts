/**
 * Security-identity label sets.
 *
 * A label set is a plain record keyed by `source:key` (for example `k8s:app`,
 * `reserved:host`, `cidr:10.0.0.0/8`) with the label value as value. Plain records keep the
 * sets JSON-serialisable, so they can travel in CiliumIdentity objects and test fixtures as is.
 * The source is everything before the first `:`; Kubernetes label keys cannot contain `:`, so
 * the split is unambiguous for every label we generate.
 */
import { z } from "zod";

export type Labels = Readonly<Record<string, string>>;

/** Label sources used by conform; other sources are accepted and matched literally. */
export const LABEL_SOURCES = {
  k8s: "k8s",
  reserved: "reserved",
  cidr: "cidr",
  fqdn: "fqdn",
  /** Selector-only wildcard source: matches a label of any source. */
  any: "any",
  /** Source given to an identity label written without one. */
  unspec: "unspec",
} as const;

export const LabelsSchema = z.record(z.string().min(1), z.string());

export interface ParsedLabelKey {
  readonly source: string;
  readonly key: string;
}

/**
 * Splits `source:key`. A key without a source gets `fallbackSource`: selectors pass `any`
 * (Cilium sanitises unprefixed selector keys to `any:`), identity label sets pass `unspec`.
 */
export function parseLabelKey(raw: string, fallbackSource: string): ParsedLabelKey {
  const colon = raw.indexOf(":");
  if (colon <= 0) return { source: fallbackSource, key: colon === 0 ? raw.slice(1) : raw };
  return { source: raw.slice(0, colon), key: raw.slice(colon + 1) };
}

export function labelKey(source: string, key: string): string {
  return `${source}:${key}`;
}

/** Returns a copy where every key carries a source (unprefixed keys get `unspec:`). */
export function normalizeLabels(labels: Readonly<Record<string, string>>): Labels {
  const out: Record<string, string> = {};
  for (const [raw, value] of Object.entries(labels)) {
    const { source, key } = parseLabelKey(raw, LABEL_SOURCES.unspec);
    out[labelKey(source, key)] = value;
  }
  return out;
}

/**
 * The stable identity key of a label set: `source:key=value` items sorted by code unit and
 * joined by `;`. Two label sets are the same identity iff their canonical keys are equal.
 */
export function canonicalKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(";");
}

/** Inverse of canonicalKey, for identities stored under their key. */
export function labelsFromCanonicalKey(canonical: string): Labels {
  const out: Record<string, string> = {};
  if (canonical === "") return out;
  for (const item of canonical.split(";")) {
    const eq = item.indexOf("=");
    if (eq < 0) out[item] = "";
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Per-key view of a label set: bare key → [(source, value)…]. Used by selector matching. */
export type LabelIndex = ReadonlyMap<string, ReadonlyArray<readonly [source: string, value: string]>>;

const indexCache = new WeakMap<Labels, LabelIndex>();

/** Builds (and memoises per label-set object) the bare-key index of a label set. */
export function indexLabels(labels: Labels): LabelIndex {
  const cached = indexCache.get(labels);
  if (cached) return cached;
  const index = new Map<string, Array<readonly [string, string]>>();
  for (const [raw, value] of Object.entries(labels)) {
    const { source, key } = parseLabelKey(raw, LABEL_SOURCES.unspec);
    const list = index.get(key);
    if (list) list.push([source, value]);
    else index.set(key, [[source, value]]);
  }
  indexCache.set(labels, index);
  return index;
}

export function hasSourceLabel(labels: Labels, source: string, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(labels, labelKey(source, key));
}
