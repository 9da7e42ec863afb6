/**
 * FQDN selectors (`toFQDNs` and DNS L7 rules), policy-semantics.md §8.2, Cilium 1.19 rules:
 * `*` is a run of [-a-z0-9_] that never crosses a dot; a leading `**.` is one or more whole
 * labels; a pattern made only of `*` (optionally ending in `.`) matches every name. Names and
 * patterns are compared lower-case and fully qualified (trailing dot added).
 *
 * The DNS proxy (later) labels the local identity of each learned IP with `fqdn:<selector>` for
 * every selector the queried name matches; toFQDNs peers then select those identities.
 */

const NAME_CHARS = /^[-a-zA-Z0-9_.]+$/;
const PATTERN_CHARS = /^[-a-zA-Z0-9_.*]+$/;

export function toFqdn(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower : `${lower}.`;
}

/** Validates one `{matchName | matchPattern}`; returns the normalised selector text or an error. */
export function normalizeFqdnSelector(sel: { matchName?: string; matchPattern?: string }): { ok: true; text: string } | { ok: false; message: string } {
  const hasName = sel.matchName !== undefined && sel.matchName !== "";
  const hasPattern = sel.matchPattern !== undefined && sel.matchPattern !== "";
  if (hasName === hasPattern) return { ok: false, message: "exactly one of matchName and matchPattern must be set" };
  const text = (hasName ? sel.matchName : sel.matchPattern) as string;
  if (text.length > 255) return { ok: false, message: `"${text}" is longer than 255 characters` };
  if (!(hasName ? NAME_CHARS : PATTERN_CHARS).test(text)) {
    return { ok: false, message: `"${text}" contains characters outside ${hasName ? "[-a-zA-Z0-9_.]" : "[-a-zA-Z0-9_.*]"}` };
  }
  return { ok: true, text: toFqdn(text) };
}

const regexCache = new Map<string, RegExp>();

function patternRegex(pattern: string): RegExp {
  const cached = regexCache.get(pattern);
  if (cached) return cached;
  let body: string;
  if (/^\*+\.?$/.test(pattern)) {
    body = ".*";
  } else {
    let rest = pattern;
    let prefix = "";
    if (rest.startsWith("**.")) {
      prefix = "(?:[-a-z0-9_]+\\.)+";
      rest = rest.slice(3);
    }
    body =
      prefix +
      rest
        .split("")
        .map((c) => (c === "*" ? "[-a-z0-9_]*" : c === "." ? "\\." : c))
        .join("");
  }
  const re = new RegExp(`^${body}$`);
  regexCache.set(pattern, re);
  return re;
}

/** Whether a DNS name matches a normalised selector text (see normalizeFqdnSelector). */
export function fqdnSelectorMatches(selectorText: string, name: string): boolean {
  return patternRegex(toFqdn(selectorText)).test(toFqdn(name));
}
