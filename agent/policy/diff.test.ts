import { test } from "node:test";
import assert from "node:assert/strict";
import { diffPolicyStates } from "./diff.js";
import { applyPolicyEvent } from "./policy-store.js";
import type { PolicyStore } from "./policy-store.js";
import { TCP, buildWorld, buildWorldFromParsed, cnp } from "./test-support.js";

const db = { matchLabels: { app: "db" } };
const p1 = cnp("prod", "p1", { endpointSelector: db, ingress: [{ fromEndpoints: [{ matchLabels: { app: "x" } }], toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }] }] });

test("diff from nothing upserts everything and sets every mode", () => {
  const w = buildWorld([p1]);
  const d = diffPolicyStates(undefined, w.result.state);
  assert.equal(d.upserts.length, w.result.stats.entries);
  assert.equal(d.deletes.length, 0);
  assert.equal(d.modes.length, w.result.state.size);
});

test("identical states give an empty diff; an unrelated policy leaves existing entries alone", () => {
  const a = buildWorld([p1]);
  const b = buildWorld([p1], { previousRuleRefs: a.result.ruleRefs });
  assert.deepEqual(diffPolicyStates(a.result.state, b.result.state), { upserts: [], deletes: [], modes: [], removedEndpoints: [] });

  const c = buildWorld([p1, cnp("prod", "p2", { endpointSelector: db, ingress: [{ fromEntities: ["world"] }] })], { previousRuleRefs: a.result.ruleRefs });
  const d = diffPolicyStates(a.result.state, c.result.state);
  assert.deepEqual(d.deletes, []);
  assert.deepEqual(
    d.upserts.map((e) => e.key.identity),
    [2],
  );
});

test("changing a port upserts the new key and deletes the old one", () => {
  const a = buildWorld([p1]);
  const changed = cnp("prod", "p1", { endpointSelector: db, ingress: [{ fromEndpoints: [{ matchLabels: { app: "x" } }], toPorts: [{ ports: [{ port: "5433", protocol: "TCP" }] }] }] });
  const b = buildWorld([changed], { previousRuleRefs: a.result.ruleRefs });
  const d = diffPolicyStates(a.result.state, b.result.state);
  assert.deepEqual(d.upserts.map((e) => e.key.dport), [5433]);
  assert.deepEqual(d.deletes.map((k) => k.dport), [5432]);
  assert.equal(b.at("prod/db", "ingress", b.id("prod/client"), TCP, 5432).verdict, "DROPPED");
  assert.equal(b.at("prod/db", "ingress", b.id("prod/client"), TCP, 5433).verdict, "FORWARDED");
});

test("removing the last policy returns the endpoint to unenforced and deletes its entries", () => {
  const a = buildWorld([p1]);
  const b = buildWorld([]);
  const d = diffPolicyStates(a.result.state, b.result.state);
  const dbEp = a.ep("prod/db");
  assert.deepEqual(d.modes, [{ epId: dbEp, ingressMode: 0, egressMode: 0 }]);
  assert.equal(d.deletes.length, a.result.state.get(dbEp)?.entries.size);
  assert.equal(d.upserts.length, 0);
});

test("a removed endpoint is listed and its entries deleted", () => {
  const a = buildWorld([p1]);
  const next = new Map(a.result.state);
  next.delete(a.ep("prod/db"));
  const d = diffPolicyStates(a.result.state, next);
  assert.deepEqual(d.removedEndpoints, [a.ep("prod/db")]);
  assert.ok(d.deletes.every((k) => k.epId === a.ep("prod/db")));
  assert.ok(d.deletes.length > 0);
});

test("an invalid update keeps the previous form of the policy in force", () => {
  let store: PolicyStore = new Map();
  const first = applyPolicyEvent(store, { type: "upsert", object: p1 });
  assert.equal(first.outcome, "applied");
  store = first.store;
  const bad = cnp("prod", "p1", { endpointSelector: db, ingress: [{ fromEntities: ["galaxy"] }] });
  const second = applyPolicyEvent(store, { type: "upsert", object: bad });
  assert.equal(second.outcome, "rejected-kept-previous");
  assert.ok(second.problems.some((p) => p.severity === "error" && p.path === "spec.ingress[0].fromEntities[0]"));
  assert.equal(second.store, store);
  const w = buildWorldFromParsed([...second.store.values()], []);
  assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
  assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 5432).verdict, "DROPPED");

  const fresh = applyPolicyEvent(store, { type: "upsert", object: cnp("prod", "new", { endpointSelector: db }) });
  assert.equal(fresh.outcome, "rejected-none");
  const gone = applyPolicyEvent(store, { type: "delete", ref: first.ref });
  assert.equal(gone.store.size, 0);
});
