/**
 * The 15 common implementation mistakes of policy-semantics.md §14, one test each. Parts that
 * belong to the datapath or the L7/DNS proxies (HTTP 403 bodies, DNS REFUSED, conntrack replies)
 * are covered here only as far as the engine's output decides them; the rest is noted inline.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RESERVED_IDENTITY } from "../identity/reserved.js";
import { fqdnIdentityLabels } from "../identity/local-identity.js";
import { LOCAL_IDENTITY_SCOPE } from "../identity/reserved.js";
import { diffPolicyStates } from "./diff.js";
import { fqdnSelectorMatches } from "./fqdn.js";
import { ENDPOINT_MODE, policyKeyString } from "./types.js";
import { ICMP, ICMPV6, SCTP, TCP, UDP, buildWorld, ccnp, cnp, expectRejected, knp } from "./test-support.js";

const HOST = RESERVED_IDENTITY.host;
const WORLD = RESERVED_IDENTITY.world;
const db = { matchLabels: { app: "db" } };

test("§14.1 CNP `ingress: [{}]` is deny-all (host still allowed); the same KNP shape is allow-all", () => {
  const c = buildWorld([cnp("prod", "lock", { endpointSelector: db, ingress: [{}] })]);
  const drop = c.at("prod/db", "ingress", c.id("prod/client"), TCP, 5432);
  assert.equal(drop.verdict, "DROPPED");
  assert.equal(drop.dropReason, 133);
  assert.equal(c.at("prod/db", "ingress", HOST, TCP, 5432).verdict, "FORWARDED");

  const k = buildWorld([knp("prod", "open", { podSelector: db, ingress: [{}] })]);
  assert.equal(k.at("prod/db", "ingress", k.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
  assert.equal(k.at("prod/db", "ingress", WORLD, UDP, 9).verdict, "FORWARDED");
});

test("§14.2 empty versus absent sections", () => {
  const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [], egress: [{}] })]);
  const ep = w.result.state.get(w.ep("prod/db"));
  assert.equal(ep?.ingressMode, ENDPOINT_MODE.notEnforced);
  assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 5432).verdict, "FORWARDED");
  assert.equal(w.at("prod/db", "egress", WORLD, TCP, 443).verdict, "DROPPED");

  const errors = expectRejected(cnp("prod", "empty", { endpointSelector: db, ingress: [], egress: [] }));
  assert.match(errors.join("\n"), /at least one of ingress, ingressDeny, egress, egressDeny/);

  const none = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [], toPorts: [{ ports: [{ port: "5432", protocol: "TCP" }] }] }] })]);
  assert.equal(none.at("prod/db", "ingress", none.id("prod/client"), TCP, 5432).verdict, "DROPPED");
  assert.equal(none.at("prod/db", "ingress", WORLD, TCP, 5432).verdict, "DROPPED");

  const k = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ from: [] }] })]);
  assert.equal(k.at("prod/db", "ingress", WORLD, TCP, 5432).verdict, "FORWARDED");
  assert.equal(k.at("prod/db", "ingress", k.id("dev/client"), UDP, 53).verdict, "FORWARDED");
});

test("§14.3 namespace injection: CNP peers stay in the policy namespace, CCNP peers span namespaces but not host/world", () => {
  const sel = { fromEndpoints: [{ matchLabels: { app: "x" } }] };
  const c = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [sel] })]);
  assert.equal(c.at("prod/db", "ingress", c.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
  assert.equal(c.at("prod/db", "ingress", c.id("dev/client"), TCP, 5432).verdict, "DROPPED");

  const cc = buildWorld([ccnp("p", { endpointSelector: db, ingress: [sel] })]);
  assert.equal(cc.at("prod/db", "ingress", cc.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
  assert.equal(cc.at("prod/db", "ingress", cc.id("dev/client"), TCP, 5432).verdict, "FORWARDED");

  const all = buildWorld([ccnp("p", { endpointSelector: db, ingress: [{ fromEndpoints: [{}] }] })], { config: { allowLocalhost: "policy" } });
  assert.equal(all.at("prod/db", "ingress", all.id("dev/client"), TCP, 1).verdict, "FORWARDED");
  assert.equal(all.at("prod/db", "ingress", HOST, TCP, 1).verdict, "DROPPED");
  assert.equal(all.at("prod/db", "ingress", WORLD, TCP, 1).verdict, "DROPPED");
});

test("§14.4 a toPorts-only rule admits any peer on those ports only", () => {
  const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }] }] })]);
  assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 443).verdict, "FORWARDED");
  assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), TCP, 443).verdict, "FORWARDED");
  assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 444).verdict, "DROPPED");
  assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), TCP, 444).verdict, "DROPPED");
});

test("§14.5 deny precedence is not 'most specific wins'", () => {
  const x = { matchLabels: { app: "x" } };
  const a = buildWorld([
    cnp("prod", "allow", { endpointSelector: db, ingress: [{ fromEndpoints: [x], toPorts: [{ ports: [{ port: "80", protocol: "TCP" }] }] }] }),
    cnp("prod", "deny", { endpointSelector: db, ingressDeny: [{ fromEndpoints: [x] }] }),
  ]);
  const r = a.at("prod/db", "ingress", a.id("prod/client"), TCP, 80);
  assert.equal(r.verdict, "DROPPED");
  assert.equal(r.dropReason, 181);

  const b = buildWorld([
    cnp("prod", "allow", { endpointSelector: db, ingress: [{ fromEndpoints: [x] }] }),
    cnp("prod", "deny", { endpointSelector: db, ingressDeny: [{ toPorts: [{ ports: [{ port: "80", protocol: "TCP" }] }] }] }),
  ]);
  assert.equal(b.at("prod/db", "ingress", b.id("prod/client"), TCP, 80).dropReason, 181);
  assert.equal(b.at("prod/db", "ingress", b.id("prod/client"), TCP, 81).verdict, "FORWARDED");
  assert.equal(b.at("prod/db", "ingress", b.id("prod/client"), ICMP, 8).verdict, "FORWARDED");
});

test("§14.6 a deny-only policy turns default deny on, unless enableDefaultDeny.ingress is false", () => {
  const deny = { endpointSelector: db, ingressDeny: [{ fromEntities: ["world"] }] };
  const a = buildWorld([cnp("prod", "p", deny)]);
  assert.equal(a.at("prod/db", "ingress", a.id("prod/client"), TCP, 5432).dropReason, 133);
  assert.equal(a.at("prod/db", "ingress", WORLD, TCP, 5432).dropReason, 181);

  const b = buildWorld([cnp("prod", "p", { ...deny, enableDefaultDeny: { ingress: false } })]);
  assert.equal(b.at("prod/db", "ingress", b.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
  assert.equal(b.at("prod/db", "ingress", WORLD, TCP, 5432).dropReason, 181);
});

test("§14.7 enableDefaultDeny: false is per policy, not per endpoint", () => {
  const w = buildWorld([
    cnp("prod", "p1", { endpointSelector: db, enableDefaultDeny: { ingress: false }, ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }] }] }),
    cnp("prod", "p2", { endpointSelector: db, ingress: [{ fromEndpoints: [{ matchLabels: { app: "x" } }] }] }),
  ]);
  assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 5432).verdict, "FORWARDED");
  assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
  assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), TCP, 5432).verdict, "DROPPED");
  assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 5432).verdict, "DROPPED");
});

test("§14.8 CIDR rules never select pods or nodes; an except does not cancel another rule's allow", () => {
  const client = { matchLabels: { app: "x" } };
  const pods = buildWorld([cnp("prod", "p", { endpointSelector: client, egress: [{ toCIDR: ["10.244.0.0/16"] }] })]);
  assert.equal(pods.connect("prod/client", "prod/db", TCP, 5432).egress?.verdict, "DROPPED");
  assert.equal(pods.at("prod/client", "egress", pods.identityOfIp("10.244.200.1"), TCP, 5432).verdict, "FORWARDED");

  const node = buildWorld([cnp("prod", "p", { endpointSelector: client, egress: [{ toCIDR: ["198.18.0.11/32"] }] })]);
  assert.equal(node.at("prod/client", "egress", node.identityOfIp("198.18.0.11"), TCP, 10250).verdict, "DROPPED");

  const ex = buildWorld([
    cnp("prod", "a", { endpointSelector: client, egress: [{ toCIDRSet: [{ cidr: "10.0.0.0/8", except: ["10.96.0.0/12"] }] }] }),
    cnp("prod", "b", { endpointSelector: client, egress: [{ toCIDR: ["10.96.0.10/32"] }] }),
  ]);
  const out = (ip: string) => ex.at("prod/client", "egress", ex.identityOfIp(ip), TCP, 53).verdict;
  assert.equal(out("10.96.0.10"), "FORWARDED");
  assert.equal(out("10.96.0.11"), "DROPPED");
  assert.equal(out("10.1.2.3"), "FORWARDED");
  assert.equal(out("203.0.113.5"), "DROPPED");
});

test("§14.9 entity membership", () => {
  const client = { matchLabels: { app: "x" } };
  const c = buildWorld([cnp("prod", "p", { endpointSelector: client, egress: [{ toEntities: ["cluster"] }] })]);
  for (const id of [HOST, RESERVED_IDENTITY.remoteNode, RESERVED_IDENTITY.kubeApiserver, c.id("dev/api")]) {
    assert.equal(c.at("prod/client", "egress", id, TCP, 443).verdict, "FORWARDED", `identity ${id}`);
  }
  assert.equal(c.at("prod/client", "egress", c.identityOfIp("1.1.1.1"), TCP, 443).verdict, "DROPPED");

  const single = buildWorld([cnp("prod", "p", { endpointSelector: client, egress: [{ toEntities: ["world"] }] })]);
  assert.equal(single.at("prod/client", "egress", single.identityOfIp("1.1.1.1"), TCP, 443).verdict, "FORWARDED");
  assert.equal(single.at("prod/client", "egress", single.id("prod/db"), TCP, 443).verdict, "DROPPED");
  const dual = buildWorld([cnp("prod", "p", { endpointSelector: client, egress: [{ toEntities: ["world"] }] })], { config: { dualStack: true } });
  assert.equal(dual.identityOfIp("1.1.1.1"), RESERVED_IDENTITY.worldIpv4);
  assert.equal(dual.at("prod/client", "egress", dual.identityOfIp("1.1.1.1"), TCP, 443).verdict, "FORWARDED");
  assert.equal(dual.at("prod/client", "egress", dual.identityOfIp("2606:4700::1111"), TCP, 443).verdict, "FORWARDED");

  assert.match(expectRejected(cnp("prod", "p", { endpointSelector: client, egress: [{ toEntities: ["internet"] }] })).join(), /unsupported entity "internet"/);
});

test("§14.10 named ports: ingress on the subject, egress per destination, no service-port translation", () => {
  const http = { toPorts: [{ ports: [{ port: "http", protocol: "TCP" }] }] };
  const w = buildWorld([cnp("prod", "p", { endpointSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["web", "db"] }] }, ingress: [http] })]);
  assert.equal(w.at("prod/web", "ingress", w.id("prod/client"), TCP, 8080).verdict, "FORWARDED");
  assert.equal(w.at("prod/web", "ingress", w.id("prod/client"), TCP, 80).verdict, "DROPPED");
  // db has no port named http: nothing is opened on it.
  for (const port of [8080, 9090, 5432, 80]) assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, port).verdict, "DROPPED");

  const e = buildWorld([
    cnp("prod", "p", {
      endpointSelector: { matchLabels: { app: "x" } },
      egress: [{ toEndpoints: [{ matchExpressions: [{ key: "app", operator: "In", values: ["web", "api"] }], matchLabels: { "k8s:io.kubernetes.pod.namespace": "prod" } }, { matchLabels: { app: "api", "k8s:io.kubernetes.pod.namespace": "dev" } }], ...http }],
    }),
  ]);
  assert.equal(e.at("prod/client", "egress", e.id("prod/web"), TCP, 8080).verdict, "FORWARDED");
  assert.equal(e.at("prod/client", "egress", e.id("prod/web"), TCP, 9090).verdict, "DROPPED");
  assert.equal(e.at("prod/client", "egress", e.id("dev/api"), TCP, 9090).verdict, "FORWARDED");
  assert.equal(e.at("prod/client", "egress", e.id("dev/api"), TCP, 8080).verdict, "DROPPED");

  const svc = buildWorld([cnp("prod", "p", { endpointSelector: { matchLabels: { app: "web" } }, ingress: [{ toPorts: [{ ports: [{ port: "80", protocol: "TCP" }] }] }] })]);
  assert.equal(svc.at("prod/web", "ingress", svc.id("prod/client"), TCP, 8080).verdict, "DROPPED");
});

test("§14.11 protocol defaults: CNP no protocol = TCP/UDP/SCTP not ICMP; KNP no protocol = TCP; L3-only passes ping, L4-only does not", () => {
  const c = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEntities: ["world"], toPorts: [{ ports: [{ port: "80" }] }] }] })]);
  for (const proto of [TCP, UDP, SCTP]) assert.equal(c.at("prod/db", "ingress", WORLD, proto, 80).verdict, "FORWARDED");
  assert.equal(c.at("prod/db", "ingress", WORLD, ICMP, 8).verdict, "DROPPED");
  assert.equal(c.at("prod/db", "ingress", WORLD, ICMP, 80).verdict, "DROPPED");

  const k = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ ports: [{ port: 80 }] }] })]);
  assert.equal(k.at("prod/db", "ingress", WORLD, TCP, 80).verdict, "FORWARDED");
  assert.equal(k.at("prod/db", "ingress", WORLD, UDP, 80).verdict, "DROPPED");
  assert.equal(k.at("prod/db", "ingress", WORLD, SCTP, 80).verdict, "DROPPED");

  const l3 = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEntities: ["world"] }] })]);
  assert.equal(l3.at("prod/db", "ingress", WORLD, ICMP, 8).verdict, "FORWARDED");
  assert.equal(l3.at("prod/db", "ingress", WORLD, ICMPV6, 128).verdict, "FORWARDED");
});

test("§14.12 L7 union: an HTTP rule marks the entry for the proxy; a plain L4 allow on the same port widens it to every request", () => {
  const x = { matchLabels: { app: "x" } };
  const l7Only = cnp("prod", "l7", {
    endpointSelector: db,
    ingress: [{ fromEndpoints: [x], toPorts: [{ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{ method: "GET", path: "/a" }] } }] }],
  });
  const a = buildWorld([l7Only]);
  const r = a.at("prod/db", "ingress", a.id("prod/client"), TCP, 80);
  assert.equal(r.verdict, "FORWARDED");
  assert.equal(r.redirect?.parser, "http");
  assert.equal(r.redirect?.allowAll, false);
  assert.deepEqual(r.redirect?.rules.map((x) => x.l7), [{ parser: "http", http: [{ method: "GET", path: "/a" }] }]);
  // Other peers get nothing on 80 from an L7 rule that does not select them.
  assert.equal(a.at("prod/db", "ingress", a.id("prod/web"), TCP, 80).verdict, "DROPPED");

  const b = buildWorld([l7Only, cnp("prod", "l4", { endpointSelector: db, ingress: [{ fromEndpoints: [x], toPorts: [{ ports: [{ port: "80", protocol: "TCP" }] }] }] })]);
  const rb = b.at("prod/db", "ingress", b.id("prod/client"), TCP, 80);
  assert.equal(rb.redirect?.allowAll, true);

  const errs = expectRejected(
    cnp("prod", "bad", { endpointSelector: db, ingress: [{ toPorts: [{ ports: [{ port: "80", protocol: "ANY" }], rules: { http: [{ method: "GET" }] } }] }] }),
  );
  assert.match(errs.join(), /L7 rules can only apply to TCP/);
});

test("§14.13 FQDN patterns, and toFQDNs allows nothing until the DNS proxy learned addresses", () => {
  assert.equal(fqdnSelectorMatches("*.example.com", "a.example.com"), true);
  assert.equal(fqdnSelectorMatches("*.example.com", "example.com"), false);
  assert.equal(fqdnSelectorMatches("*.example.com", "a.b.example.com"), false);
  assert.equal(fqdnSelectorMatches("**.example.com", "a.b.example.com"), true);
  assert.equal(fqdnSelectorMatches("**.example.com", "example.com"), false);

  const policy = cnp("prod", "p", {
    endpointSelector: { matchLabels: { app: "x" } },
    egress: [{ toFQDNs: [{ matchPattern: "*.example.com" }], toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }] }],
  });
  const before = buildWorld([policy]);
  assert.deepEqual(before.result.fqdnSelectors, ["*.example.com."]);
  assert.equal(before.at("prod/client", "egress", WORLD, TCP, 443).verdict, "DROPPED");

  const learned = LOCAL_IDENTITY_SCOPE | 500;
  const after = buildWorld([policy], { extraIdentities: [{ id: learned, labels: fqdnIdentityLabels(["*.example.com."], "203.0.113.9") }] });
  assert.equal(after.at("prod/client", "egress", learned, TCP, 443).verdict, "FORWARDED");
  assert.equal(after.at("prod/client", "egress", learned, TCP, 80).verdict, "DROPPED");
  // REFUSED vs NXDOMAIN answers are the DNS proxy's (later issue), not the engine's.
});

test("§14.14 revoking an allow removes its entry, so the next original-direction packet is dropped", () => {
  const allow = cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [{ matchLabels: { app: "x" } }] }, { fromEndpoints: [{ matchLabels: { app: "web" } }] }] });
  const narrowed = cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }] }] });
  const a = buildWorld([allow]);
  const b = buildWorld([narrowed], { previousRuleRefs: a.result.ruleRefs });
  assert.equal(a.at("prod/db", "ingress", a.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
  assert.equal(b.at("prod/db", "ingress", b.id("prod/client"), TCP, 5432).verdict, "DROPPED");
  const diff = diffPolicyStates(a.result.state, b.result.state);
  const revoked = { epId: a.ep("prod/db"), direction: 0 as const, identity: a.id("prod/client"), proto: 0, dport: 0 };
  assert.ok(diff.deletes.some((k) => policyKeyString(k) === policyKeyString(revoked)));
  // Replies skipping policy and a pod reaching itself via its Service are datapath behaviour.
});

test("§14.15 attribution and audit", () => {
  const x = { matchLabels: { app: "x" } };
  const w = buildWorld([
    cnp("prod", "a", { endpointSelector: db, ingress: [{ fromEndpoints: [x] }] }),
    knp("prod", "b", { podSelector: db, ingress: [{ from: [{ podSelector: { matchLabels: { app: "x" } } }] }] }),
    ccnp("guard", { endpointSelector: {}, enableDefaultDeny: { ingress: false, egress: false }, ingressDeny: [{ fromEntities: ["world"] }] }),
  ]);
  const allowed = w.at("prod/db", "ingress", w.id("prod/client"), TCP, 5432);
  const names = allowed.entry?.origins.map((id) => w.result.ruleRefs.get(id)).map((i) => `${i?.kind}/${i?.namespace}/${i?.name}`);
  assert.deepEqual(names?.sort(), ["CiliumNetworkPolicy/prod/a", "NetworkPolicy/prod/b"]);

  const defaultDeny = w.at("prod/db", "ingress", w.id("dev/client"), TCP, 5432);
  assert.equal(defaultDeny.dropReason, 133);
  assert.equal(defaultDeny.ruleRef, 0);
  assert.deepEqual(
    w.result.state.get(w.ep("prod/db"))?.defaultDenyBy.ingress.map((r) => r.name),
    ["a", "b"],
  );

  const denied = w.at("prod/db", "ingress", WORLD, TCP, 5432);
  assert.equal(denied.dropReason, 181);
  assert.equal(w.result.ruleRefs.get(denied.ruleRef)?.name, "guard");

  const audited = buildWorld([cnp("prod", "a", { endpointSelector: db, ingress: [{ fromEndpoints: [x] }] })], { config: { auditMode: true } });
  const r = audited.at("prod/db", "ingress", audited.id("dev/client"), TCP, 5432);
  assert.equal(r.verdict, "AUDIT");
  assert.equal(audited.at("prod/db", "ingress", audited.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
  // An endpoint no policy selects is not enforced: no AUDIT.
  assert.equal(audited.at("prod/web", "ingress", audited.id("dev/client"), TCP, 80).verdict, "FORWARDED");
  assert.equal(audited.at("prod/web", "ingress", audited.id("dev/client"), TCP, 80).reason, "not-enforced");
});
