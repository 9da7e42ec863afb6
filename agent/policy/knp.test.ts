/**
 * Kubernetes NetworkPolicy features, each with a must-allow and a must-deny case.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RESERVED_IDENTITY } from "../identity/reserved.js";
import { ENDPOINT_MODE } from "./types.js";
import { ICMP, SCTP, TCP, UDP, buildWorld, knp } from "./test-support.js";

const WORLD = RESERVED_IDENTITY.world;
const HOST = RESERVED_IDENTITY.host;
const db = { matchLabels: { app: "db" } };

describe("NetworkPolicy peers", () => {
  test("podSelector selects pods of the policy namespace", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ from: [{ podSelector: { matchLabels: { app: "x" } } }] }] })]);
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), TCP, 5432).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 5432).verdict, "DROPPED");
  });

  test("namespaceSelector selects every pod of matching namespaces, never host or world", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "b" } } }] }] })], {
      config: { allowLocalhost: "policy" },
    });
    assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), TCP, 5432).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 5432).verdict, "DROPPED");
    const all = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ from: [{ namespaceSelector: {} }] }] })], { config: { allowLocalhost: "policy" } });
    assert.equal(all.at("prod/db", "ingress", all.id("kube-system/dns"), TCP, 1).verdict, "FORWARDED");
    assert.equal(all.at("prod/db", "ingress", HOST, TCP, 1).verdict, "DROPPED");
    assert.equal(all.at("prod/db", "ingress", WORLD, TCP, 1).verdict, "DROPPED");
  });

  test("namespaceSelector AND podSelector in one peer; OR across peers", () => {
    const and = buildWorld([
      knp("prod", "p", { podSelector: db, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "b" } }, podSelector: { matchLabels: { app: "api" } } }] }] }),
    ]);
    assert.equal(and.at("prod/db", "ingress", and.id("dev/api"), TCP, 1).verdict, "FORWARDED");
    assert.equal(and.at("prod/db", "ingress", and.id("dev/client"), TCP, 1).verdict, "DROPPED");
    const or = buildWorld([
      knp("prod", "p", { podSelector: db, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "b" } } }, { podSelector: { matchLabels: { app: "web" } } }] }] }),
    ]);
    assert.equal(or.at("prod/db", "ingress", or.id("dev/client"), TCP, 1).verdict, "FORWARDED");
    assert.equal(or.at("prod/db", "ingress", or.id("prod/web"), TCP, 1).verdict, "FORWARDED");
    assert.equal(or.at("prod/db", "ingress", or.id("prod/client"), TCP, 1).verdict, "DROPPED");
  });

  test("keys are forced to the k8s source", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ from: [{ podSelector: { matchLabels: { app: "x" } } }] }] })], {
      extraIdentities: [{ id: 7777, labels: { "unspec:app": "x", "k8s:io.kubernetes.pod.namespace": "prod", "k8s:io.cilium.k8s.policy.cluster": "default" } }],
    });
    assert.equal(w.at("prod/db", "ingress", 7777, TCP, 1).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 1).verdict, "FORWARDED");
  });

  test("ipBlock with except", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "203.0.113.0/24", except: ["203.0.113.128/25"] } }] }] })]);
    assert.equal(w.at("prod/db", "egress", w.identityOfIp("203.0.113.1"), TCP, 80).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "egress", w.identityOfIp("203.0.113.200"), TCP, 80).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "egress", w.identityOfIp("198.51.100.1"), TCP, 80).verdict, "DROPPED");
    // An ipBlock covering pod IPs does not select pods (cilium/cilium#9209).
    const pods = buildWorld([knp("prod", "p", { podSelector: db, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "10.244.0.0/16" } }] }] })]);
    assert.equal(pods.at("prod/db", "egress", pods.id("prod/web"), TCP, 80).verdict, "DROPPED");
  });
});

describe("NetworkPolicy ports", () => {
  test("protocol and port", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ ports: [{ protocol: "UDP", port: 53 }, { protocol: "SCTP", port: 9 }] }] })]);
    assert.equal(w.at("prod/db", "ingress", WORLD, UDP, 53).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 53).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", WORLD, SCTP, 9).verdict, "FORWARDED");
  });

  test("omitted port means every port of the protocol", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ ports: [{ protocol: "UDP" }] }] })]);
    assert.equal(w.at("prod/db", "ingress", WORLD, UDP, 12345).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 12345).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", WORLD, ICMP, 8).verdict, "DROPPED");
  });

  test("endPort", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ ports: [{ port: 32000, endPort: 32002 }] }] })]);
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 32001).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 32003).verdict, "DROPPED");
  });

  test("named ports", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ ports: [{ port: "postgres" }] }] })]);
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 5432).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 5433).verdict, "DROPPED");
    const e = buildWorld([knp("prod", "p", { podSelector: { matchLabels: { app: "x" } }, policyTypes: ["Egress"], egress: [{ ports: [{ port: "http" }] }] })]);
    assert.equal(e.at("prod/client", "egress", e.id("prod/web"), TCP, 8080).verdict, "FORWARDED");
    assert.equal(e.at("prod/client", "egress", e.id("prod/db"), TCP, 8080).verdict, "FORWARDED");
    assert.equal(e.at("prod/client", "egress", e.id("prod/web"), TCP, 5432).verdict, "DROPPED");
  });

  test("from AND ports", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db, ingress: [{ from: [{ podSelector: { matchLabels: { app: "x" } } }], ports: [{ port: 5432 }] }] })]);
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 5432).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 5433).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 5432).verdict, "DROPPED");
  });
});

describe("NetworkPolicy policyTypes and default deny", () => {
  test("omitted policyTypes: Ingress, plus Egress when egress rules exist", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db })]);
    const ep = w.result.state.get(w.ep("prod/db"));
    assert.equal(ep?.ingressMode, ENDPOINT_MODE.enforced);
    assert.equal(ep?.egressMode, ENDPOINT_MODE.notEnforced);
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 5432).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "egress", WORLD, TCP, 443).verdict, "FORWARDED");

    const both = buildWorld([knp("prod", "p", { podSelector: db, egress: [{ to: [{ podSelector: {} }] }] })]);
    assert.equal(both.at("prod/db", "egress", both.id("prod/web"), TCP, 80).verdict, "FORWARDED");
    assert.equal(both.at("prod/db", "egress", WORLD, TCP, 80).verdict, "DROPPED");
    assert.equal(both.at("prod/db", "ingress", WORLD, TCP, 80).verdict, "DROPPED");
  });

  test("isolation is per direction", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: { matchLabels: { app: "web" } }, policyTypes: ["Egress"], egress: [] })]);
    assert.equal(w.at("prod/web", "egress", WORLD, TCP, 443).verdict, "DROPPED");
    assert.equal(w.at("prod/web", "ingress", WORLD, TCP, 80).verdict, "FORWARDED");
  });

  test("rules of a direction missing from policyTypes are ignored, with a warning", () => {
    const w = buildWorld([knp("prod", "p", { podSelector: db, policyTypes: ["Egress"], ingress: [{ from: [{ podSelector: {} }] }], egress: [{}] })]);
    assert.ok(w.warnings.some((p) => p.path === "spec.ingress"));
    assert.equal(w.result.state.get(w.ep("prod/db"))?.ingressMode, ENDPOINT_MODE.notEnforced);
    assert.equal(w.at("prod/db", "egress", WORLD, TCP, 443).verdict, "FORWARDED");
  });

  test("KNP and CNP allows form a union", () => {
    const w = buildWorld([
      knp("prod", "k", { podSelector: db, ingress: [{ from: [{ podSelector: { matchLabels: { app: "x" } } }] }] }),
      {
        apiVersion: "cilium.io/v2",
        kind: "CiliumNetworkPolicy",
        metadata: { name: "c", namespace: "prod" },
        spec: { endpointSelector: db, ingress: [{ fromEndpoints: [{ matchLabels: { app: "web" } }] }] },
      },
    ]);
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 1).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 1).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("dev/client"), TCP, 1).verdict, "DROPPED");
  });
});
