/**
 * compilePolicies: parsed policies + endpoints + identities → desired `cf_policy_v1` state per
 * endpoint (policy-semantics.md §0). Pure and deterministic: the same input gives the same
 * output, entry order included.
 */
import type { Labels } from "../identity/labels.js";
import { LABEL_SOURCES, hasSourceLabel } from "../identity/labels.js";
import type { Selector } from "../identity/selector.js";
import { andSelectors, requirement, selectorNamesKey, selectorString } from "../identity/selector.js";
import { SelectorIndex } from "../identity/selector-index.js";
import { K8S_LABEL } from "../identity/pod-identity.js";
import { RESERVED_IDENTITY, RESERVED_LABEL, reservedIdentities } from "../identity/reserved.js";
import type { IpPrefix } from "../identity/ip-prefix.js";
import { parsePrefix, prefixContains } from "../identity/ip-prefix.js";
import { cidrPrefixesOfLabels } from "../identity/local-identity.js";
import type { Contribution, FinalizeProblem } from "./map-state.js";
import { contributeAllow, contributeDeny, finalizeContribution, newContribution, shadowAuditDenies, tupleKey, widenRedirects } from "./map-state.js";
import { expandPortRange, L4_PROTOCOL_NUMBER } from "./ports.js";
import { SYNTHESIZED_RULE_REF, allocateRuleRefs, ruleIdsByKey, ruleRefKey } from "./rule-refs.js";
import { collectCidrPrefixes, collectFqdnSelectors } from "./references.js";
import type {
  DefaultDenyCause,
  Endpoint,
  EndpointInput,
  EndpointMode,
  EndpointPolicy,
  EngineConfig,
  EngineConfigInput,
  HostEndpointInput,
  IdentityInput,
  KnownIdentity,
  L7Spec,
  NamedPort,
  ParsedPolicy,
  ParsedRule,
  Peer,
  PolicyEntry,
  PolicyProblem,
  PolicyRef,
  RuleElement,
  RuleRefTable,
} from "./types.js";
import {
  DIRECTION_CODE,
  ENDPOINT_MODE,
  EndpointInputSchema,
  EngineConfigSchema,
  HostEndpointInputSchema,
  IdentityInputSchema,
  POLICY_ACTION,
  comparePolicyRefs,
  policyKeyString,
  policyRefKey,
} from "./types.js";

export interface CompileInput {
  readonly config?: EngineConfigInput;
  /** Last good parsed form of every policy (see applyPolicyEvent). */
  readonly policies: readonly ParsedPolicy[];
  /** Endpoints on this node. */
  readonly endpoints: readonly EndpointInput[];
  /**
   * This node's host endpoint: the subject of CCNP `nodeSelector` rules (Cilium's host
   * firewall). Absent = host policies compile to nothing (no node to select).
   */
  readonly host?: HostEndpointInput;
  /** Identities known cluster-wide, including CIDR identities for collectCidrPrefixes(). */
  readonly identities: readonly IdentityInput[];
  /** The previous result's ruleRefs, to keep rule_ref ids stable. */
  readonly previousRuleRefs?: RuleRefTable;
}

export interface CompileStats {
  readonly policies: number;
  readonly rules: number;
  readonly elements: number;
  readonly endpoints: number;
  readonly identities: number;
  readonly entries: number;
}

export interface CompileResult {
  readonly state: ReadonlyMap<number, EndpointPolicy>;
  readonly ruleRefs: RuleRefTable;
  /** Compile-time findings (parse problems are reported by parsePolicy). */
  readonly problems: readonly PolicyProblem[];
  /** Prefixes (and excepts) the policies reference; each needs a local CIDR identity. `/0` maps to world and is not listed. */
  readonly cidrPrefixes: readonly string[];
  /** toFQDNs selectors; the DNS proxy labels learned IPs' identities with `fqdn:<selector>`. */
  readonly fqdnSelectors: readonly string[];
  readonly stats: CompileStats;
}

interface Tuple {
  readonly k: string;
  readonly identity: number;
  readonly proto: number;
  readonly dport: number;
  readonly l7: L7Spec | null;
}

interface DirectionAcc {
  readonly contributions: Map<string, Contribution>;
  readonly selectedBy: Map<string, { ref: PolicyRef; audit: boolean }>;
  readonly defaultDenyBy: Map<string, { ref: PolicyRef; audit: boolean }>;
}

