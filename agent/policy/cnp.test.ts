/**
 * CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy features, each with a must-allow and a
 * must-deny case checked through simulateLookup.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RESERVED_IDENTITY } from "../identity/reserved.js";
import { ENDPOINT_MODE } from "./types.js";
import { ICMP, ICMPV6, SCTP, TCP, UDP, buildWorld, ccnp, cnp } from "./test-support.js";

const HOST = RESERVED_IDENTITY.host;
const WORLD = RESERVED_IDENTITY.world;
const db = { matchLabels: { app: "db" } };
const x = { matchLabels: { app: "x" } };
const port = (p: string, protocol?: string, endPort?: number) => ({ ports: [{ port: p, ...(protocol ? { protocol } : {}), ...(endPort ? { endPort } : {}) }] });

describe("endpointSelector", () => {
  test("selects matching endpoints of the policy namespace only", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: x, ingress: [{}] })]);
    assert.equal(w.at("prod/client", "ingress", w.id("prod/web"), TCP, 80).verdict, "DROPPED");
    assert.equal(w.at("dev/client", "ingress", w.id("prod/web"), TCP, 80).verdict, "FORWARDED");
    assert.equal(w.at("prod/web", "ingress", w.id("prod/client"), TCP, 80).verdict, "FORWARDED");
  });

  test("matchExpressions in the subject", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: { matchExpressions: [{ key: "app", operator: "NotIn", values: ["db"] }] }, ingress: [{}] })]);
    assert.equal(w.at("prod/web", "ingress", WORLD, TCP, 80).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 80).verdict, "FORWARDED");
  });

  test("a namespace requirement on another namespace is dropped with a warning", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: { matchLabels: { app: "x", "k8s:io.kubernetes.pod.namespace": "dev" } }, ingress: [{}] })]);
    assert.ok(w.warnings.some((p) => /own namespace/.test(p.message)));
    assert.equal(w.at("prod/client", "ingress", WORLD, TCP, 80).verdict, "DROPPED");
    assert.equal(w.at("dev/client", "ingress", WORLD, TCP, 80).verdict, "FORWARDED");
  });

  test("CCNP `{}` selects every endpoint in every namespace", () => {
    const w = buildWorld([ccnp("all", { endpointSelector: {}, ingress: [{}] })]);
    for (const pod of ["prod/db", "dev/client", "kube-system/dns"]) assert.equal(w.at(pod, "ingress", WORLD, TCP, 80).verdict, "DROPPED", pod);
  });

  test("CCNP nodeSelector rules select the host endpoint only, never pods (host.test.ts)", () => {
    const w = buildWorld([ccnp("host", { nodeSelector: {}, ingress: [{}] })]);
    assert.equal(w.warnings.length, 0);
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 80).verdict, "FORWARDED");
  });
});

describe("fromEndpoints / toEndpoints", () => {
  test("matchExpressions: In, NotIn, Exists, DoesNotExist", () => {
    const w = buildWorld([
      cnp("prod", "p", {
        endpointSelector: db,
        ingress: [
          { fromEndpoints: [{ matchExpressions: [{ key: "app", operator: "In", values: ["x", "y"] }] }], toPorts: [port("1", "TCP")] },
          { fromEndpoints: [{ matchExpressions: [{ key: "app", operator: "NotIn", values: ["x", "db"] }] }], toPorts: [port("2", "TCP")] },
          { fromEndpoints: [{ matchExpressions: [{ key: "app", operator: "Exists" }] }], toPorts: [port("3", "TCP")] },
          { fromEndpoints: [{ matchExpressions: [{ key: "tier", operator: "DoesNotExist" }] }], toPorts: [port("4", "TCP")] },
        ],
      }),
    ]);
    const client = w.id("prod/client");
    const web = w.id("prod/web");
    assert.equal(w.at("prod/db", "ingress", client, TCP, 1).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", web, TCP, 1).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", web, TCP, 2).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", client, TCP, 2).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", web, TCP, 3).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), TCP, 3).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", client, TCP, 4).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 4).verdict, "DROPPED");
  });

  test("service account selection stays namespace-scoped", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [{ matchLabels: { "io.cilium.k8s.policy.serviceaccount": "leia" } }] }] })]);
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 5432).verdict, "DROPPED");
  });

  test("explicit namespace and namespace labels cross namespaces", () => {
    const w = buildWorld([
      cnp("prod", "p", {
        endpointSelector: db,
        ingress: [
          { fromEndpoints: [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns" } }], toPorts: [port("1", "TCP")] },
          { fromEndpoints: [{ matchLabels: { "k8s:io.cilium.k8s.namespace.labels.team": "b" } }], toPorts: [port("2", "TCP")] },
        ],
      }),
    ]);
    assert.equal(w.at("prod/db", "ingress", w.id("kube-system/dns"), TCP, 1).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 1).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), TCP, 2).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 2).verdict, "DROPPED");
  });

  test("peers are limited to the local cluster unless the selector names a cluster", () => {
    const remote = { id: 9000, labels: { "k8s:app": "x", "k8s:io.kubernetes.pod.namespace": "prod", "k8s:io.cilium.k8s.policy.cluster": "other" } };
    const sel = { endpointSelector: db, ingress: [{ fromEndpoints: [x] }] };
    const on = buildWorld([cnp("prod", "p", sel)], { extraIdentities: [remote] });
    assert.equal(on.at("prod/db", "ingress", 9000, TCP, 1).verdict, "DROPPED");
    assert.equal(on.at("prod/db", "ingress", on.id("prod/client"), TCP, 1).verdict, "FORWARDED");
    const off = buildWorld([cnp("prod", "p", sel)], { extraIdentities: [remote], config: { policyDefaultLocalCluster: false } });
    assert.equal(off.at("prod/db", "ingress", 9000, TCP, 1).verdict, "FORWARDED");
    const named = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [{ matchLabels: { app: "x", "io.cilium.k8s.policy.cluster": "other" } }] }] })], {
      extraIdentities: [remote],
    });
    assert.equal(named.at("prod/db", "ingress", 9000, TCP, 1).verdict, "FORWARDED");
    assert.equal(named.at("prod/db", "ingress", named.id("prod/client"), TCP, 1).verdict, "DROPPED");
  });

  test("a reserved-label selector is neither namespace- nor cluster-scoped", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [{ matchLabels: { "reserved:world": "" } }] }] })]);
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 1).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 1).verdict, "DROPPED");
  });
});

describe("entities", () => {
  const cases: Array<[string, number[], number[]]> = [
    ["host", [RESERVED_IDENTITY.host], [RESERVED_IDENTITY.remoteNode, WORLD]],
    ["remote-node", [RESERVED_IDENTITY.remoteNode, RESERVED_IDENTITY.kubeApiserver], [RESERVED_IDENTITY.host, WORLD]],
    ["kube-apiserver", [RESERVED_IDENTITY.kubeApiserver], [RESERVED_IDENTITY.remoteNode, WORLD]],
    ["health", [RESERVED_IDENTITY.health], [RESERVED_IDENTITY.host]],
    ["init", [RESERVED_IDENTITY.init], [RESERVED_IDENTITY.host]],
    ["unmanaged", [RESERVED_IDENTITY.unmanaged], [WORLD]],
    ["ingress", [RESERVED_IDENTITY.ingress], [WORLD]],
    ["world", [WORLD], [RESERVED_IDENTITY.host, RESERVED_IDENTITY.remoteNode]],
    ["cluster", [RESERVED_IDENTITY.host, RESERVED_IDENTITY.health, RESERVED_IDENTITY.init, RESERVED_IDENTITY.unmanaged], [WORLD]],
    ["all", [WORLD, RESERVED_IDENTITY.host, 123456], []],
    ["none", [], [WORLD, RESERVED_IDENTITY.host]],
  ];
  for (const [entity, allowed, dropped] of cases) {
    test(`toEntities: [${entity}]`, () => {
      const w = buildWorld([cnp("prod", "p", { endpointSelector: x, egress: [{ toEntities: [entity] }] })]);
      for (const id of allowed) assert.equal(w.at("prod/client", "egress", id, TCP, 443).verdict, "FORWARDED", `${entity} must allow ${id}`);
      for (const id of dropped) assert.equal(w.at("prod/client", "egress", id, TCP, 443).verdict, "DROPPED", `${entity} must drop ${id}`);
      if (entity !== "all" && entity !== "cluster") assert.equal(w.at("prod/client", "egress", w.id("prod/db"), TCP, 443).verdict, "DROPPED");
    });
  }

  test("host carrying kube-apiserver (apiserver on this node) is selected by kube-apiserver", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: x, egress: [{ toEntities: ["kube-apiserver"] }] })], {
      extraIdentities: [{ id: RESERVED_IDENTITY.host, labels: { "reserved:host": "", "reserved:kube-apiserver": "" } }],
    });
    assert.equal(w.at("prod/client", "egress", RESERVED_IDENTITY.host, TCP, 6443).verdict, "FORWARDED");
    assert.equal(w.at("prod/client", "egress", RESERVED_IDENTITY.remoteNode, TCP, 6443).verdict, "DROPPED");
  });
});

describe("CIDR rules", () => {
  test("fromCIDR and fromCIDRSet with except (ingress)", () => {
    const w = buildWorld([
      cnp("prod", "p", {
        endpointSelector: db,
        ingress: [{ fromCIDR: ["203.0.113.0/28"] }, { fromCIDRSet: [{ cidr: "198.51.100.0/24", except: ["198.51.100.128/25"] }] }],
      }),
    ]);
    const at = (ip: string) => w.at("prod/db", "ingress", w.identityOfIp(ip), TCP, 5432).verdict;
    assert.equal(at("203.0.113.5"), "FORWARDED");
    assert.equal(at("203.0.113.17"), "DROPPED");
    assert.equal(at("198.51.100.7"), "FORWARDED");
    assert.equal(at("198.51.100.200"), "DROPPED");
    assert.deepEqual(w.result.cidrPrefixes, ["198.51.100.0/24", "198.51.100.128/25", "203.0.113.0/28"]);
  });

  test("0.0.0.0/0 covers world and every CIDR identity outside its excepts", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: x, egress: [{ toCIDRSet: [{ cidr: "0.0.0.0/0", except: ["169.254.169.254/32"] }] }] })]);
    const at = (ip: string) => w.at("prod/client", "egress", w.identityOfIp(ip), TCP, 80).verdict;
    assert.equal(at("1.1.1.1"), "FORWARDED");
    assert.equal(at("169.254.169.254"), "DROPPED");
    assert.equal(w.at("prod/client", "egress", w.id("prod/db"), TCP, 80).verdict, "DROPPED");
    assert.deepEqual(w.result.cidrPrefixes, ["169.254.169.254/32"]);
  });
});

describe("toPorts", () => {
  test("port ranges expand to one entry per port", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [x], toPorts: [port("8000", "TCP", 8003)] }] })]);
    for (const p of [8000, 8001, 8003]) assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, p).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 7999).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 8004).verdict, "DROPPED");
    const ep = w.result.state.get(w.ep("prod/db"));
    assert.equal([...(ep?.entries.values() ?? [])].filter((e) => e.key.identity === w.id("prod/client")).length, 4);
  });

  test("a range covering 1-65535 collapses into port 0; port 0 is every port of the protocol", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [x], toPorts: [port("1", "UDP", 65535)] }, { fromEntities: ["world"], toPorts: [port("0", "SCTP")] }] })]);
    const ep = w.result.state.get(w.ep("prod/db"));
    assert.ok([...(ep?.entries.values() ?? [])].some((e) => e.key.identity === w.id("prod/client") && e.key.proto === UDP && e.key.dport === 0));
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), UDP, 4242).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 4242).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", WORLD, SCTP, 9).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 9).verdict, "DROPPED");
  });

  test("a huge port-range expansion is reported", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEntities: ["world"], toPorts: [port("1024", "TCP", 30000)] }] })]);
    assert.ok(w.result.problems.some((p) => p.path === "spec.ingress[0]" && /map entries per selected endpoint/.test(p.message)));
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 30000).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 30001).verdict, "DROPPED");
  });

  test("explicit protocols", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEntities: ["world"], toPorts: [port("53", "udp"), port("9", "SCTP")] }] })]);
    assert.equal(w.at("prod/db", "ingress", WORLD, UDP, 53).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 53).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", WORLD, SCTP, 9).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, UDP, 9).verdict, "DROPPED");
  });

  test("named port with a protocol that does not match the container port opens nothing", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ toPorts: [port("postgres", "UDP")] }, { toPorts: [port("POSTGRES")] }] })]);
    assert.equal(w.at("prod/db", "ingress", WORLD, UDP, 5432).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 5432).verdict, "FORWARDED");
  });
});

describe("icmps", () => {
  test("numeric and named types, IPv4 and IPv6", () => {
    const w = buildWorld([
      cnp("prod", "p", {
        endpointSelector: db,
        ingress: [{ fromEntities: ["world"], icmps: [{ fields: [{ type: 8 }, { type: "EchoRequest", family: "IPv6" }] }] }],
      }),
    ]);
    assert.equal(w.at("prod/db", "ingress", WORLD, ICMP, 8).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, ICMP, 13).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", WORLD, ICMPV6, 128).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, ICMPV6, 8).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 8).verdict, "DROPPED");
  });

  test("an icmps-only rule is a wildcard peer for those types", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ icmps: [{ fields: [{ type: "EchoRequest" }] }] }] })]);
    assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), ICMP, 8).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), ICMP, 0).verdict, "DROPPED");
  });

  test("deny by ICMP type", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEntities: ["all"] }], ingressDeny: [{ icmps: [{ fields: [{ type: 8 }] }] }] })]);
    assert.equal(w.at("prod/db", "ingress", WORLD, ICMP, 8).dropReason, 181);
    assert.equal(w.at("prod/db", "ingress", WORLD, ICMP, 0).verdict, "FORWARDED");
  });
});

describe("deny rules", () => {
  test("egressDeny on a CIDR beats an allow-all", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: x, egress: [{ toEntities: ["all"] }], egressDeny: [{ toCIDR: ["169.254.169.254/32"] }] })]);
    assert.equal(w.at("prod/client", "egress", w.identityOfIp("169.254.169.254"), TCP, 80).dropReason, 181);
    assert.equal(w.at("prod/client", "egress", w.identityOfIp("1.1.1.1"), TCP, 80).verdict, "FORWARDED");
  });

  test("a CCNP deny overrides namespace allows (guardrail) without switching egress to default deny", () => {
    const w = buildWorld([
      ccnp("guard", { endpointSelector: {}, enableDefaultDeny: { egress: false }, egressDeny: [{ toEndpoints: [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": "prod", app: "db" } }] }] }),
      cnp("dev", "allow", { endpointSelector: x, egress: [{ toEndpoints: [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": "prod" } }] }] }),
    ]);
    assert.equal(w.at("dev/client", "egress", w.id("prod/db"), TCP, 5432).dropReason, 181);
    assert.equal(w.at("dev/client", "egress", w.id("prod/web"), TCP, 80).verdict, "FORWARDED");
    assert.equal(w.at("dev/client", "egress", WORLD, TCP, 80).verdict, "DROPPED");
    assert.equal(w.at("prod/web", "egress", WORLD, TCP, 80).verdict, "FORWARDED");
    assert.equal(w.at("prod/web", "egress", w.id("prod/db"), TCP, 5432).dropReason, 181);
  });
});

describe("enableDefaultDeny", () => {
  test("egress: false keeps egress open except for explicit denies", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: x, enableDefaultDeny: { egress: false }, egress: [{ toEntities: ["world"] }], egressDeny: [{ toEntities: ["host"] }] })]);
    const ep = w.result.state.get(w.ep("prod/client"));
    assert.equal(ep?.egressMode, ENDPOINT_MODE.enforced);
    assert.equal(ep?.defaultDenyCause.egress, "none");
    assert.equal(w.at("prod/client", "egress", w.id("prod/db"), TCP, 5432).verdict, "FORWARDED");
    assert.equal(w.at("prod/client", "egress", HOST, TCP, 5432).dropReason, 181);
  });

  test("enable-non-default-deny-policies=false forces default deny", () => {
    const spec = { endpointSelector: x, enableDefaultDeny: { egress: false }, egress: [{ toEntities: ["world"] }] };
    const w = buildWorld([cnp("prod", "p", spec)], { config: { enableNonDefaultDenyPolicies: false } });
    assert.equal(w.at("prod/client", "egress", w.id("prod/db"), TCP, 5432).verdict, "DROPPED");
    assert.equal(w.at("prod/client", "egress", WORLD, TCP, 5432).verdict, "FORWARDED");
  });

  test("enableDefaultDeny.ingress: true with only egress rules does not enforce ingress (#35558)", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: x, enableDefaultDeny: { ingress: true }, egress: [{ toEntities: ["world"] }] })]);
    assert.equal(w.result.state.get(w.ep("prod/client"))?.ingressMode, ENDPOINT_MODE.notEnforced);
    assert.equal(w.at("prod/client", "ingress", WORLD, TCP, 1).verdict, "FORWARDED");
    assert.equal(w.at("prod/client", "egress", HOST, TCP, 1).verdict, "DROPPED");
  });
});

describe("specs and L7", () => {
  test("every rule of `specs` applies, each with its own rule refs", () => {
    const w = buildWorld([
      {
        apiVersion: "cilium.io/v2",
        kind: "CiliumNetworkPolicy",
        metadata: { name: "multi", namespace: "prod" },
        specs: [
          { endpointSelector: db, ingress: [{ fromEndpoints: [x] }] },
          { endpointSelector: { matchLabels: { app: "web" } }, ingress: [{ fromEndpoints: [db] }] },
        ],
      },
    ]);
    const a = w.at("prod/db", "ingress", w.id("prod/client"), TCP, 1);
    const b = w.at("prod/web", "ingress", w.id("prod/db"), TCP, 1);
    assert.equal(a.verdict, "FORWARDED");
    assert.equal(b.verdict, "FORWARDED");
    assert.equal(w.at("prod/web", "ingress", w.id("prod/client"), TCP, 1).verdict, "DROPPED");
    assert.equal(w.result.ruleRefs.get(a.ruleRef)?.path, "specs[0].ingress[0]");
    assert.equal(w.result.ruleRefs.get(b.ruleRef)?.path, "specs[1].ingress[0]");
  });

  test("DNS rules on egress mark the entry for the DNS proxy and enforce egress", () => {
    const w = buildWorld([
      cnp("prod", "dns", {
        endpointSelector: x,
        egress: [
          {
            toEndpoints: [{ matchLabels: { "k8s:io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns" } }],
            toPorts: [{ ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchPattern: "*" }] } }],
          },
        ],
      }),
    ]);
    const r = w.at("prod/client", "egress", w.id("kube-system/dns"), UDP, 53);
    assert.equal(r.verdict, "FORWARDED");
    assert.equal(r.redirect?.parser, "dns");
    assert.deepEqual(r.redirect?.rules[0]?.l7, { parser: "dns", dns: [{ matchPattern: "*." }] });
    assert.equal(w.at("prod/client", "egress", w.id("kube-system/dns"), UDP, 54).verdict, "DROPPED");
    assert.equal(w.at("prod/client", "egress", WORLD, UDP, 53).verdict, "DROPPED");
  });

  test("L7 rules in a direction without default deny get allow-all (visibility only, ≥1.18)", () => {
    const w = buildWorld([
      cnp("prod", "vis", {
        endpointSelector: db,
        enableDefaultDeny: { ingress: false },
        ingress: [{ fromEndpoints: [x], toPorts: [{ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{ method: "GET" }] } }] }],
      }),
    ]);
    const r = w.at("prod/db", "ingress", w.id("prod/client"), TCP, 80);
    assert.equal(r.redirect?.allowAll, true);
    assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), TCP, 81).verdict, "FORWARDED");
  });

  test("an HTTP rule on a wildcard peer redirects every peer on that port", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ toPorts: [{ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{ path: "/x" }] } }] }] })]);
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 80).redirect?.parser, "http");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 81).verdict, "DROPPED");
  });
});
