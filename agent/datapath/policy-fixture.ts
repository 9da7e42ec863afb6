/**
 * Test support: two pods of one namespace, a client and a server, and a CiliumNetworkPolicy
 * letting the client reach the server on given TCP ports, compiled by the real engine.
 */
import { identityLabels } from "../identity/pod-identity.js";
import { compilePolicies, parsePolicy, type CompileResult, type ParsedPolicy, type RuleRefTable } from "../policy/index.js";

export const NS = "prod";
export const CLIENT = { name: "client", app: "client", epId: 1, identity: 1001 } as const;
export const SERVER = { name: "server", app: "server", epId: 2, identity: 1002 } as const;

function labelsOf(p: { name: string; app: string }) {
  return identityLabels({ metadata: { name: p.name, namespace: NS, labels: { app: p.app } } }, { metadata: { name: NS, labels: {} } });
}

/** CNP: server accepts client on the given TCP ports; optionally an explicit deny from client on a port. */
export function serverPolicy(ports: number[], opts: { denyPort?: number } = {}): unknown {
  const spec: Record<string, unknown> = {
    endpointSelector: { matchLabels: { app: SERVER.app } },
    ingress: [{ fromEndpoints: [{ matchLabels: { app: CLIENT.app } }], toPorts: [{ ports: ports.map((p) => ({ port: String(p), protocol: "TCP" })) }] }],
  };
  if (opts.denyPort !== undefined) {
    spec.ingressDeny = [{ fromEndpoints: [{ matchLabels: { app: CLIENT.app } }], toPorts: [{ ports: [{ port: String(opts.denyPort), protocol: "TCP" }] }] }];
  }
  return { apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "server-ingress", namespace: NS }, spec };
}

export function parseAll(objects: unknown[]): ParsedPolicy[] {
  return objects.map((o) => {
    const r = parsePolicy(o);
    if (!r.ok) throw new Error(`fixture policy rejected: ${r.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`);
    return r.policy;
  });
}

export function compileFixture(objects: unknown[], previousRuleRefs?: RuleRefTable): CompileResult {
  const pods = [CLIENT, SERVER];
  return compilePolicies({
    policies: parseAll(objects),
    endpoints: pods.map((p) => ({ epId: p.epId, namespace: NS, podName: p.name, identity: p.identity, labels: labelsOf(p) })),
    identities: pods.map((p) => ({ id: p.identity, labels: labelsOf(p) })),
    ...(previousRuleRefs ? { previousRuleRefs } : {}),
  });
}
