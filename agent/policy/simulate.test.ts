/**
 * The six-probe lookup: deny beats allow at every pair of specificities, the first allow in
 * probe order supplies rule_ref and match type.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { simulateLookup, POLICY_MATCH_TYPE } from "./simulate.js";
import { TCP, UDP, buildWorld, cnp } from "./test-support.js";

const db = { matchLabels: { app: "db" } };
const x = { fromEndpoints: [{ matchLabels: { app: "x" } }] };
const tcp = (port: string) => ({ toPorts: [{ ports: [{ port, protocol: "TCP" }] }] });

/** One rule shape per probe level, for the packet X → db:80/TCP. */
const LEVELS: Array<[string, Record<string, unknown>, number]> = [
  ["(I,P,D)", { ...x, ...tcp("80") }, POLICY_MATCH_TYPE.l3l4],
  ["(I,P,0)", { ...x, ...tcp("0") }, POLICY_MATCH_TYPE.l3Proto],
  ["(I,0,0)", { ...x }, POLICY_MATCH_TYPE.l3Only],
  ["(0,P,D)", { ...tcp("80") }, POLICY_MATCH_TYPE.l4Only],
  ["(0,P,0)", { ...tcp("0") }, POLICY_MATCH_TYPE.protoOnly],
  ["(0,0,0)", { fromEntities: ["all"] }, POLICY_MATCH_TYPE.all],
];

describe("deny beats allow at every specificity", () => {
  for (const [allowName, allowRule, matchType] of LEVELS) {
    test(`allow ${allowName} alone forwards X:80 with match type ${matchType}`, () => {
      const w = buildWorld([cnp("prod", "allow", { endpointSelector: db, ingress: [allowRule] })]);
      const r = w.at("prod/db", "ingress", w.id("prod/client"), TCP, 80);
      assert.equal(r.verdict, "FORWARDED");
      assert.equal(r.matchType, matchType);
      assert.equal(w.result.ruleRefs.get(r.ruleRef)?.name, "allow");
    });
    for (const [denyName, denyRule] of LEVELS) {
      test(`allow ${allowName} + deny ${denyName} drops X:80`, () => {
        const w = buildWorld([
          cnp("prod", "allow", { endpointSelector: db, ingress: [allowRule] }),
          cnp("prod", "deny", { endpointSelector: db, ingressDeny: [denyRule] }),
        ]);
        const r = w.at("prod/db", "ingress", w.id("prod/client"), TCP, 80);
        assert.equal(r.verdict, "DROPPED");
        assert.equal(r.dropReason, 181);
        assert.equal(w.result.ruleRefs.get(r.ruleRef)?.name, "deny");
        // A packet outside the deny but inside the allow still passes.
        const other = w.at("prod/db", "ingress", w.id("prod/client"), UDP, 80);
        const allowCoversUdp = allowName === "(I,0,0)" || allowName === "(0,0,0)";
        const denyCoversUdp = denyName === "(I,0,0)" || denyName === "(0,0,0)";
        assert.equal(other.verdict, allowCoversUdp && !denyCoversUdp ? "FORWARDED" : "DROPPED");
      });
    }
  }
});

test("the most specific allow supplies rule_ref", () => {
  const w = buildWorld([
    cnp("prod", "broad", { endpointSelector: db, ingress: [x] }),
    cnp("prod", "narrow", { endpointSelector: db, ingress: [{ ...x, ...tcp("80") }] }),
  ]);
  const r = w.at("prod/db", "ingress", w.id("prod/client"), TCP, 80);
  assert.equal(w.result.ruleRefs.get(r.ruleRef)?.name, "narrow");
  assert.equal(w.result.ruleRefs.get(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 81).ruleRef)?.name, "broad");
});

test("an unknown endpoint is not enforced; a protocol of 0 is refused", () => {
  const w = buildWorld([]);
  assert.equal(simulateLookup(w.result.state, 999, "ingress", 2, TCP, 80).reason, "not-enforced");
  assert.throws(() => simulateLookup(w.result.state, 1, "ingress", 2, 0, 0), RangeError);
});
