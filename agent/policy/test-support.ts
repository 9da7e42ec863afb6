/**
 * A small cluster for policy tests: namespaces, pods with identities built by identityLabels,
 * CIDR identities allocated the way the agent will (collectCidrPrefixes → local identities),
 * and an LPM address → identity lookup standing in for the ipcache. Tests assert verdicts
 * through simulateLookup, never entry shapes alone.
 */
import assert from "node:assert/strict";
import { identityLabels } from "../identity/pod-identity.js";
import { cidrIdentityLabels } from "../identity/local-identity.js";
import { LOCAL_IDENTITY_SCOPE, RESERVED_IDENTITY } from "../identity/reserved.js";
import { parsePrefix, prefixContains } from "../identity/ip-prefix.js";
import type { Labels } from "../identity/labels.js";
import { parsePolicy } from "./parse-policy.js";
import type { CompileResult } from "./compile.js";
import { compilePolicies } from "./compile.js";
import { collectCidrPrefixes } from "./references.js";
import type { LookupResult } from "./simulate.js";
import { simulateLookup } from "./simulate.js";
import type { EndpointInput, EngineConfigInput, HostEndpointInput, IdentityInput, NamedPort, ParsedPolicy, PolicyProblem, RuleRefTable } from "./types.js";
import { PROTO } from "./types.js";

export interface PodSpec {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly serviceAccount?: string;
  readonly namedPorts?: Record<string, NamedPort>;
  /** false: the pod runs on another node (not an endpoint here). */
  readonly local?: boolean;
  readonly ip?: string;
}

export const NAMESPACES: Record<string, Record<string, string>> = {
  prod: { "kubernetes.io/metadata.name": "prod", team: "a" },
  dev: { "kubernetes.io/metadata.name": "dev", team: "b" },
  "kube-system": { "kubernetes.io/metadata.name": "kube-system" },
};

export const DEFAULT_PODS: PodSpec[] = [
  { name: "db", namespace: "prod", labels: { app: "db" }, namedPorts: { postgres: { port: 5432, protocol: "TCP" } }, ip: "10.244.1.10" },
  { name: "web", namespace: "prod", labels: { app: "web" }, namedPorts: { http: { port: 8080, protocol: "TCP" } }, ip: "10.244.1.11" },
  { name: "client", namespace: "prod", labels: { app: "x" }, serviceAccount: "leia", ip: "10.244.1.12" },
  { name: "client", namespace: "dev", labels: { app: "x" }, ip: "10.244.1.13" },
  { name: "api", namespace: "dev", labels: { app: "api" }, namedPorts: { http: { port: 9090, protocol: "TCP" } }, ip: "10.244.2.20", local: false },
  { name: "dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" }, namedPorts: { dns: { port: 53, protocol: "UDP" } }, ip: "10.244.1.14" },
];

/** Node addresses, resolved to host / remote-node by the ipcache, never to CIDR identities. */
export const NODE_IPS: Record<string, number> = { "198.18.0.11": RESERVED_IDENTITY.host, "198.18.0.12": RESERVED_IDENTITY.remoteNode };

export interface World {
  readonly result: CompileResult;
  readonly policies: ParsedPolicy[];
  readonly warnings: PolicyProblem[];
  /** Identity of `ns/name`. */
  id(pod: string): number;
  /** Endpoint id of `ns/name` (local pods only). */
  ep(pod: string): number;
  /** ipcache stand-in: pod IPs, node IPs, CIDR identities by longest prefix, else world. */
  identityOfIp(ip: string): number;
  /** Lookup at `pod`'s `direction` for a peer identity. */
  at(pod: string, direction: "ingress" | "egress", peer: number, proto: number, port: number): LookupResult;
  /** Both checks of a new connection src → dst: src egress (if local) and dst ingress (if local). */
  connect(src: string | number, dst: string | number, proto: number, port: number): { verdict: string; egress: LookupResult | null; ingress: LookupResult | null };
}

export interface WorldOptions {
  readonly config?: EngineConfigInput;
  readonly pods?: PodSpec[];
  readonly extraIdentities?: IdentityInput[];
  readonly previousRuleRefs?: RuleRefTable;
  /** This node's host endpoint (subject of nodeSelector rules). */
  readonly host?: HostEndpointInput;
}

export function parseAll(objects: unknown[]): { policies: ParsedPolicy[]; warnings: PolicyProblem[] } {
  const policies: ParsedPolicy[] = [];
  const warnings: PolicyProblem[] = [];
  for (const o of objects) {
    const r = parsePolicy(o);
    assert.ok(r.ok, `policy should parse: ${JSON.stringify(r.problems)}`);
    policies.push(r.policy);
    warnings.push(...r.problems);
  }
  return { policies, warnings };
}

export function buildWorld(objects: unknown[], options: WorldOptions = {}): World {
  const { policies, warnings } = parseAll(objects);
  return buildWorldFromParsed(policies, warnings, options);
}

