/**
 * The objects of the agent scale bench, built deterministically: namespaces, pods that only sleep
 * (so 500 of them cost a few MB, not 500 Node processes), a policy set of a fixed rule count whose
 * selectors match those pods, and the single-policy changes whose apply→enforced latency is timed.
 *
 * A "rule" here is one entry of `ingress`, `ingressDeny`, `egress` or `egressDeny` (one
 * NetworkPolicy ingress/egress item counts the same), what a reader of a policy would count.
 */
import type { KubernetesObject } from "@kubernetes/client-node";

export interface ScaleShape {
  readonly namespaces: number;
  readonly appsPerNamespace: number;
  readonly podsPerApp: number;
  readonly policiesPerNamespace: number;
}

/** 5 namespaces × 10 apps × 10 pods = 500 endpoints; 5 × 100 policies × 4 rules = 2,000 rules. */
export const DEFAULT_SHAPE: ScaleShape = { namespaces: 5, appsPerNamespace: 10, podsPerApp: 10, policiesPerNamespace: 100 };

/** Every policy of the load has exactly this many rules, so the total is policies × 4. */
export const RULES_PER_POLICY = 4;

/** Marks everything the bench creates, so it can be listed and counted apart from anything else. */
export const BENCH_LABEL = "conform.dev/bench";
export const BENCH_LABEL_VALUE = "agent-scale";

/** The probe image with its entrypoint replaced: the readiness marker, then one `sleep` per pod. */
export const SLEEPER_COMMAND = ["sh", "-c", "echo conform-probe: ready; exec sleep infinity"] as const;

export const namespaceName = (n: number): string => `scale-${n}`;
export const appName = (a: number): string => `app-${a}`;
const TIERS = ["front", "back", "db"] as const;
const tierOf = (a: number): (typeof TIERS)[number] => TIERS[a % TIERS.length]!;

export function namespaces(shape: ScaleShape = DEFAULT_SHAPE): KubernetesObject[] {
  return Array.from({ length: shape.namespaces }, (_, n) => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: namespaceName(n), labels: { [BENCH_LABEL]: BENCH_LABEL_VALUE, team: `team-${n % 3}`, env: n % 2 === 0 ? "prod" : "staging" } },
  }));
}

/** Two versions per app, so each app is two identities (100 in all with the default shape). */
export function pods(shape: ScaleShape = DEFAULT_SHAPE): KubernetesObject[] {
  const out: KubernetesObject[] = [];
  for (let n = 0; n < shape.namespaces; n++) {
    for (let a = 0; a < shape.appsPerNamespace; a++) {
      for (let i = 0; i < shape.podsPerApp; i++) {
        out.push({
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name: `${appName(a)}-${i}`,
            namespace: namespaceName(n),
            labels: { [BENCH_LABEL]: BENCH_LABEL_VALUE, app: appName(a), tier: tierOf(a), version: i < shape.podsPerApp / 2 ? "v1" : "v2" },
          },
          spec: {
            terminationGracePeriodSeconds: 0,
            // Like a Deployment with a spread constraint: each app's pods evenly over the nodes.
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: appName(a) } } }],
            containers: [{ name: "main", image: "conform/probe:v1", command: [...SLEEPER_COMMAND], ports: [{ name: "http", containerPort: 8080 }] }],
          },
        } as KubernetesObject);
      }
    }
  }
  return out;
}

type Obj = Record<string, unknown>;
const cnp = (namespace: string, name: string, spec: Obj): KubernetesObject =>
  ({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name, namespace, labels: { [BENCH_LABEL]: BENCH_LABEL_VALUE } }, spec }) as KubernetesObject;
const knp = (namespace: string, name: string, spec: Obj): KubernetesObject =>
  ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name, namespace, labels: { [BENCH_LABEL]: BENCH_LABEL_VALUE } }, spec }) as KubernetesObject;
const tcp = (port: number, endPort?: number): Obj => ({ ports: [{ port: String(port), protocol: "TCP", ...(endPort ? { endPort } : {}) }] });

/**
 * The load: per namespace, policies rotating over five shapes (CNP ingress, NetworkPolicy both
 * ways, CNP egress across namespaces / to entities / to CIDRs, CNP deny + allow, CNP with named
 * ports and set-based selectors), each with exactly RULES_PER_POLICY rules. Every app is the
 * subject of several policies and peers are other apps, so identities × ports spread realistically.
 */
