import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalKey, labelsFromCanonicalKey, normalizeLabels, parseLabelKey } from "./labels.js";

test("canonicalKey is sorted and independent of insertion order", () => {
  const a = canonicalKey({ "k8s:b": "2", "k8s:a": "1", "reserved:host": "" });
  const b = canonicalKey({ "reserved:host": "", "k8s:a": "1", "k8s:b": "2" });
  assert.equal(a, b);
  assert.equal(a, "k8s:a=1;k8s:b=2;reserved:host=");
  assert.deepEqual(labelsFromCanonicalKey(a), { "k8s:a": "1", "k8s:b": "2", "reserved:host": "" });
});

test("different values give different keys", () => {
  assert.notEqual(canonicalKey({ "k8s:app": "a" }), canonicalKey({ "k8s:app": "b" }));
  assert.notEqual(canonicalKey({ "k8s:app": "a" }), canonicalKey({ "any:app": "a" }));
});

test("label keys split at the first colon only", () => {
  assert.deepEqual(parseLabelKey("k8s:app", "any"), { source: "k8s", key: "app" });
  assert.deepEqual(parseLabelKey("app", "any"), { source: "any", key: "app" });
  assert.deepEqual(parseLabelKey("cidr:2001:db8::/32", "any"), { source: "cidr", key: "2001:db8::/32" });
  assert.deepEqual(normalizeLabels({ app: "x", "k8s:b": "y" }), { "unspec:app": "x", "k8s:b": "y" });
});
