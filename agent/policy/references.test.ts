import { test } from "node:test";
import assert from "node:assert/strict";
import { compilePolicies } from "./compile.js";
import { collectCidrPrefixes, collectFqdnSelectors } from "./references.js";
import { cnp, parseAll } from "./test-support.js";

const x = { matchLabels: { app: "x" } };

test("referenced CIDR prefixes (with excepts) and FQDN selectors, sorted and deduplicated", () => {
  const { policies } = parseAll([
    cnp("prod", "a", { endpointSelector: x, egress: [{ toCIDRSet: [{ cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] }] }, { toCIDR: ["2001:db8::/32", "192.0.2.1"] }] }),
    cnp("prod", "b", { endpointSelector: x, egress: [{ toCIDR: ["10.0.0.0/8"] }, { toFQDNs: [{ matchName: "API.example.com" }, { matchPattern: "*.example.com" }] }] }),
  ]);
  assert.deepEqual(collectCidrPrefixes(policies), ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"]);
  assert.deepEqual(collectFqdnSelectors(policies), ["*.example.com.", "api.example.com."]);
});

test("a prefix without a CIDR identity is reported as a warning", () => {
  const { policies } = parseAll([cnp("prod", "a", { endpointSelector: x, egress: [{ toCIDR: ["192.0.2.0/24"] }] })]);
  const r = compilePolicies({ policies, endpoints: [], identities: [] });
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]?.severity, "warning");
  assert.match(r.problems[0]?.message ?? "", /192\.0\.2\.0\/24/);
});