function newDirectionAcc(): DirectionAcc {
  return { contributions: new Map(), selectedBy: new Map(), defaultDenyBy: new Map() };
}

const CLUSTER_KEY_SOURCES = [LABEL_SOURCES.k8s];
/** Entries per endpoint from one rule element above which the policy gets a warning. */
const LARGE_EXPANSION = 10_000;

export function compilePolicies(input: CompileInput): CompileResult {
  const config = EngineConfigSchema.parse(input.config ?? {});
  const endpoints = parseEndpoints(input.endpoints);
  const hostEndpoint = input.host ? buildHostEndpoint(input.host, endpoints) : undefined;
  const identities = buildIdentityTable(input.identities, endpoints, config);
  const policies = dedupePolicies(input.policies);
  const ruleRefs = allocateRuleRefs(policies, input.previousRuleRefs);
  const ruleIds = ruleIdsByKey(ruleRefs);
  const problems: PolicyProblem[] = [];
  const cidrPrefixes = collectCidrPrefixes(policies);
  const fqdnSelectors = collectFqdnSelectors(policies);
  reportMissingCidrIdentities(policies, identities, problems);

  const identityList = [...identities.values()];
  const identityIndex = new SelectorIndex(identityList, (i) => i.labels);
  const endpointIndex = new SelectorIndex(endpoints, (e) => e.labels);
  const cidrIdentities = identityList
    .map((i) => ({ id: i.id, prefixes: cidrPrefixesOfLabels(i.labels) }))
    .filter((c) => c.prefixes.length > 0);
  const namedPortsAll = unionNamedPorts(identityList);

  const hostIndex = new SelectorIndex(hostEndpoint ? [hostEndpoint] : [], (e) => e.labels);
  // Pods first, the host endpoint last: state and entry order stay deterministic.
  const subjectsAll = hostEndpoint ? [...endpoints, hostEndpoint] : endpoints;
  const accs = new Map<number, { ingress: DirectionAcc; egress: DirectionAcc }>();
  for (const ep of subjectsAll) accs.set(ep.epId, { ingress: newDirectionAcc(), egress: newDirectionAcc() });

  const peerCache = new Map<string, number[]>();
  const resolvePeer = (peer: Peer): number[] => {
    const cacheKey = peerCacheKey(peer);
    const cached = peerCache.get(cacheKey);
    if (cached) return cached;
    let ids: number[];
    switch (peer.kind) {
      case "any":
        ids = [0];
        break;
      case "selector": {
        let sel = peer.selector;
        if (peer.localCluster && config.policyDefaultLocalCluster && !selectorNamesKey(sel, K8S_LABEL.cluster, CLUSTER_KEY_SOURCES)) {
          sel = andSelectors(sel, clusterSelector(config.clusterName));
        }
        ids = identityIndex.select(sel).map((i) => i.id);
        break;
      }
      case "local-cluster":
        ids = identityIndex.select(clusterSelector(config.clusterName)).map((i) => i.id);
        break;
      case "cidr":
        ids = resolveCidrPeer(peer.prefix, peer.except, cidrIdentities, identities, config);
        break;
      case "fqdn":
        ids = identityIndex.select({ requirements: [requirement(LABEL_SOURCES.fqdn, peer.selector, "Exists")] }).map((i) => i.id);
        break;
    }
    peerCache.set(cacheKey, ids);
    return ids;
  };

  const subjectCache = new Map<string, Endpoint[]>();
  // An endpointSelector never selects the host, a nodeSelector only the host (policy-semantics.md §1.1).
  const selectSubjects = (rule: ParsedRule): Endpoint[] => {
    const k = `${rule.host === true ? "host" : "ep"}:${selectorString(rule.subject)}`;
    let eps = subjectCache.get(k);
    if (!eps) subjectCache.set(k, (eps = (rule.host === true ? hostIndex : endpointIndex).select(rule.subject)));
    return eps;
  };

  let ruleCount = 0;
  let elementCount = 0;
  if (config.enforcementMode !== "never") {
    for (const policy of policies) {
      const audit = policy.audit || config.auditMode;
      const policyKey = policyRefKey(policy.ref);
      for (const rule of policy.rules) {
        ruleCount++;
        const subjects = selectSubjects(rule);
        for (const el of rule.elements) {
          elementCount++;
          if (subjects.length === 0) continue;
          const ruleRef = ruleIds.get(ruleRefKey({ ...policy.ref, path: el.path })) as number;
          const defaultDeny = config.enableNonDefaultDenyPolicies ? el.defaultDeny : true;
          const peerIds = unionIds(el.peers.map(resolvePeer));
          const staticTuples = expandStatic(el, peerIds, (id, name) => (id === 0 ? (namedPortsAll.get(name) ?? []) : (identities.get(id)?.namedPorts[name] ?? [])));
          if (staticTuples.length > LARGE_EXPANSION) {
            problems.push({
              policy: policy.ref,
              severity: "warning",
              path: el.path,
              message: `expands to ${staticTuples.length} map entries per selected endpoint (port ranges are written one entry per port); consider narrowing the range or the peers`,
            });
          }
          const ingressNamed = el.direction === "ingress" && peerIds.length > 0 ? namedPortSpecs(el) : [];
          for (const ep of subjects) {
            const acc = (accs.get(ep.epId) as { ingress: DirectionAcc; egress: DirectionAcc })[el.direction];
            acc.selectedBy.set(policyKey, { ref: policy.ref, audit });
            if (defaultDeny) acc.defaultDenyBy.set(policyKey, { ref: policy.ref, audit });
            for (const t of staticTuples) contribute(acc, t, el, ruleRef, audit);
            for (const named of ingressNamed) {
              // Ingress named ports resolve on the subject endpoint (policy-semantics.md §5.3).
              const np = ep.namedPorts[named.name];
              if (!np) continue;
              const proto = L4_PROTOCOL_NUMBER[np.protocol] as number;
              if (!named.protocols.includes(proto)) continue;
              for (const id of peerIds) contribute(acc, makeTuple(id, proto, np.port, named.l7), el, ruleRef, audit);
            }
          }
        }
      }
    }
  }

  const finalizeProblems: FinalizeProblem[] = [];
  const state = new Map<number, EndpointPolicy>();
  let entryCount = 0;
  for (const ep of subjectsAll) {
    const acc = accs.get(ep.epId) as { ingress: DirectionAcc; egress: DirectionAcc };
    const result = finalizeEndpoint(ep, acc, config, finalizeProblems, ep === hostEndpoint);
    entryCount += result.entries.size;
    state.set(ep.epId, result);
  }
  for (const fp of finalizeProblems) {
    const info = ruleRefs.get(fp.ruleRef);
    if (!info || info.kind === "Synthesized") continue;
    const problem: PolicyProblem = { policy: { kind: info.kind, namespace: info.namespace, name: info.name }, severity: "warning", path: info.path, message: fp.message };
    if (!problems.some((p) => p.policy.name === problem.policy.name && p.path === problem.path && p.message === problem.message)) problems.push(problem);
  }

  return {
    state,
    ruleRefs,
    problems,
    cidrPrefixes,
    fqdnSelectors,
    stats: {
      policies: policies.length,
      rules: ruleCount,
      elements: elementCount,
      endpoints: subjectsAll.length,
      identities: identities.size,
      entries: entryCount,
    },
  };
}

