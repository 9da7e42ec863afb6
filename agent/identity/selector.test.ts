import { test } from "node:test";
import assert from "node:assert/strict";
import { compileSelector, matchesSelector, selectorString } from "./selector.js";
import { SelectorIndex } from "./selector-index.js";
import type { Labels } from "./labels.js";

const pod: Labels = { "k8s:app": "db", "k8s:tier": "backend", "k8s:io.kubernetes.pod.namespace": "prod" };
const host: Labels = { "reserved:host": "" };

function sel(raw: Parameters<typeof compileSelector>[0], opts?: Parameters<typeof compileSelector>[1]) {
  const r = compileSelector(raw, opts);
  assert.deepEqual(r.problems, []);
  return r.selector;
}

test("empty selector selects everything, reserved identities included", () => {
  assert.equal(matchesSelector(sel({}), pod), true);
  assert.equal(matchesSelector(sel(undefined), host), true);
});

test("matchLabels and matchExpressions are ANDed", () => {
  assert.equal(matchesSelector(sel({ matchLabels: { app: "db" }, matchExpressions: [{ key: "tier", operator: "In", values: ["backend"] }] }), pod), true);
  assert.equal(matchesSelector(sel({ matchLabels: { app: "db" }, matchExpressions: [{ key: "tier", operator: "In", values: ["frontend"] }] }), pod), false);
});

test("operators: NotIn and DoesNotExist match a set lacking the key", () => {
  assert.equal(matchesSelector(sel({ matchExpressions: [{ key: "env", operator: "NotIn", values: ["prod"] }] }), pod), true);
  assert.equal(matchesSelector(sel({ matchExpressions: [{ key: "app", operator: "NotIn", values: ["db"] }] }), pod), false);
  assert.equal(matchesSelector(sel({ matchExpressions: [{ key: "env", operator: "DoesNotExist" }] }), host), true);
  assert.equal(matchesSelector(sel({ matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }), pod), false);
  assert.equal(matchesSelector(sel({ matchExpressions: [{ key: "app", operator: "Exists" }] }), pod), true);
  assert.equal(matchesSelector(sel({ matchExpressions: [{ key: "app", operator: "Exists" }] }), host), false);
});

test("key sources: bare and any: match every source, k8s: only k8s, reserved: only reserved", () => {
  const unspec: Labels = { "unspec:app": "db" };
  assert.equal(matchesSelector(sel({ matchLabels: { app: "db" } }), unspec), true);
  assert.equal(matchesSelector(sel({ matchLabels: { "any:app": "db" } }), unspec), true);
  assert.equal(matchesSelector(sel({ matchLabels: { "k8s:app": "db" } }), unspec), false);
  assert.equal(matchesSelector(sel({ matchLabels: { "k8s:app": "db" } }), pod), true);
  assert.equal(matchesSelector(sel({ matchLabels: { "reserved:host": "" } }), host), true);
  assert.equal(matchesSelector(sel({ matchLabels: { "reserved:host": "" } }), pod), false);
  // NetworkPolicy forces k8s: even on a key without source.
  assert.equal(matchesSelector(sel({ matchLabels: { app: "db" } }, { forceSource: "k8s" }), unspec), false);
});

test("invalid expressions are reported with their path", () => {
  const r = compileSelector({ matchExpressions: [{ key: "a", operator: "In", values: [] }, { key: "b", operator: "Exists", values: ["x"] }] });
  assert.deepEqual(r.problems.map((p) => p.path), ["matchExpressions[0].values", "matchExpressions[1].values"]);
});

test("equal selectors have equal strings regardless of order", () => {
  assert.equal(selectorString(sel({ matchLabels: { a: "1", b: "2" } })), selectorString(sel({ matchLabels: { b: "2", a: "1" } })));
});

test("SelectorIndex agrees with a full scan", () => {
  const items: Labels[] = [];
  for (let i = 0; i < 200; i++) items.push({ "k8s:app": `a${i % 7}`, "k8s:io.kubernetes.pod.namespace": `ns${i % 5}`, ...(i % 3 === 0 ? { "k8s:tier": "x" } : {}) });
  items.push({ "reserved:host": "" }, { "unspec:app": "a1" });
  const index = new SelectorIndex(items, (l) => l);
  const selectors = [
    sel({}),
    sel({ matchLabels: { app: "a1" } }),
    sel({ matchLabels: { "k8s:app": "a1", "k8s:io.kubernetes.pod.namespace": "ns2" } }),
    sel({ matchExpressions: [{ key: "app", operator: "In", values: ["a1", "a2"] }, { key: "tier", operator: "DoesNotExist" }] }),
    sel({ matchExpressions: [{ key: "tier", operator: "Exists" }] }),
    sel({ matchLabels: { "reserved:host": "" } }),
  ];
  for (const s of selectors) assert.deepEqual(index.select(s), items.filter((l) => matchesSelector(s, l)), selectorString(s));
});
