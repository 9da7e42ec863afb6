import { test } from "node:test";
import assert from "node:assert/strict";
import { identityLabels } from "../identity/pod-identity.js";
import { cidrIdentityLabels } from "../identity/local-identity.js";
import { LOCAL_IDENTITY_SCOPE } from "../identity/reserved.js";
import { compilePolicies } from "../policy/compile.js";
import { parsePolicy } from "../policy/parse-policy.js";
import { collectCidrPrefixes } from "../policy/references.js";
import type { EndpointInput, IdentityInput, ParsedPolicy } from "../policy/types.js";
import { DEFAULT_SHAPE, latencyStep, loadPolicies, namespaces, percentile, pods, ruleCount, RULES_PER_POLICY } from "./scale-workload.js";

test("the default shape is 500 pods over 100 label sets and 2,000 rules in 500 policies", () => {
  const all = pods();
  assert.equal(all.length, 500);
  assert.equal(new Set(all.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)).size, 500);
  const labelSets = new Set(all.map((p) => `${p.metadata?.namespace}/${JSON.stringify(p.metadata?.labels)}`));
  assert.equal(labelSets.size, 100);
  assert.equal(namespaces().length, DEFAULT_SHAPE.namespaces);

  const policies = loadPolicies();
  assert.equal(policies.length, 500);
  assert.ok(policies.every((p) => ruleCount(p) === RULES_PER_POLICY));
  assert.equal(policies.reduce((n, p) => n + ruleCount(p), 0), 2000);
  assert.deepEqual(new Set(policies.map((p) => p.kind)), new Set(["CiliumNetworkPolicy", "NetworkPolicy"]));
});

test("every load policy parses cleanly with the agent's parser and every app is a subject", () => {
  const subjects = new Set<string>();
  for (const p of loadPolicies()) {
    const r = parsePolicy({ ...p, metadata: { ...p.metadata, uid: "u" } });
    assert.ok(r.ok, `${p.metadata?.namespace}/${p.metadata?.name}: ${JSON.stringify(!r.ok && r.problems)}`);
    assert.deepEqual(r.policy.warnings, [], `${p.metadata?.name}`);
    const spec = (p as { spec: { endpointSelector?: { matchLabels: { app: string } }; podSelector?: { matchLabels: { app: string } } } }).spec;
    subjects.add(`${p.metadata?.namespace}/${(spec.endpointSelector ?? spec.podSelector)?.matchLabels.app}`);
  }
  assert.equal(subjects.size, DEFAULT_SHAPE.namespaces * DEFAULT_SHAPE.appsPerNamespace);
});

test("latency steps alternate create/edit and each opens a port of its own", () => {
  const steps = Array.from({ length: 6 }, (_, i) => latencyStep(i));
  assert.deepEqual(steps.map((s) => s.action), ["create", "edit", "create", "edit", "create", "edit"]);
  assert.deepEqual(steps.map((s) => s.object.metadata?.name), ["latency-0", "latency-0", "latency-1", "latency-1", "latency-2", "latency-2"]);
  const ports = steps.map((s) => JSON.stringify((s.object as { spec: unknown }).spec));
  assert.equal(new Set(ports).size, 6);
  for (const s of steps) assert.ok(parsePolicy({ ...s.object, metadata: { ...s.object.metadata, uid: "u" } }).ok);
});

test("percentile is nearest-rank", () => {
  const xs = Array.from({ length: 20 }, (_, i) => 20 - i);
  assert.equal(percentile(xs, 50), 10);
  assert.equal(percentile(xs, 95), 19);
  assert.equal(percentile(xs, 100), 20);
  assert.equal(percentile([7], 95), 7);
  assert.throws(() => percentile([], 50));
});

/** cf_policy_v1's max_entries (bpf/lib/policy.h): one map shared by every endpoint of a node. */
const POLICY_MAP_ENTRIES = 262_144;

test("the load fits a node's policy map even with all 500 endpoints on one node", () => {
  const nsByName = new Map(namespaces().map((n) => [n.metadata?.name ?? "", n]));
  const identities = new Map<string, IdentityInput>();
  const endpoints: EndpointInput[] = [];
  for (const pod of pods()) {
    const labels = identityLabels(pod as Parameters<typeof identityLabels>[0], nsByName.get(pod.metadata?.namespace ?? ""));
    const key = JSON.stringify(labels);
    if (!identities.has(key)) identities.set(key, { id: 256 + identities.size, labels, namedPorts: { http: [{ port: 8080, protocol: "TCP" }] } });
    const id = identities.get(key)!.id;
    endpoints.push({ epId: endpoints.length + 1, namespace: pod.metadata?.namespace ?? "", podName: pod.metadata?.name ?? "", identity: id, labels, namedPorts: { http: { port: 8080, protocol: "TCP" } } });
  }
  const policies = loadPolicies().map((o) => {
    const r = parsePolicy({ ...o, metadata: { ...o.metadata, uid: "u" } });
    assert.ok(r.ok);
    return r.policy;
  });
  const cidrs = collectCidrPrefixes(policies as ParsedPolicy[]).map((p, i) => ({ id: LOCAL_IDENTITY_SCOPE | (i + 1), labels: cidrIdentityLabels(p) }));
  const { stats } = compilePolicies({ policies, endpoints, identities: [...identities.values(), ...cidrs] });
  assert.equal(stats.elements, 2000);
  // Half the map at most: a full map fails endpoints closed, and the bench would time a failure.
  assert.ok(stats.entries < POLICY_MAP_ENTRIES / 2, `${stats.entries} policy entries for 500 endpoints`);
});