function contribute(acc: DirectionAcc, t: Tuple, el: RuleElement, ruleRef: number, audit: boolean): void {
  let c = acc.contributions.get(t.k);
  if (!c) acc.contributions.set(t.k, (c = newContribution(t.identity, t.proto, t.dport)));
  if (el.verdict === "deny") contributeDeny(c, ruleRef, audit);
  else contributeAllow(c, ruleRef, t.l7);
}

function makeTuple(identity: number, proto: number, dport: number, l7: L7Spec | null): Tuple {
  return { k: tupleKey(identity, proto, dport), identity, proto, dport, l7 };
}

/** Tuples that do not depend on the subject endpoint (everything but ingress named ports). */
function expandStatic(el: RuleElement, peerIds: readonly number[], namedPortsOf: (id: number, name: string) => readonly NamedPort[]): Tuple[] {
  const out: Tuple[] = [];
  if (peerIds.length === 0) return out;
  if (el.l4 === null) {
    for (const id of peerIds) out.push(makeTuple(id, 0, 0, null));
    return out;
  }
  for (const pr of el.l4.portRules) {
    for (const ps of pr.ports) {
      if (ps.kind === "number") {
        const ports = expandPortRange(ps.port, ps.endPort);
        for (const proto of ps.protocols) for (const port of ports) for (const id of peerIds) out.push(makeTuple(id, proto, port, pr.l7));
      } else if (el.direction === "egress") {
        // Egress named ports resolve per destination identity.
        for (const id of peerIds) {
          for (const np of namedPortsOf(id, ps.name)) {
            const proto = L4_PROTOCOL_NUMBER[np.protocol] as number;
            if (ps.protocols.includes(proto)) out.push(makeTuple(id, proto, np.port, pr.l7));
          }
        }
      }
    }
  }
  for (const ic of el.l4.icmps) for (const id of peerIds) out.push(makeTuple(id, ic.proto, ic.type, null));
  return out;
}

