// The agent's observer context and status provider over a real policy compile: a drop event of
// health-checker → payment-service decodes into a flow naming the policy that put payment-service
// into default deny, and an allowed one names the allowing rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Endpoint } from "../endpoint/types.js";
import type { Labels } from "../identity/labels.js";
import type { CiliumEndpoint } from "../k8s/cilium-types.js";
import { formatCompact } from "../observer/compact.js";
import { FlowObserver } from "../observer/observer.js";
import { fixedClock, makeEvent, sequentialUuid } from "../observer/test-support.js";
import { applyPolicyEvent, compilePolicies } from "../policy/index.js";
import type { PolicyStore } from "../policy/index.js";
import type { CompiledPolicy } from "../sync/policy-sync.js";
import { AgentObserverContext, flowNodeName, labelsFromStrings } from "./observer-context.js";
import { AgentStatusSource, policyRefFromKey } from "./status-provider.js";

const PAYMENT = { id: 12, identity: 40001, ip: "10.244.2.5" };
const CHECKER = { identity: 40002, ip: "10.244.1.7" };
const FRONTEND = { identity: 40003, ip: "10.244.1.8" };
const podLabels = (app: string): Labels => ({ "k8s:app": app, "k8s:io.cilium.k8s.policy.cluster": "default", "k8s:io.kubernetes.pod.namespace": "production" });

const payment = {
  version: 1,
  id: PAYMENT.id,
  containerId: "c1",
  ifName: "eth0",
  netns: "/proc/1/ns/net",
  hostIfName: "lxc000000000001",
  hostIfIndex: 9,
  hostMac: "",
  podMac: "",
  ipv4: PAYMENT.ip,
  gateway: "10.244.2.1",
  pod: { namespace: "production", name: "payment-service" },
  identity: { id: PAYMENT.identity, labels: podLabels("payment-service") },
  namedPorts: [],
  state: "ready",
  policyRevision: 3,
  createdAt: "",
} as Endpoint;

const cep = (name: string, identity: number, ip: string, app: string): CiliumEndpoint => ({
  metadata: { name, namespace: "production" },
  status: { identity: { id: identity, labels: [`k8s:app=${app}`, "k8s:io.kubernetes.pod.namespace=production"] }, networking: { addressing: [{ ipv4: ip }] } },
});

const lockdown = {
  apiVersion: "cilium.io/v2",
  kind: "CiliumNetworkPolicy",
  metadata: { name: "legacy-lockdown", namespace: "production", uid: "u-1", resourceVersion: "7" },
  spec: { endpointSelector: { matchLabels: { app: "payment-service" } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: "frontend" } }] }] },
};

function world(): { store: PolicyStore; compiled: CompiledPolicy } {
  const store = applyPolicyEvent(new Map(), { type: "upsert", object: lockdown }).store;
  const result = compilePolicies({
    policies: [...store.values()],
    endpoints: [{ epId: PAYMENT.id, namespace: "production", podName: "payment-service", identity: PAYMENT.identity, labels: podLabels("payment-service") }],
    identities: [
      { id: CHECKER.identity, labels: podLabels("health-checker") },
      { id: FRONTEND.identity, labels: podLabels("frontend") },
    ],
  });
  return { store, compiled: { state: result.state, ruleRefs: result.ruleRefs, revision: 7, policies: new Map([...store.values()].map((p) => [`${p.ref.kind}/${p.ref.namespace}/${p.ref.name}`, p.resourceVersion ?? ""])) } };
}

function context(w = world()): AgentObserverContext {
  return new AgentObserverContext({
    clusterName: "ob1",
    nodeName: "node2",
    localEndpoints: () => [payment],
    ciliumEndpoints: () => [cep("health-checker", CHECKER.identity, CHECKER.ip, "health-checker"), cep("frontend", FRONTEND.identity, FRONTEND.ip, "frontend"), cep("payment-service", PAYMENT.identity, PAYMENT.ip, "payment-service")],
    clusterIdentity: (id) => (id === CHECKER.identity ? podLabels("health-checker") : undefined),
    cidrIdentities: () => [],
    compiled: () => w.compiled,
    policies: () => w.store,
    revision: () => 3,
  });
}

test("a default-deny drop names production/legacy-lockdown, the pods and the node", () => {
  const observer = new FlowObserver({ context: context(), clock: fixedClock, uuid: sequentialUuid });
  const base = { epId: PAYMENT.id, saddr: CHECKER.ip, daddr: PAYMENT.ip, srcIdentity: CHECKER.identity, dstIdentity: PAYMENT.identity, verdict: 2, dropReason: 133, ruleRef: 0 };
  observer.ingest([makeEvent({ ...base, type: 1, subtype: 133 })]);
  const [stored] = [...observer.flows()];
  const flow = stored!.flow;
  assert.equal(flow.verdict, "DROPPED");
  assert.equal(flow.drop_reason_desc, "POLICY_DENIED");
  assert.equal(flow.node_name, "ob1/node2");
  assert.equal(flow.source?.pod_name, "health-checker");
  assert.deepEqual(flow.source?.labels, ["k8s:app=health-checker", "k8s:io.cilium.k8s.policy.cluster=default", "k8s:io.kubernetes.pod.namespace=production"]);
  assert.equal(flow.destination?.pod_name, "payment-service");
  assert.equal(flow.destination?.ID, PAYMENT.id);
  assert.deepEqual(
    flow.ingress_default_deny_by?.map((p) => [p.kind, p.namespace, p.name]),
    [["CiliumNetworkPolicy", "production", "legacy-lockdown"]],
  );
  assert.match(formatCompact(flow, { printDropAttribution: true }), /\[default deny: production\/legacy-lockdown \(ingress\)\]$/);
});