export function loadPolicies(shape: ScaleShape = DEFAULT_SHAPE): KubernetesObject[] {
  const out: KubernetesObject[] = [];
  const apps = shape.appsPerNamespace;
  for (let n = 0; n < shape.namespaces; n++) {
    const ns = namespaceName(n);
    const otherNs = namespaceName((n + 1) % shape.namespaces);
    for (let p = 0; p < shape.policiesPerNamespace; p++) {
      const name = `load-${p}`;
      // Shifted every five policies so each app meets every policy shape, not just one.
      const subjectApp = appName((p + Math.floor(p / 5)) % apps);
      const subject = { matchLabels: { app: subjectApp } };
      const peer = (k: number) => ({ matchLabels: { app: appName((p + 1 + k * 3) % apps) } });
      const port = (k: number) => 8000 + ((p * RULES_PER_POLICY + k) % 400);
      switch (p % 5) {
        case 0:
          out.push(cnp(ns, name, { endpointSelector: subject, ingress: [0, 1, 2, 3].map((k) => ({ fromEndpoints: [peer(k)], toPorts: [tcp(port(k))] })) }));
          break;
        case 1:
          out.push(
            knp(ns, name, {
              podSelector: subject,
              policyTypes: ["Ingress", "Egress"],
              ingress: [
                { from: [{ podSelector: peer(0) }], ports: [{ protocol: "TCP", port: port(0) }] },
                { from: [{ namespaceSelector: { matchLabels: { team: `team-${p % 3}` } }, podSelector: { matchLabels: { tier: "front" } } }], ports: [{ protocol: "TCP", port: "http" }] },
              ],
              egress: [
                { to: [{ podSelector: peer(1) }], ports: [{ protocol: "TCP", port: port(1) }] },
                { to: [{ namespaceSelector: { matchLabels: { env: "prod" } } }], ports: [{ protocol: "UDP", port: 53 }] },
              ],
            }),
          );
          break;
        case 2:
          out.push(
            cnp(ns, name, {
              endpointSelector: subject,
              egress: [
                { toEndpoints: [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": otherNs, app: subjectApp } }], toPorts: [tcp(port(0))] },
                { toEntities: ["kube-apiserver"] },
                // The "world" range of the address plan: nothing real is ever reached.
                { toCIDR: [`203.0.113.${(p % 50) + 1}/32`], toPorts: [tcp(443)] },
                { toEndpoints: [peer(2)], toPorts: [{ ports: [{ port: "53", protocol: "UDP" }] }] },
              ],
            }),
          );
          break;
        case 3:
          out.push(
            cnp(ns, name, {
              endpointSelector: subject,
              ingressDeny: [{ fromEndpoints: [peer(0)], toPorts: [tcp(22)] }, { fromEndpoints: [peer(1)], toPorts: [tcp(port(1))] }],
              ingress: [{ fromEntities: ["cluster"], toPorts: [tcp(9000, 9001)] }, { fromEndpoints: [peer(2)], toPorts: [tcp(port(2))] }],
            }),
          );
          break;
        default:
          out.push(
            cnp(ns, name, {
              endpointSelector: { matchLabels: { app: subjectApp }, matchExpressions: [{ key: "version", operator: "In", values: ["v1", "v2"] }] },
              ingress: [
                { fromEndpoints: [{ matchExpressions: [{ key: "tier", operator: "In", values: ["front", "back"] }] }], toPorts: [{ ports: [{ port: "http" }] }] },
                { fromEndpoints: [peer(0)], toPorts: [tcp(port(0))] },
              ],
              egress: [
                { toEndpoints: [peer(1)], toPorts: [{ ports: [{ port: "http" }] }] },
                { toEndpoints: [{ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["db"] }] }], toPorts: [tcp(port(3))] },
              ],
            }),
          );
      }
    }
  }
  return out;
}

/** Rules of a policy object, counted as the module comment defines them. */
export function ruleCount(policy: KubernetesObject): number {
  const spec = (policy as { spec?: Obj }).spec ?? {};
  const specs = Array.isArray(spec["specs"]) ? (spec["specs"] as Obj[]) : [spec];
  let n = 0;
  for (const s of specs) for (const key of ["ingress", "ingressDeny", "egress", "egressDeny"]) n += Array.isArray(s[key]) ? (s[key] as unknown[]).length : 0;
  return n;
}

/** Namespace and selectors of the timed policy: a subject spread over every node, a fixed peer. */
export const LATENCY_NAMESPACE = namespaceName(0);
export const LATENCY_SUBJECT = { tier: "front" } as const;
const LATENCY_PEER = appName(1);

/**
 * The i-th timed change: even steps create a new policy, odd steps edit the one just created. Each
 * step opens a port no other rule uses, so every node's subject endpoints really get new entries
 * (the agent bumps its revision only when the datapath changes).
 */
export function latencyStep(i: number): { readonly object: KubernetesObject; readonly action: "create" | "edit" } {
  const name = `latency-${Math.floor(i / 2)}`;
  return {
    action: i % 2 === 0 ? "create" : "edit",
    object: cnp(LATENCY_NAMESPACE, name, {
      endpointSelector: { matchLabels: { ...LATENCY_SUBJECT } },
      ingress: [{ fromEndpoints: [{ matchLabels: { app: LATENCY_PEER } }], toPorts: [tcp(30000 + i)] }],
    }),
  };
}

/** Nearest-rank percentile (p in 0..100) of a non-empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error("percentile of an empty sample");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}
