import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePolicy } from "../policy/parse-policy.js";
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
