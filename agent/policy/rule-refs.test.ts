import { test } from "node:test";
import assert from "node:assert/strict";
import { allocateRuleRefs } from "./rule-refs.js";
import { buildWorld, cnp, knp, parseAll } from "./test-support.js";

const db = { matchLabels: { app: "db" } };

test("rule refs describe kind, namespace/name, direction, rule index and verdict", () => {
  const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{}, { fromEntities: ["world"] }], egressDeny: [{ toEntities: ["host"] }] })]);
  const infos = [...w.result.ruleRefs.values()].filter((i) => i.kind !== "Synthesized");
  assert.deepEqual(
    infos.map((i) => [i.kind, i.namespace, i.name, i.direction, i.ruleIndex, i.verdict, i.path]).sort(),
    [
      ["CiliumNetworkPolicy", "prod", "p", "egress", 0, "deny", "spec.egressDeny[0]"],
      ["CiliumNetworkPolicy", "prod", "p", "ingress", 0, "allow", "spec.ingress[0]"],
      ["CiliumNetworkPolicy", "prod", "p", "ingress", 1, "allow", "spec.ingress[1]"],
    ],
  );
  for (const i of infos) assert.ok(i.id >= 256);
});

test("ids are stable across recompiles, with and without the previous table", () => {
  const a = cnp("prod", "a", { endpointSelector: db, ingress: [{ fromEntities: ["world"] }] });
  const b = knp("prod", "b", { podSelector: db, ingress: [{}] });
  const first = buildWorld([a]);
  const fresh = buildWorld([b, a]);
  const chained = buildWorld([b, a], { previousRuleRefs: first.result.ruleRefs });
  const idOf = (w: typeof first, name: string) => [...w.result.ruleRefs.values()].find((i) => i.name === name)?.id;
  assert.equal(idOf(fresh, "a"), idOf(first, "a"));
  assert.equal(idOf(chained, "a"), idOf(first, "a"));
});

test("a hash collision is resolved without moving ids already in use", () => {
  const { policies } = parseAll([cnp("prod", "a", { endpointSelector: db, ingress: [{}] }), cnp("prod", "b", { endpointSelector: db, ingress: [{}] })]);
  const alone = allocateRuleRefs([policies[1]!]);
  const bId = [...alone.values()].find((i) => i.name === "b")!.id;
  // A previous table where "a" happens to own b's hash id.
  const aInfo = [...allocateRuleRefs([policies[0]!]).values()].find((i) => i.name === "a")!;
  const previous = new Map([[bId, { ...aInfo, id: bId }]]);
  const both = allocateRuleRefs(policies, previous);
  const ids = [...both.values()].filter((i) => i.kind !== "Synthesized");
  assert.equal(ids.find((i) => i.name === "a")?.id, bId);
  assert.notEqual(ids.find((i) => i.name === "b")?.id, bId);
  assert.equal(new Set(ids.map((i) => i.id)).size, ids.length);
});
