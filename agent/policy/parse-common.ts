/**
 * Helpers shared by the CNP and KNP parsers: problem collection, CIDR and selector parsing.
 */
import type { Selector } from "../identity/selector.js";
import { andSelectors, compileSelector, requirement, selectorHasKeyPrefix, selectorNamesKey, selectorUsesSource } from "../identity/selector.js";
import type { IpPrefix } from "../identity/ip-prefix.js";
import { formatPrefix, parsePrefix, prefixContains } from "../identity/ip-prefix.js";
import { K8S_LABEL } from "../identity/pod-identity.js";
import { LABEL_SOURCES } from "../identity/labels.js";
import type { LabelSelector } from "../identity/selector.js";
import type { Peer, PolicyProblem, PolicyRef } from "./types.js";

export class ProblemSink {
  readonly problems: PolicyProblem[] = [];
  constructor(readonly ref: PolicyRef) {}

  error(path: string, message: string): void {
    this.problems.push({ policy: this.ref, severity: "error", path, message });
  }
  warn(path: string, message: string): void {
    this.problems.push({ policy: this.ref, severity: "warning", path, message });
  }
  get hasErrors(): boolean {
    return this.problems.some((p) => p.severity === "error");
  }
}

/** Parses a prefix for a CIDR rule; host bits set is a warning (the network is used). */
export function parseRulePrefix(sink: ProblemSink, text: string, path: string): IpPrefix | null {
  const r = parsePrefix(text);
  if (!r.ok) {
    sink.error(path, r.message);
    return null;
  }
  if (r.hostBitsSet) sink.warn(path, `"${text}" has host bits set; using ${formatPrefix(r.prefix)}`);
  return r.prefix;
}

/**
 * A CIDR peer with its excepts. `strictExcept` (NetworkPolicy) requires each except to be a
 * strict subset; Cilium's own rules accept an except equal to the cidr.
 */
export function parseCidrPeer(
  sink: ProblemSink,
  cidr: string,
  except: readonly string[],
  path: string,
  exceptPath: string,
  strictExcept: boolean,
): Peer | null {
  const prefix = parseRulePrefix(sink, cidr, path);
  const excepts: string[] = [];
  except.forEach((text, i) => {
    const p = parseRulePrefix(sink, text, `${exceptPath}[${i}]`);
    if (!p || !prefix) return;
    if (p.family !== prefix.family) {
      sink.error(`${exceptPath}[${i}]`, `except "${text}" is not of the same address family as "${cidr}"`);
    } else if (!prefixContains(prefix, p)) {
      sink.error(`${exceptPath}[${i}]`, `except "${text}" is not inside "${cidr}"`);
    } else if (strictExcept && p.len === prefix.len) {
      sink.error(`${exceptPath}[${i}]`, `except "${text}" must be a strict subset of "${cidr}"`);
    } else {
      excepts.push(formatPrefix(p));
    }
  });
  if (!prefix) return null;
  return { kind: "cidr", prefix: formatPrefix(prefix), except: [...new Set(excepts)].sort() };
}

/** Compiles a manifest selector, reporting its problems under `path`. */
export function parseSelector(
  sink: ProblemSink,
  raw: LabelSelector | undefined,
  path: string,
  options: { forceSource?: string; keyPrefix?: string } = {},
): Selector {
  const { selector, problems } = compileSelector(raw, options);
  for (const p of problems) sink.error(`${path}.${p.path}`, p.message);
  return selector;
}

const NS_SOURCES = [LABEL_SOURCES.k8s];

export function namespaceRequirementSelector(namespace: string): Selector {
  return { requirements: [requirement(LABEL_SOURCES.k8s, K8S_LABEL.podNamespace, "In", [namespace])] };
}

export function namespaceExistsSelector(): Selector {
  return { requirements: [requirement(LABEL_SOURCES.k8s, K8S_LABEL.podNamespace, "Exists")] };
}

/**
 * Namespace scoping of a CNP/CCNP peer selector (policy-semantics.md §2.3): selectors naming a
 * reserved label or a namespace are left alone; CNP peers get the policy's namespace unless
 * they select on namespace labels; CCNP peers must at least be pods (namespace label exists),
 * except when the subject is `reserved:init`.
 */
export function scopeCiliumPeerSelector(sel: Selector, namespace: string, clusterwide: boolean, selectsInit: boolean): Selector {
  if (selectorUsesSource(sel, LABEL_SOURCES.reserved)) return sel;
  if (selectorNamesKey(sel, K8S_LABEL.podNamespace, NS_SOURCES)) return sel;
  if (clusterwide) return selectsInit ? sel : andSelectors(sel, namespaceExistsSelector());
  if (selectorHasKeyPrefix(sel, K8S_LABEL.namespaceLabelPrefix, NS_SOURCES)) return sel;
  return andSelectors(sel, namespaceRequirementSelector(namespace));
}

export function selectorPeer(selector: Selector): Peer {
  return { kind: "selector", selector, localCluster: !selectorUsesSource(selector, LABEL_SOURCES.reserved) };
}
