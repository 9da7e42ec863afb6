/**
 * Policy engine at the size the agent must handle: 2,000 rules × 500 local endpoints, with
 * 2,500 identities cluster-wide. Prints parse, compile, diff and lookup figures and entry
 * counts; asserts nothing about time.
 *
 *   node dist/harness/dev/run-bench.js policy-engine
 */
import { identityLabels } from "../identity/pod-identity.js";
import { cidrIdentityLabels } from "../identity/local-identity.js";
import { LOCAL_IDENTITY_SCOPE } from "../identity/reserved.js";
import { compilePolicies } from "./compile.js";
import { diffPolicyStates } from "./diff.js";
import { parsePolicy } from "./parse-policy.js";
import { collectCidrPrefixes } from "./references.js";
import { simulateLookup } from "./simulate.js";
import type { EndpointInput, IdentityInput, ParsedPolicy } from "./types.js";

const NAMESPACES = 100;
const APPS_PER_NS = 25; // identities cluster-wide: 2,500
const LOCAL_APPS_PER_NS = 5; // endpoints on this node: 500
const POLICIES_PER_NS = 19; // + 100 CCNP rules below → 2,000 rules

/** Small deterministic PRNG so every run compiles the same policy set. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function buildInputs(variant = 0): { raw: unknown[]; endpoints: EndpointInput[]; identities: IdentityInput[] } {
  const rand = rng(42);
  const pick = (n: number) => Math.floor(rand() * n);
  const identities: IdentityInput[] = [];
  const endpoints: EndpointInput[] = [];
  let id = 256;
  let ep = 1;
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `ns-${n}`;
    for (let a = 0; a < APPS_PER_NS; a++) {
      const labels = identityLabels(
        { metadata: { namespace: ns, labels: { app: `app-${a}`, tier: a % 3 === 0 ? "front" : "back" } } },
        { metadata: { name: ns, labels: { team: `t${n % 10}` } } },
      );
      const namedPorts = { http: [{ port: 8080, protocol: "TCP" as const }] };
      identities.push({ id, labels, namedPorts });
      if (a < LOCAL_APPS_PER_NS) endpoints.push({ epId: ep++, namespace: ns, podName: `app-${a}`, identity: id, labels, namedPorts: { http: { port: 8080, protocol: "TCP" } } });
      id++;
    }
  }
  const raw: unknown[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `ns-${n}`;
    for (let p = 0; p < POLICIES_PER_NS; p++) {
      const subject = { matchLabels: { app: `app-${pick(LOCAL_APPS_PER_NS + 2)}` } };
      const peer = { matchLabels: { app: `app-${pick(APPS_PER_NS)}` } };
      const port = String(1000 + pick(50) + (p === 0 ? variant : 0));
      switch (p % 6) {
        case 0:
          raw.push({ kind: "CiliumNetworkPolicy", metadata: { name: `p${p}`, namespace: ns }, spec: { endpointSelector: subject, ingress: [{ fromEndpoints: [peer], toPorts: [{ ports: [{ port, protocol: "TCP" }, { port: "http" }] }] }] } });
          break;
        case 1:
          raw.push({ kind: "NetworkPolicy", metadata: { name: `p${p}`, namespace: ns }, spec: { podSelector: subject, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `t${pick(10)}` } }, podSelector: { matchLabels: { tier: "front" } } }], ports: [{ port: Number(port) }] }] } });
          break;
        case 2:
          raw.push({ kind: "CiliumNetworkPolicy", metadata: { name: `p${p}`, namespace: ns }, spec: { endpointSelector: subject, egress: [{ toEndpoints: [peer, { matchLabels: { "k8s:io.kubernetes.pod.namespace": "ns-0", app: "app-1" } }] }, { toEntities: ["kube-apiserver", "host"] }] } });
          break;
        case 3: {
          const net = pick(256);
          raw.push({ kind: "CiliumNetworkPolicy", metadata: { name: `p${p}`, namespace: ns }, spec: { endpointSelector: subject, egress: [{ toCIDRSet: [{ cidr: `203.0.${net}.0/24`, except: [`203.0.${net}.128/25`] }], toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }] }] } });
          break;
        }
        case 4:
          raw.push({ kind: "CiliumNetworkPolicy", metadata: { name: `p${p}`, namespace: ns }, spec: { endpointSelector: subject, ingressDeny: [{ fromEndpoints: [peer], toPorts: [{ ports: [{ port: "22", protocol: "TCP" }] }] }], ingress: [{ fromEndpoints: [{}], toPorts: [{ ports: [{ port: "9000", endPort: 9015, protocol: "TCP" }] }] }] } });
          break;
        default:
          raw.push({ kind: "CiliumNetworkPolicy", metadata: { name: `p${p}`, namespace: ns }, spec: { endpointSelector: subject, ingress: [{ fromEndpoints: [peer], toPorts: [{ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{ method: "GET", path: "/api/.*" }] } }] }] } });
      }
    }
  }
  for (let c = 0; c < 100; c++) {
    raw.push({ kind: "CiliumClusterwideNetworkPolicy", metadata: { name: `guard-${c}` }, spec: { endpointSelector: { matchLabels: { app: `app-${c % LOCAL_APPS_PER_NS}` } }, enableDefaultDeny: { egress: false, ingress: false }, egressDeny: [{ toCIDR: [`169.254.${c}.0/24`] }] } });
  }
  return { raw, endpoints, identities };
}

function time<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return [r, Number(process.hrtime.bigint() - t0) / 1e6];
}

function compileAll(variant: number, previous?: ReturnType<typeof compilePolicies>) {
  const { raw, endpoints, identities } = buildInputs(variant);
  const [policies, parseMs] = time(() =>
    raw.map((o) => {
      const r = parsePolicy(o);
      if (!r.ok) throw new Error(JSON.stringify(r.problems));
      return r.policy;
    }),
  );
  const cidrs = collectCidrPrefixes(policies as ParsedPolicy[]);
  const all = [...identities, ...cidrs.map((p, i) => ({ id: LOCAL_IDENTITY_SCOPE | (i + 1), labels: cidrIdentityLabels(p) }))];
  const [result, compileMs] = time(() =>
    compilePolicies({ policies, endpoints, identities: all, ...(previous ? { previousRuleRefs: previous.ruleRefs } : {}) }),
  );
  return { result, parseMs, compileMs, cidrs: cidrs.length, endpoints };
}

const first = compileAll(0);
const rules = first.result.stats.rules;
console.log(`input: ${rules} rules (${first.result.stats.elements} rule elements) in ${first.result.stats.policies} policies, ${first.result.stats.endpoints} endpoints, ${first.result.stats.identities} identities (${first.cidrs} CIDR)`);
console.log(`parse:   ${first.parseMs.toFixed(0)} ms`);
console.log(`compile: ${first.compileMs.toFixed(0)} ms (cold)`);
console.log(`entries: ${first.result.stats.entries} total, ${(first.result.stats.entries / first.result.stats.endpoints).toFixed(1)} per endpoint, max ${Math.max(...[...first.result.state.values()].map((e) => e.entries.size))}`);

const again = compileAll(0, first.result);
console.log(`compile: ${again.compileMs.toFixed(0)} ms (warm, same input)`);
const [same, diffSameMs] = time(() => diffPolicyStates(first.result.state, again.result.state));
console.log(`diff same input: ${diffSameMs.toFixed(0)} ms, ${same.upserts.length} upserts, ${same.deletes.length} deletes`);

const changed = compileAll(1, again.result);
const [delta, diffMs] = time(() => diffPolicyStates(again.result.state, changed.result.state));
console.log(`diff after changing one port in 100 policies: ${diffMs.toFixed(0)} ms, ${delta.upserts.length} upserts, ${delta.deletes.length} deletes`);

const eps = [...first.result.state.keys()];
const N = 200_000;
const [, lookupMs] = time(() => {
  for (let i = 0; i < N; i++) simulateLookup(first.result.state, eps[i % eps.length] as number, i % 2 ? "ingress" : "egress", 256 + (i % 2500), 6, 1000 + (i % 60));
});
console.log(`simulateLookup: ${(N / lookupMs).toFixed(0)} lookups/ms`);
console.log(`memory: ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB heap used`);