function namedPortSpecs(el: RuleElement): Array<{ name: string; protocols: readonly number[]; l7: L7Spec | null }> {
  if (el.l4 === null) return [];
  return el.l4.portRules.flatMap((pr) => pr.ports.flatMap((ps) => (ps.kind === "named" ? [{ name: ps.name, protocols: ps.protocols, l7: pr.l7 }] : [])));
}

function finalizeEndpoint(ep: Endpoint, acc: { ingress: DirectionAcc; egress: DirectionAcc }, config: EngineConfig, problems: FinalizeProblem[], isHost: boolean): EndpointPolicy {
  const entries = new Map<string, PolicyEntry>();
  const isInit = hasSourceLabel(ep.labels, LABEL_SOURCES.reserved, "init");
  // conform decision: `always` does not force the host endpoint into default deny (Cilium does,
  // with its host firewall on). Nothing would admit the node's own control-plane traffic then;
  // only nodeSelector rules put the host under enforcement.
  const forced = (config.enforcementMode === "always" && !isHost) || isInit;
  const modes = { ingress: ENDPOINT_MODE.notEnforced as EndpointMode, egress: ENDPOINT_MODE.notEnforced as EndpointMode };
  const causes = { ingress: "none" as DefaultDenyCause, egress: "none" as DefaultDenyCause };
  const never = config.enforcementMode === "never";

  for (const direction of ["ingress", "egress"] as const) {
    const d = acc[direction];
    const code = DIRECTION_CODE[direction];
    const enforced = !never && (forced || d.selectedBy.size > 0);
    if (!enforced) continue;
    const defaultDeny = forced || d.defaultDenyBy.size > 0;
    causes[direction] = !defaultDeny ? "none" : d.defaultDenyBy.size > 0 ? "policy" : isInit ? "init-identity" : "enforcement-always";

    const dirEntries = new Map<string, PolicyEntry>();
    for (const c of d.contributions.values()) {
      const e = finalizeContribution(ep.epId, code, c, problems);
      dirEntries.set(policyKeyString(e.key), e);
    }
    // Synthesized allows sit at the lowest priority: only where no rule wrote the key, and any
    // deny still wins at lookup (policy-semantics.md §1.2).
    if (!defaultDeny) {
      addSynthesizedAllow(dirEntries, ep.epId, code, 0, direction === "ingress" ? SYNTHESIZED_RULE_REF.allowAnyIngress : SYNTHESIZED_RULE_REF.allowAnyEgress);
    }
    // Cilium adds the host allow to every non-host endpoint's policy (DistillPolicy), whatever
    // selects it: under `always` the kubelet's probes still reach a pod no policy selects.
    if (direction === "ingress" && defaultDeny && config.allowLocalhost === "always" && ep.identity !== RESERVED_IDENTITY.host) {
      addSynthesizedAllow(dirEntries, ep.epId, code, RESERVED_IDENTITY.host, SYNTHESIZED_RULE_REF.allowLocalhostIngress);
    }
    widenRedirects(dirEntries);
    shadowAuditDenies(dirEntries);
    for (const [k, e] of dirEntries) entries.set(k, e);

    const auditing =
      config.auditMode ||
      (defaultDeny && !forced && [...d.defaultDenyBy.values()].every((p) => p.audit)) ||
      (!defaultDeny && [...d.selectedBy.values()].every((p) => p.audit));
    modes[direction] = auditing ? ENDPOINT_MODE.audit : ENDPOINT_MODE.enforced;
  }

  const refs = (m: Map<string, { ref: PolicyRef }>): PolicyRef[] => [...m.values()].map((v) => v.ref).sort(comparePolicyRefs);
  const sortedEntries = new Map([...entries.entries()].sort((a, b) => compareKeys(a[1], b[1])));
  return {
    epId: ep.epId,
    ingressMode: modes.ingress,
    egressMode: modes.egress,
    entries: sortedEntries,
    defaultDenyBy: { ingress: refs(acc.ingress.defaultDenyBy), egress: refs(acc.egress.defaultDenyBy) },
    defaultDenyCause: causes,
    selectedBy: { ingress: never ? [] : refs(acc.ingress.selectedBy), egress: never ? [] : refs(acc.egress.selectedBy) },
  };
}

