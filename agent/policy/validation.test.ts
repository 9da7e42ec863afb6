/**
 * Validation (policy-semantics.md §13): what must be rejected, with the field path named.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parsePolicy } from "./parse-policy.js";
import { ccnp, cnp, expectRejected, knp } from "./test-support.js";

const db = { matchLabels: { app: "db" } };
const ing = (el: unknown) => cnp("prod", "p", { endpointSelector: db, ingress: [el] });
const eg = (el: unknown) => cnp("prod", "p", { endpointSelector: db, egress: [el] });

function rejects(object: unknown, path: string, message: RegExp): void {
  const errors = expectRejected(object);
  assert.ok(
    errors.some((e) => e.startsWith(`${path}: `) && message.test(e)),
    `expected an error at ${path} matching ${message}, got:\n${errors.join("\n")}`,
  );
}

describe("CiliumNetworkPolicy validation", () => {
  test("rule structure", () => {
    rejects(cnp("prod", "p", { endpointSelector: db }), "spec", /at least one of ingress, ingressDeny, egress, egressDeny/);
    rejects(cnp("prod", "p", { ingress: [{}] }), "spec", /exactly one of endpointSelector and nodeSelector/);
    rejects(cnp("prod", "p", { endpointSelector: db, nodeSelector: {}, ingress: [{}] }), "spec", /exactly one of endpointSelector and nodeSelector/);
    rejects(cnp("prod", "p", { nodeSelector: {}, ingress: [{}] }), "spec.nodeSelector", /only allowed in a CiliumClusterwideNetworkPolicy/);
    rejects({ apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "p", namespace: "prod" } }, "spec", /one of spec and specs/);
  });

  test("entities, CIDRs and L3 combinations", () => {
    rejects(ing({ fromEntities: ["world", "galaxy"] }), "spec.ingress[0].fromEntities[1]", /unsupported entity "galaxy"/);
    rejects(eg({ toCIDR: ["10.0.0.0/33"] }), "spec.egress[0].toCIDR[0]", /exceeds 32/);
    rejects(eg({ toCIDR: ["10.0.0.0/255.0.0.0"] }), "spec.egress[0].toCIDR[0]", /non-contiguous/);
    rejects(eg({ toCIDR: ["not-an-ip"] }), "spec.egress[0].toCIDR[0]", /not an IP address/);
    rejects(eg({ toCIDRSet: [{ cidr: "10.0.0.0/16", except: ["10.1.0.0/24"] }] }), "spec.egress[0].toCIDRSet[0].except[0]", /not inside/);
    rejects(eg({ toCIDRSet: [{ cidr: "10.0.0.0/8", except: ["2001:db8::/32"] }] }), "spec.egress[0].toCIDRSet[0].except[0]", /same address family/);
    rejects(eg({ toCIDRSet: [{ cidrGroupRef: "g" }] }), "spec.egress[0].toCIDRSet[0]", /not supported/);
    rejects(eg({ toCIDRSet: [{ cidr: "10.0.0.0/8", cidrGroupRef: "g" }] }), "spec.egress[0].toCIDRSet[0]", /exactly one of cidr/);
    rejects(ing({ fromEndpoints: [{}], fromCIDR: ["10.0.0.0/8"] }), "spec.ingress[0]", /combining fromEndpoints and fromCIDR is not supported/);
    rejects(eg({ toEntities: ["world"], toFQDNs: [{ matchName: "a.com" }] }), "spec.egress[0]", /combining toEntities and toFQDNs/);
    rejects(ing({ fromRequires: [{ matchLabels: { a: "b" } }] }), "spec.ingress[0].fromRequires", /removed/);
    rejects(ing({ fromNodes: [{}] }), "spec.ingress[0].fromNodes", /enable-node-selector-labels/);
    rejects(eg({ toServices: [{ k8sService: { serviceName: "s" } }] }), "spec.egress[0].toServices", /not supported/);
    rejects(eg({ toFQDNs: [{ matchName: "a.com", matchPattern: "*.a.com" }] }), "spec.egress[0].toFQDNs[0]", /exactly one of matchName and matchPattern/);
    rejects(eg({ toFQDNs: [{ matchName: "a b.com" }] }), "spec.egress[0].toFQDNs[0]", /characters/);
  });

  test("ports and protocols", () => {
    rejects(ing({ toPorts: [{ ports: [{ port: "70000", protocol: "TCP" }] }] }), "spec.ingress[0].toPorts[0].ports[0].port", /out of range/);
    rejects(ing({ toPorts: [{ ports: [{ port: "80", endPort: 70000 }] }] }), "spec.ingress[0].toPorts[0].ports[0].endPort", /out of range/);
    rejects(ing({ toPorts: [{ ports: [{ port: "http", endPort: 90 }] }] }), "spec.ingress[0].toPorts[0].ports[0].endPort", /named port cannot have an endPort/);
    rejects(ing({ toPorts: [{ ports: [{ port: "80", protocol: "ICMP" }] }] }), "spec.ingress[0].toPorts[0].ports[0].protocol", /unsupported protocol/);
    rejects(ing({ toPorts: [{ ports: [{ protocol: "TCP" }] }] }), "spec.ingress[0].toPorts[0].ports[0].port", /port is required/);
    rejects(ing({ toPorts: [{ ports: [{ port: "-http-" }] }] }), "spec.ingress[0].toPorts[0].ports[0].port", /neither a port number nor a valid port name/);
    const many = Array.from({ length: 41 }, (_, i) => ({ port: String(1000 + i), protocol: "TCP" }));
    rejects(ing({ toPorts: [{ ports: many }] }), "spec.ingress[0].toPorts[0].ports", /at most 40 ports/);
    rejects(ing({ toPorts: [{ ports: [{ port: "80" }] }], icmps: [{ fields: [{ type: 8 }] }] }), "spec.ingress[0]", /ICMPs block may only be present without toPorts/);
    rejects(ing({ icmps: [{ fields: [{ type: "Ping" }] }] }), "spec.ingress[0].icmps[0].fields[0].type", /unknown ICMP type/);
    rejects(ing({ icmps: [{ fields: [{ type: 300 }] }] }), "spec.ingress[0].icmps[0].fields[0].type", /unknown ICMP type/);
    rejects(ing({ icmps: [{ fields: [{ type: 8, family: "IPv5" }] }] }), "spec.ingress[0].icmps[0].fields[0].family", /IPv4 or IPv6/);
  });

  test("endPort below port is a warning in a CNP (treated as the single port, as Cilium does)", () => {
    const r = parsePolicy(ing({ toPorts: [{ ports: [{ port: "90", endPort: 80, protocol: "TCP" }] }] }));
    assert.ok(r.ok);
    assert.ok(r.problems.some((p) => p.severity === "warning" && p.path === "spec.ingress[0].toPorts[0].ports[0].endPort"));
  });

  test("L7 rules", () => {
    const http = { http: [{ method: "GET" }] };
    rejects(ing({ toPorts: [{ ports: [{ port: "80" }], rules: http }] }), "spec.ingress[0].toPorts[0].ports[0].protocol", /only apply to TCP/);
    rejects(ing({ toPorts: [{ ports: [{ port: "80", protocol: "UDP" }], rules: http }] }), "spec.ingress[0].toPorts[0].ports[0].protocol", /only apply to TCP/);
    rejects(ing({ toPorts: [{ ports: [{ port: "0", protocol: "TCP" }], rules: http }] }), "spec.ingress[0].toPorts[0].ports[0].port", /not 0/);
    rejects(ing({ toPorts: [{ rules: http }] }), "spec.ingress[0].toPorts[0].ports", /at least one explicit port/);
    rejects(eg({ toPorts: [{ ports: [{ port: "53", protocol: "TCP" }], rules: { ...http, dns: [{ matchName: "a.com" }] } }] }), "spec.egress[0].toPorts[0].rules", /not both/);
    rejects(ing({ toPorts: [{ ports: [{ port: "53", protocol: "UDP" }], rules: { dns: [{ matchPattern: "*" }] } }] }), "spec.ingress[0].toPorts[0].rules.dns", /not allowed on ingress/);
    rejects(eg({ toPorts: [{ ports: [{ port: "53", endPort: 54, protocol: "UDP" }], rules: { dns: [{ matchPattern: "*" }] } }] }), "spec.egress[0].toPorts[0].ports[0].endPort", /ranges/);
    rejects(eg({ toPorts: [{ rules: { dns: [{ matchPattern: "*" }] } }] }), "spec.egress[0].toPorts[0].ports", /at least one explicit port/);
    rejects(ing({ toPorts: [{ ports: [{ port: "80", protocol: "TCP" }], rules: { kafka: [{}] } }] }), "spec.ingress[0].toPorts[0].rules.kafka", /not supported/);
    rejects(ing({ toPorts: [{ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{ path: "/(" }] } }] }), "spec.ingress[0].toPorts[0].rules.http[0].path", /regular expression/);
    rejects(ccnp("h", { nodeSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: "80", protocol: "TCP" }], rules: http }] }] }), "spec.ingress[0].toPorts[0].rules.http", /host/);
  });

  test("fields that do not exist in deny rules are errors, other unknown fields warnings", () => {
    rejects(
      cnp("prod", "p", { endpointSelector: db, ingressDeny: [{ toPorts: [{ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{}] } }] }] }),
      "spec.ingressDeny[0].toPorts[0].rules",
      /not allowed in deny rules/,
    );
    rejects(cnp("prod", "p", { endpointSelector: db, egressDeny: [{ toFQDNs: [{ matchName: "a.com" }] }] }), "spec.egressDeny[0].toFQDNs", /not allowed in egressDeny/);
    const typo = parsePolicy(cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoint: [{}] }] }));
    assert.ok(typo.ok);
    assert.deepEqual(
      typo.problems.map((p) => [p.severity, p.path]),
      [["warning", "spec.ingress[0].fromEndpoint"]],
    );
  });

  test("selectors and annotations", () => {
    rejects(ing({ fromEndpoints: [{ matchExpressions: [{ key: "a", operator: "In", values: [] }] }] }), "spec.ingress[0].fromEndpoints[0].matchExpressions[0].values", /at least one value/);
    rejects(ing({ fromEndpoints: [{ matchExpressions: [{ key: "a", operator: "Equals", values: ["b"] }] }] }), "spec.ingress[0].fromEndpoints[0].matchExpressions[0].operator", /./);
    rejects(cnp("prod", "p", { endpointSelector: db, ingress: [{}] }, { metadata: { annotations: { "policy.conform.dev/audit-mode": "yes" } } }), 'metadata.annotations["policy.conform.dev/audit-mode"]', /"true" or "false"/);
    rejects(cnp("prod", "p", { endpointSelector: db, ingress: [{}], log: { value: "x".repeat(33) } }), "spec.log.value", /32/);
    rejects(cnp("prod", "p", { endpointSelector: db, ingress: "all" }), "spec.ingress", /./);
  });

  test("one bad rule rejects the whole object (never half-applied)", () => {
    const obj = {
      apiVersion: "cilium.io/v2",
      kind: "CiliumNetworkPolicy",
      metadata: { name: "p", namespace: "prod" },
      specs: [{ endpointSelector: db, ingress: [{}] }, { endpointSelector: db, egress: [{ toEntities: ["nope"] }] }],
    };
    rejects(obj, "specs[1].egress[0].toEntities[0]", /unsupported entity/);
  });

  test("not a policy kind throws", () => {
    assert.throws(() => parsePolicy({ kind: "Pod", metadata: { name: "x" } }), /not a network policy object/);
  });
});

describe("NetworkPolicy validation", () => {
  const np = (spec: unknown) => knp("prod", "p", { podSelector: db, ...(spec as object) });
  test("peers", () => {
    rejects(np({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8" }, podSelector: {} }] }] }), "spec.ingress[0].from[0]", /ipBlock may not be combined/);
    rejects(np({ ingress: [{ from: [{}] }] }), "spec.ingress[0].from[0]", /at least one of podSelector, namespaceSelector or ipBlock/);
    rejects(np({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.0.0.0/8"] } }] }] }), "spec.ingress[0].from[0].ipBlock.except[0]", /strict subset/);
    rejects(np({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["11.0.0.0/16"] } }] }] }), "spec.ingress[0].from[0].ipBlock.except[0]", /not inside/);
    rejects(np({ ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/40" } }] }] }), "spec.ingress[0].from[0].ipBlock.cidr", /exceeds/);
  });
  test("ports and policyTypes", () => {
    rejects(np({ ingress: [{ ports: [{ protocol: "ICMP", port: 1 }] }] }), "spec.ingress[0].ports[0].protocol", /TCP, UDP or SCTP/);
    rejects(np({ ingress: [{ ports: [{ port: 0 }] }] }), "spec.ingress[0].ports[0].port", /out of range/);
    rejects(np({ ingress: [{ ports: [{ port: 70000 }] }] }), "spec.ingress[0].ports[0].port", /out of range/);
    rejects(np({ ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }), "spec.ingress[0].ports[0].endPort", /greater than or equal/);
    rejects(np({ ingress: [{ ports: [{ port: "http", endPort: 80 }] }] }), "spec.ingress[0].ports[0].endPort", /numeric port/);
    rejects(np({ ingress: [{ ports: [{ endPort: 80 }] }] }), "spec.ingress[0].ports[0].endPort", /numeric port/);
    rejects(np({ policyTypes: ["Ingress", "Egress", "Ingress"] }), "spec.policyTypes", /at most 2/);
    rejects(np({ policyTypes: ["Inbound"] }), "spec.policyTypes[0]", /unsupported policy type/);
    rejects(knp("prod", "p", { ingress: [{}] }), "spec.podSelector", /./);
  });
});