test("an allowed verdict names the allowing rule through the compiled rule refs; unknown refs name nothing", () => {
  const w = world();
  const ctx = context(w);
  const entry = [...w.compiled.state.get(PAYMENT.id)!.entries.values()].find((e) => e.key.identity === FRONTEND.identity)!;
  assert.ok(entry, "frontend is allowed on some key");
  const rule = ctx.ruleRef(entry.value.ruleRef);
  assert.deepEqual([rule?.kind, rule?.namespace, rule?.name, rule?.direction], ["CiliumNetworkPolicy", "production", "legacy-lockdown", "ingress"]);
  assert.deepEqual(ctx.ruleOrigins(PAYMENT.id, "ingress", entry.value.ruleRef), entry.origins);
  assert.equal(ctx.ruleRef(0), undefined);
  assert.equal(ctx.ruleRef(999_999), undefined);
  assert.deepEqual(ctx.defaultDenyBy(PAYMENT.id, "egress"), []);
  assert.equal(ctx.defaultDenyBy(PAYMENT.id, "ingress")[0]?.uid, "u-1");
  // Drop (not FORWARDED): the checker has no entry at all.
  assert.ok(![...w.compiled.state.get(PAYMENT.id)!.entries.values()].some((e) => e.key.identity === CHECKER.identity));
});

test("lookups: local records beat CEPs, reserved and CEP labels, cache invalidation", () => {
  let ceps: CiliumEndpoint[] = [];
  const ctx = new AgentObserverContext({
    clusterName: "default",
    nodeName: "n1",
    localEndpoints: () => [payment],
    ciliumEndpoints: () => ceps,
    clusterIdentity: () => undefined,
    cidrIdentities: () => [{ id: (1 << 24) | 1, labels: { "cidr:203.0.113.0/24": "" } } as never],
    compiled: () => undefined,
    policies: () => new Map(),
    revision: () => 0,
  });
  assert.equal(ctx.nodeName, "n1");
  assert.equal(flowNodeName("x", "n1"), "x/n1");
  assert.equal(ctx.endpointByIP(PAYMENT.ip)?.epId, PAYMENT.id);
  assert.equal(ctx.endpointByIP(CHECKER.ip), undefined);
  ceps = [cep("health-checker", CHECKER.identity, CHECKER.ip, "health-checker")];
  assert.equal(ctx.endpointByIP(CHECKER.ip), undefined, "no rebuild before invalidate");
  ctx.invalidate();
  assert.deepEqual(ctx.endpointByIP(CHECKER.ip)?.labels, labelsFromStrings(["k8s:app=health-checker", "k8s:io.kubernetes.pod.namespace=production"]));
  assert.deepEqual(ctx.identityLabels(1), { "reserved:host": "" });
  assert.deepEqual(ctx.identityLabels((1 << 24) | 1), { "cidr:203.0.113.0/24": "" });
  assert.deepEqual(ctx.defaultDenyBy(PAYMENT.id, "ingress"), []);
  assert.deepEqual(ctx.ruleOrigins(PAYMENT.id, "ingress", 5), [5]);
});

test("status provider: endpoint enforcement from the compile, realized revision from the datapath, policies and rejects", () => {
  const w = world();
  const provider = new AgentStatusSource({
    nodeName: "node2",
    version: "0.1.0",
    ready: () => true,
    revision: () => 3,
    localEndpoints: () => [payment],
    realizedRevision: (id) => (id === PAYMENT.id ? 3 : undefined),
    compiled: () => w.compiled,
    policies: () => w.store,
    rejected: () => new Map([["CiliumNetworkPolicy/production/broken", { error: "spec.egress[0].toServices: not supported" }]]),
    clusterIdentities: () => [{ id: CHECKER.identity, labels: podLabels("health-checker") }],
    cidrIdentities: () => [],
  });
  assert.deepEqual(provider.status(), { nodeName: "node2", version: "0.1.0", ready: true, policyRevision: 3, pid: process.pid });
  assert.deepEqual(provider.endpoints(), [
    {
      id: PAYMENT.id,
      namespace: "production",
      podName: "payment-service",
      identity: PAYMENT.identity,
      ipv4: PAYMENT.ip,
      labels: ["k8s:app=payment-service", "k8s:io.cilium.k8s.policy.cluster=default", "k8s:io.kubernetes.pod.namespace=production"],
      ingressEnforcement: "enforce",
      egressEnforcement: "none",
      policyRevision: 3,
    },
  ]);
  const ids = provider.identities().map((i) => i.id);
  assert.ok(ids.includes(1) && ids.includes(CHECKER.identity));
  const policy = provider.policy();
  assert.deepEqual(policy.policies, [
    { kind: "CiliumNetworkPolicy", namespace: "production", name: "legacy-lockdown", uid: "u-1" },
    { kind: "CiliumNetworkPolicy", namespace: "production", name: "broken", problems: ["rejected: spec.egress[0].toServices: not supported"] },
  ]);
  // What the last compile read, under the revision its apply produced: what convergence waiters match.
  assert.equal(policy.realized?.revision, 7);
  assert.deepEqual(Object.keys(policy.realized?.policies ?? {}), ["CiliumNetworkPolicy/production/legacy-lockdown"]);
  assert.deepEqual(policy.endpoints[0]?.ingress, { mode: "enforce", defaultDenyBy: [{ kind: "CiliumNetworkPolicy", namespace: "production", name: "legacy-lockdown" }] });
  assert.deepEqual(policyRefFromKey("CiliumClusterwideNetworkPolicy/x"), { kind: "CiliumClusterwideNetworkPolicy", namespace: "", name: "x" });
  assert.equal(policyRefFromKey("Bogus/x"), undefined);
});