export function compareKeys(a: PolicyEntry, b: PolicyEntry): number {
  return (
    a.key.epId - b.key.epId ||
    a.key.direction - b.key.direction ||
    a.key.identity - b.key.identity ||
    a.key.proto - b.key.proto ||
    a.key.dport - b.key.dport
  );
}

function addSynthesizedAllow(entries: Map<string, PolicyEntry>, epId: number, direction: 0 | 1, identity: number, ruleRef: number): void {
  const key = { epId, identity, proto: 0, dport: 0, direction };
  const k = policyKeyString(key);
  if (entries.has(k)) return;
  entries.set(k, { key, value: { action: POLICY_ACTION.allow, flags: 0, proxyPort: 0, ruleRef }, origins: [ruleRef], redirect: null });
}

/**
 * The host endpoint as the engine sees it: identity host (1), labels `reserved:host` plus the
 * Node's labels with source `k8s` (what a nodeSelector matches; unprefixed selector keys match
 * any source). Its identity keeps only the reserved label: peers never select the host by node
 * labels.
 */
function buildHostEndpoint(input: HostEndpointInput, pods: readonly Endpoint[]): Endpoint {
  const h = HostEndpointInputSchema.parse(input);
  if (pods.some((p) => p.epId === h.epId)) throw new Error(`compilePolicies: host endpoint id ${h.epId} is also a pod endpoint`);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(h.nodeLabels)) labels[`${LABEL_SOURCES.k8s}:${k}`] = v;
  labels[RESERVED_LABEL.host] = "";
  return { epId: h.epId, namespace: "", podName: "", nodeName: h.nodeName, identity: RESERVED_IDENTITY.host, labels, namedPorts: {} };
}

function parseEndpoints(input: readonly EndpointInput[]): Endpoint[] {
  // Rule port names are lower-cased at parse time; match the endpoint's the same way.
  const eps = input.map((e) => {
    const ep = EndpointInputSchema.parse(e);
    return { ...ep, namedPorts: Object.fromEntries(Object.entries(ep.namedPorts).map(([n, p]) => [n.toLowerCase(), p])) };
  });
  const seen = new Set<number>();
  for (const e of eps) {
    if (seen.has(e.epId)) throw new Error(`compilePolicies: duplicate endpoint id ${e.epId}`);
    seen.add(e.epId);
  }
  return eps.sort((a, b) => a.epId - b.epId);
}

/**
 * Reserved identities first (caller entries override their labels), then the caller's, then
 * endpoint identities the caller did not list. Endpoint named ports join their identity's.
 */
function buildIdentityTable(input: readonly IdentityInput[], endpoints: readonly Endpoint[], config: EngineConfig): Map<number, KnownIdentity> {
  const table = new Map<number, { id: number; labels: Labels; namedPorts: Record<string, NamedPort[]> }>();
  for (const r of reservedIdentities({ dualStack: config.dualStack })) table.set(r.id, { id: r.id, labels: r.labels, namedPorts: {} });
  for (const raw of input) {
    const i = IdentityInputSchema.parse(raw);
    const namedPorts: Record<string, NamedPort[]> = {};
    for (const [name, list] of Object.entries(i.namedPorts ?? {})) namedPorts[name.toLowerCase()] = [...list];
    table.set(i.id, { id: i.id, labels: i.labels, namedPorts });
  }
  for (const ep of endpoints) {
    let entry = table.get(ep.identity);
    if (!entry) table.set(ep.identity, (entry = { id: ep.identity, labels: ep.labels, namedPorts: {} }));
    for (const [rawName, np] of Object.entries(ep.namedPorts)) {
      const name = rawName.toLowerCase();
      const list = (entry.namedPorts[name] ??= []);
      if (!list.some((x) => x.port === np.port && x.protocol === np.protocol)) list.push(np);
    }
  }
  return new Map([...table.entries()].sort((a, b) => a[0] - b[0]));
}