export function buildWorldFromParsed(policies: ParsedPolicy[], warnings: PolicyProblem[], options: WorldOptions = {}): World {
  const pods = options.pods ?? DEFAULT_PODS;
  const clusterName = (options.config?.clusterName as string | undefined) ?? "default";
  const ids = new Map<string, number>();
  const eps = new Map<string, number>();
  const identities: IdentityInput[] = [];
  const endpoints: EndpointInput[] = [];
  const byLabels = new Map<string, number>();
  const ipToId = new Map<string, number>(Object.entries(NODE_IPS));
  let nextId = 256;
  let nextEp = 1;
  for (const pod of pods) {
    const labels: Labels = identityLabels(
      { metadata: { name: pod.name, namespace: pod.namespace, labels: pod.labels }, spec: { serviceAccountName: pod.serviceAccount ?? "default" } },
      { metadata: { name: pod.namespace, labels: NAMESPACES[pod.namespace] ?? {} } },
      { clusterName },
    );
    const canon = JSON.stringify(Object.entries(labels).sort());
    let id = byLabels.get(canon);
    if (id === undefined) {
      id = nextId++;
      byLabels.set(canon, id);
      const namedPorts: Record<string, NamedPort[]> = {};
      for (const [n, p] of Object.entries(pod.namedPorts ?? {})) namedPorts[n] = [p];
      identities.push({ id, labels, namedPorts });
    }
    const key = `${pod.namespace}/${pod.name}`;
    ids.set(key, id);
    if (pod.ip) ipToId.set(pod.ip, id);
    if (pod.local !== false) {
      const epId = nextEp++;
      eps.set(key, epId);
      endpoints.push({ epId, namespace: pod.namespace, podName: pod.name, identity: id, labels, namedPorts: pod.namedPorts ?? {} });
    }
  }
  const cidrs = collectCidrPrefixes(policies);
  const cidrIds = cidrs.map((prefix, i) => ({ prefix, id: LOCAL_IDENTITY_SCOPE | (i + 1) }));
  for (const c of cidrIds) identities.push({ id: c.id, labels: cidrIdentityLabels(c.prefix, { dualStack: options.config?.dualStack ?? false }) });
  identities.push(...(options.extraIdentities ?? []));

  const result = compilePolicies({
    config: options.config ?? {},
    policies,
    endpoints,
    identities,
    ...(options.previousRuleRefs ? { previousRuleRefs: options.previousRuleRefs } : {}),
    ...(options.host ? { host: options.host } : {}),
  });

  const id = (pod: string): number => {
    const v = ids.get(pod);
    assert.ok(v !== undefined, `unknown pod ${pod}`);
    return v;
  };
  const ep = (pod: string): number => {
    const v = eps.get(pod);
    assert.ok(v !== undefined, `pod ${pod} is not a local endpoint`);
    return v;
  };
  const identityOfIp = (ip: string): number => {
    const known = ipToId.get(ip);
    if (known !== undefined) return known;
    const addr = parsePrefix(ip);
    assert.ok(addr.ok);
    let best: { len: number; id: number } | null = null;
    for (const c of cidrIds) {
      const p = parsePrefix(c.prefix);
      assert.ok(p.ok);
      if (prefixContains(p.prefix, addr.prefix) && (!best || p.prefix.len > best.len)) best = { len: p.prefix.len, id: c.id };
    }
    if (best) return best.id;
    if (options.config?.dualStack) return addr.prefix.family === 4 ? RESERVED_IDENTITY.worldIpv4 : RESERVED_IDENTITY.worldIpv6;
    return RESERVED_IDENTITY.world;
  };
  const at = (pod: string, direction: "ingress" | "egress", peer: number, proto: number, port: number): LookupResult =>
    simulateLookup(result.state, ep(pod), direction, peer, proto, port);
  const identityOf = (x: string | number): number => (typeof x === "number" ? x : id(x));
  const connect = (src: string | number, dst: string | number, proto: number, port: number) => {
    const egress = typeof src === "string" && eps.has(src) ? at(src, "egress", identityOf(dst), proto, port) : null;
    const ingress = typeof dst === "string" && eps.has(dst) ? at(dst, "ingress", identityOf(src), proto, port) : null;
    const dropped = [egress, ingress].some((r) => r?.verdict === "DROPPED");
    const audited = [egress, ingress].some((r) => r?.verdict === "AUDIT");
    return { verdict: dropped ? "DROPPED" : audited ? "AUDIT" : "FORWARDED", egress, ingress };
  };
  return { result, policies, warnings, id, ep, identityOfIp, at, connect };
}

export const TCP = PROTO.tcp;
export const UDP = PROTO.udp;
export const SCTP = PROTO.sctp;
export const ICMP = PROTO.icmp;
export const ICMPV6 = PROTO.icmpv6;

export function cnp(namespace: string, name: string, spec: unknown, extra: Record<string, unknown> = {}): unknown {
  return { apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name, namespace, ...(extra.metadata as object) }, spec, ...omit(extra, "metadata") };
}

export function ccnp(name: string, spec: unknown, extra: Record<string, unknown> = {}): unknown {
  return { apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy", metadata: { name, ...(extra.metadata as object) }, spec, ...omit(extra, "metadata") };
}

export function knp(namespace: string, name: string, spec: unknown, extra: Record<string, unknown> = {}): unknown {
  return { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name, namespace, ...(extra.metadata as object) }, spec };
}

function omit(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _drop, ...rest } = obj;
  return rest;
}

/** Parse and expect failure; returns the error messages joined with their paths. */
export function expectRejected(object: unknown): string[] {
  const r = parsePolicy(object);
  assert.equal(r.ok, false, "policy should be rejected");
  return r.problems.filter((p) => p.severity === "error").map((p) => `${p.path}: ${p.message}`);
}
