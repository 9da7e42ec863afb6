/**
 * Kubernetes label-selector syntax over flow endpoint labels (`k8s:app=x` strings), as
 * `hubble observe --label` matches it: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
 * `a`, `!a`, comma = AND. A key may name its source (`k8s:app`, `reserved:world`); a bare key
 * matches any source.
 */

type Op = "exists" | "notexists" | "in" | "notin";
interface Requirement {
  readonly source: string | undefined;
  readonly key: string;
  readonly op: Op;
  readonly values: readonly string[];
}
export type LabelSelector = readonly Requirement[];

export class LabelSelectorError extends Error {}

function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms.map((t) => t.trim());
}

function splitKey(raw: string): { source: string | undefined; key: string } {
  const colon = raw.indexOf(":");
  if (colon <= 0) return { source: undefined, key: raw };
  const source = raw.slice(0, colon);
  return { source: source === "any" ? undefined : source, key: raw.slice(colon + 1) };
}

const KEY_RE = /^[A-Za-z0-9_.\-/:]+$/;

function requirement(term: string): Requirement {
  let m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) {
    const values = (m[3] ?? "").split(",").map((v) => v.trim());
    return { ...splitKey(m[1] ?? ""), op: m[2] === "in" ? "in" : "notin", values };
  }
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (m) return { ...splitKey(m[1] ?? ""), op: m[2] === "!=" ? "notin" : "in", values: [m[3] ?? ""] };
  m = /^!\s*(\S+)$/.exec(term);
  if (m && KEY_RE.test(m[1] ?? "")) return { ...splitKey(m[1] ?? ""), op: "notexists", values: [] };
  if (KEY_RE.test(term)) return { ...splitKey(term), op: "exists", values: [] };
  throw new LabelSelectorError(`invalid label selector term "${term}"`);
}

export function parseLabelSelector(text: string): LabelSelector {
  const terms = splitTerms(text);
  if (terms.some((t) => t === "")) throw new LabelSelectorError(`invalid label selector "${text}": empty term`);
  return terms.map(requirement);
}

interface ParsedLabel {
  source: string;
  key: string;
  value: string;
}

function parseLabel(label: string): ParsedLabel {
  const colon = label.indexOf(":");
  const source = colon > 0 ? label.slice(0, colon) : "unspec";
  const rest = colon > 0 ? label.slice(colon + 1) : label;
  const eq = rest.indexOf("=");
  return eq < 0 ? { source, key: rest, value: "" } : { source, key: rest.slice(0, eq), value: rest.slice(eq + 1) };
}

export function matchesLabelSelector(selector: LabelSelector, labels: readonly string[] | undefined): boolean {
  const parsed = (labels ?? []).map(parseLabel);
  return selector.every((r) => {
    const hits = parsed.filter((l) => l.key === r.key && (r.source === undefined || l.source === r.source));
    switch (r.op) {
      case "exists":
        return hits.length > 0;
      case "notexists":
        return hits.length === 0;
      case "in":
        return hits.some((l) => r.values.includes(l.value));
      case "notin":
        return !hits.some((l) => r.values.includes(l.value));
    }
  });
}