function unionNamedPorts(identities: readonly KnownIdentity[]): Map<string, NamedPort[]> {
  const out = new Map<string, NamedPort[]>();
  for (const i of identities) {
    for (const [name, list] of Object.entries(i.namedPorts)) {
      const acc = out.get(name) ?? [];
      for (const np of list) if (!acc.some((x) => x.port === np.port && x.protocol === np.protocol)) acc.push(np);
      out.set(name, acc);
    }
  }
  return out;
}

function dedupePolicies(policies: readonly ParsedPolicy[]): ParsedPolicy[] {
  const byKey = new Map<string, ParsedPolicy>();
  for (const p of policies) byKey.set(policyRefKey(p.ref), p);
  return [...byKey.values()].sort((a, b) => comparePolicyRefs(a.ref, b.ref));
}

function clusterSelector(clusterName: string): Selector {
  return { requirements: [requirement(LABEL_SOURCES.k8s, K8S_LABEL.cluster, "In", [clusterName])] };
}

function peerCacheKey(peer: Peer): string {
  switch (peer.kind) {
    case "any":
    case "local-cluster":
      return peer.kind;
    case "selector":
      return `sel:${peer.localCluster ? "c" : "-"}:${selectorString(peer.selector)}`;
    case "cidr":
      return `cidr:${peer.prefix}-${peer.except.join(",")}`;
    case "fqdn":
      return `fqdn:${peer.selector}`;
  }
}

/** Sorted union; the wildcard identity 0 absorbs every other identity. */
function unionIds(lists: readonly number[][]): number[] {
  const set = new Set<number>();
  for (const l of lists) for (const id of l) set.add(id);
  if (set.has(0)) return [0];
  return [...set].sort((a, b) => a - b);
}

/**
 * A CIDR peer selects CIDR identities inside its prefix and outside its excepts — never pods or
 * nodes, whose addresses resolve to their own identities (policy-semantics.md §4.2). A `/0`
 * also selects world: addresses no policy prefix covers resolve to it.
 */
function resolveCidrPeer(
  prefixText: string,
  exceptText: readonly string[],
  cidrIdentities: ReadonlyArray<{ id: number; prefixes: IpPrefix[] }>,
  identities: ReadonlyMap<number, KnownIdentity>,
  config: EngineConfig,
): number[] {
  const prefix = parsedPrefix(prefixText);
  const excepts = exceptText.map(parsedPrefix);
  const ids: number[] = [];
  for (const ci of cidrIdentities) {
    if (ci.prefixes.some((q) => prefixContains(prefix, q) && !excepts.some((e) => prefixContains(e, q)))) ids.push(ci.id);
  }
  if (prefix.len === 0) {
    const worldLabel = !config.dualStack ? RESERVED_LABEL.world : prefix.family === 4 ? RESERVED_LABEL.worldIpv4 : RESERVED_LABEL.worldIpv6;
    for (const i of identities.values()) {
      if (i.labels[worldLabel] !== undefined && cidrPrefixesOfLabels(i.labels).length === 0) ids.push(i.id);
    }
  }
  return ids;
}

function parsedPrefix(text: string): IpPrefix {
  const r = parsePrefix(text);
  if (!r.ok) throw new Error(`internal: unparsable normalised prefix ${text}`);
  return r.prefix;
}

function reportMissingCidrIdentities(policies: readonly ParsedPolicy[], identities: ReadonlyMap<number, KnownIdentity>, problems: PolicyProblem[]): void {
  const known = new Set<string>();
  for (const i of identities.values()) for (const key of Object.keys(i.labels)) if (key.startsWith(`${LABEL_SOURCES.cidr}:`)) known.add(key.slice(LABEL_SOURCES.cidr.length + 1));
  for (const p of policies) {
    const missing = collectCidrPrefixes([p]).filter((c) => !known.has(c));
    if (missing.length > 0) {
      problems.push({
        policy: p.ref,
        severity: "warning",
        path: "",
        message: `no CIDR identity for ${missing.join(", ")}: addresses there resolve to world and are not matched by this policy's CIDR rules until identities are allocated`,
      });
    }
  }
}

