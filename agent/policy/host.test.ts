/**
 * Host policies (CCNP `nodeSelector`, Cilium's host firewall): the node's host endpoint gets
 * the same semantics as a pod endpoint. Every case checks what must pass and what must drop.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RESERVED_IDENTITY } from "../identity/reserved.js";
import { simulateLookup } from "./simulate.js";
import { ENDPOINT_MODE, HOST_ENDPOINT_ID } from "./types.js";
import type { HostEndpointInput } from "./types.js";
import { ICMP, TCP, UDP, buildWorld, ccnp, cnp, expectRejected } from "./test-support.js";
import type { World, WorldOptions } from "./test-support.js";

const H = HOST_ENDPOINT_ID;
const node2: HostEndpointInput = { epId: H, nodeName: "node2", nodeLabels: { "conform.dev/node-index": "2", "kubernetes.io/hostname": "node2" } };
const onNode2 = { matchLabels: { "conform.dev/node-index": "2" } };
const onNode1 = { matchLabels: { "conform.dev/node-index": "1" } };
const port = (p: string, protocol = "TCP") => ({ ports: [{ port: p, protocol }] });

function world(objects: unknown[], options: WorldOptions = {}): World & { host(direction: "ingress" | "egress", peer: number, proto: number, dport: number): ReturnType<typeof simulateLookup> } {
  const w = buildWorld(objects, { host: node2, ...options });
  return { ...w, host: (direction, peer, proto, dport) => simulateLookup(w.result.state, H, direction, peer, proto, dport) };
}

function names(w: World, ruleRef: number): string | undefined {
  return w.result.ruleRefs.get(ruleRef)?.name;
}

describe("nodeSelector selects the host endpoint", () => {
  test("matching node: default deny on ingress, only the allowed pods on the allowed port pass", () => {
    const w = world([ccnp("host-web", { nodeSelector: onNode2, ingress: [{ fromEndpoints: [{ matchLabels: { app: "x" } }], toPorts: [port("9191")] }] })]);
    const ok = w.host("ingress", w.id("prod/client"), TCP, 9191);
    assert.equal(ok.verdict, "FORWARDED");
    assert.equal(names(w, ok.ruleRef), "host-web");
    const otherPod = w.host("ingress", w.id("prod/web"), TCP, 9191);
    assert.equal(otherPod.verdict, "DROPPED");
    assert.equal(otherPod.dropReason, 133);
    assert.equal(w.host("ingress", w.id("prod/client"), TCP, 9192).verdict, "DROPPED");
    assert.equal(w.host("ingress", RESERVED_IDENTITY.remoteNode, TCP, 9191).verdict, "DROPPED");
    const st = w.result.state.get(H);
    assert.ok(st);
    assert.equal(st.ingressMode, ENDPOINT_MODE.enforced);
    assert.equal(st.egressMode, ENDPOINT_MODE.notEnforced);
    assert.deepEqual(st.defaultDenyBy.ingress.map((r) => r.name), ["host-web"]);
    // Egress of the host is not selected: everything passes.
    assert.equal(w.host("egress", RESERVED_IDENTITY.world, TCP, 443).verdict, "FORWARDED");
    // Pods stay untouched by a host policy.
    assert.equal(w.at("prod/web", "ingress", RESERVED_IDENTITY.world, TCP, 80).verdict, "FORWARDED");
  });

  test("a non-matching node is not enforced and gets no entries", () => {
    const w = world([ccnp("host-web", { nodeSelector: onNode1, ingress: [{ fromEndpoints: [{ matchLabels: { app: "x" } }], toPorts: [port("9191")] }] })]);
    const st = w.result.state.get(H);
    assert.ok(st);
    assert.equal(st.ingressMode, ENDPOINT_MODE.notEnforced);
    assert.equal(st.entries.size, 0);
    assert.equal(w.host("ingress", w.id("prod/web"), TCP, 9191).verdict, "FORWARDED");
  });

  test("matchExpressions on node labels, with and without the k8s: source", () => {
    const w = world([
      ccnp("by-expr", { nodeSelector: { matchExpressions: [{ key: "conform.dev/node-index", operator: "In", values: ["2", "3"] }] }, ingress: [{ fromEntities: ["world"] }] }),
      ccnp("by-source", { nodeSelector: { matchLabels: { "k8s:kubernetes.io/hostname": "node2" } }, ingressDeny: [{ fromEntities: ["world"], toPorts: [port("22")] }] }),
    ]);
    assert.equal(w.host("ingress", RESERVED_IDENTITY.world, TCP, 80).verdict, "FORWARDED");
    const denied = w.host("ingress", RESERVED_IDENTITY.world, TCP, 22);
    assert.equal(denied.verdict, "DROPPED");
    assert.equal(denied.dropReason, 181);
    assert.equal(names(w, denied.ruleRef), "by-source");
    assert.equal(w.host("ingress", w.id("prod/web"), TCP, 80).verdict, "DROPPED");
  });

  test("reserved:host in the nodeSelector selects every node; an endpointSelector {} never selects the host", () => {
    const w = world([
      ccnp("all-pods", { endpointSelector: {}, ingress: [{}] }),
      ccnp("all-nodes", { nodeSelector: { matchLabels: { "reserved:host": "" } }, ingress: [{ fromEntities: ["cluster"] }] }),
    ]);
    // all-pods puts every pod into default deny, and not the host.
    assert.equal(w.at("prod/web", "ingress", RESERVED_IDENTITY.world, TCP, 80).verdict, "DROPPED");
    assert.deepEqual(w.result.state.get(H)?.selectedBy.ingress.map((r) => r.name), ["all-nodes"]);
    assert.equal(w.host("ingress", RESERVED_IDENTITY.remoteNode, TCP, 10250).verdict, "FORWARDED");
    assert.equal(w.host("ingress", w.id("dev/client"), TCP, 10250).verdict, "FORWARDED");
    assert.equal(w.host("ingress", RESERVED_IDENTITY.world, TCP, 10250).verdict, "DROPPED");
  });

  test("nodeSelector {} selects the host and no pod", () => {
    const w = world([ccnp("nodes", { nodeSelector: {}, ingress: [{ fromEntities: ["remote-node"] }] })]);
    assert.equal(w.host("ingress", RESERVED_IDENTITY.remoteNode, UDP, 8472).verdict, "FORWARDED");
    assert.equal(w.host("ingress", RESERVED_IDENTITY.world, UDP, 8472).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", RESERVED_IDENTITY.world, TCP, 5432).verdict, "FORWARDED");
  });

  test("without a host endpoint, host policies compile to nothing", () => {
    const w = buildWorld([ccnp("nodes", { nodeSelector: {}, ingress: [{}] })]);
    assert.equal(w.result.state.has(H), false);
    assert.equal(w.warnings.length, 0);
    assert.equal(w.at("prod/db", "ingress", RESERVED_IDENTITY.world, TCP, 5432).verdict, "FORWARDED");
  });
});

describe("host policy semantics = endpoint semantics", () => {
  test("enableDefaultDeny.ingress false + ingressDeny: only the denied peers drop", () => {
    const w = world([
      ccnp("deny-unlabelled", {
        nodeSelector: onNode2,
        enableDefaultDeny: { ingress: false },
        ingressDeny: [{ fromEndpoints: [{ matchExpressions: [{ key: "app", operator: "NotIn", values: ["x"] }] }], toPorts: [port("9191")] }],
      }),
    ]);
    const denied = w.host("ingress", w.id("prod/web"), TCP, 9191);
    assert.equal(denied.verdict, "DROPPED");
    assert.equal(denied.dropReason, 181);
    assert.equal(names(w, denied.ruleRef), "deny-unlabelled");
    assert.equal(w.host("ingress", w.id("prod/client"), TCP, 9191).verdict, "FORWARDED");
    assert.equal(w.host("ingress", w.id("prod/web"), TCP, 9192).verdict, "FORWARDED");
    assert.equal(w.host("ingress", RESERVED_IDENTITY.remoteNode, TCP, 9191).verdict, "FORWARDED");
    assert.equal(w.result.state.get(H)?.defaultDenyCause.ingress, "none");
  });

  test("deny beats an allow of another policy", () => {
    const w = world([
      ccnp("allow-all", { nodeSelector: onNode2, ingress: [{ fromEntities: ["all"] }] }),
      ccnp("deny-ssh", { nodeSelector: onNode2, ingressDeny: [{ fromEntities: ["world"], toPorts: [port("22")] }] }),
    ]);
    const r = w.host("ingress", RESERVED_IDENTITY.world, TCP, 22);
    assert.equal(r.verdict, "DROPPED");
    assert.equal(names(w, r.ruleRef), "deny-ssh");
    assert.equal(w.host("ingress", RESERVED_IDENTITY.world, TCP, 80).verdict, "FORWARDED");
  });

  test("CIDR peers: a CIDR identity inside the prefix passes, world outside does not", () => {
    const w = world([ccnp("cidr", { nodeSelector: onNode2, ingress: [{ fromCIDR: ["203.0.113.0/24"] }] })]);
    assert.equal(w.host("ingress", w.identityOfIp("203.0.113.10"), TCP, 22).verdict, "FORWARDED");
    assert.equal(w.host("ingress", w.identityOfIp("192.0.2.1"), TCP, 22).verdict, "DROPPED");
    // Node addresses resolve to remote-node, never to a CIDR identity.
    assert.equal(w.host("ingress", w.identityOfIp("198.18.0.12"), TCP, 22).verdict, "DROPPED");
  });

  test("egress: toEntities kube-apiserver on 6443 only; ICMP by type", () => {
    const w = world([ccnp("egress", { nodeSelector: onNode2, egress: [{ toEntities: ["kube-apiserver"], toPorts: [port("6443")] }, { toEntities: ["world"], icmps: [{ fields: [{ type: 8 }] }] }] })]);
    assert.equal(w.host("egress", RESERVED_IDENTITY.kubeApiserver, TCP, 6443).verdict, "FORWARDED");
    assert.equal(w.host("egress", RESERVED_IDENTITY.kubeApiserver, TCP, 2379).verdict, "DROPPED");
    assert.equal(w.host("egress", RESERVED_IDENTITY.world, ICMP, 8).verdict, "FORWARDED");
    assert.equal(w.host("egress", RESERVED_IDENTITY.world, TCP, 443).verdict, "DROPPED");
    assert.equal(w.result.state.get(H)?.ingressMode, ENDPOINT_MODE.notEnforced);
  });

  test("no synthesized allow-from-host on the host endpoint (allow-localhost is for pods)", () => {
    const w = world([ccnp("h", { nodeSelector: onNode2, ingress: [{ fromEntities: ["remote-node"] }] })]);
    assert.equal(w.host("ingress", RESERVED_IDENTITY.host, TCP, 80).verdict, "DROPPED");
  });

  test("audit annotation: the host direction is in audit mode", () => {
    const w = world([ccnp("h", { nodeSelector: onNode2, ingress: [{ fromEntities: ["remote-node"] }] }, { metadata: { annotations: { "policy.conform.dev/audit-mode": "true" } } })]);
    assert.equal(w.result.state.get(H)?.ingressMode, ENDPOINT_MODE.audit);
    assert.equal(w.host("ingress", RESERVED_IDENTITY.world, TCP, 80).verdict, "AUDIT");
    assert.equal(w.host("ingress", RESERVED_IDENTITY.remoteNode, TCP, 80).verdict, "FORWARDED");
  });

  test("enforcement `always` forces pods, not the host; `never` enforces nothing", () => {
    const always = world([], { config: { enforcementMode: "always" } });
    assert.equal(always.at("prod/db", "ingress", RESERVED_IDENTITY.world, TCP, 80).verdict, "DROPPED");
    assert.equal(always.host("ingress", RESERVED_IDENTITY.world, TCP, 80).verdict, "FORWARDED");
    const never = world([ccnp("h", { nodeSelector: onNode2, ingress: [{}] })], { config: { enforcementMode: "never" } });
    assert.equal(never.host("ingress", RESERVED_IDENTITY.world, TCP, 80).verdict, "FORWARDED");
  });
});

describe("host policy validation", () => {
  test("nodeSelector in a namespaced CiliumNetworkPolicy is an error", () => {
    const errors = expectRejected(cnp("prod", "h", { nodeSelector: onNode2, ingress: [{}] }));
    assert.ok(errors.some((e) => /^spec\.nodeSelector: .*only allowed in a CiliumClusterwideNetworkPolicy/.test(e)), errors.join("\n"));
  });

  test("HTTP rules in a host policy are an error", () => {
    const errors = expectRejected(ccnp("h", { nodeSelector: onNode2, ingress: [{ toPorts: [{ ports: [{ port: "80", protocol: "TCP" }], rules: { http: [{ method: "GET" }] } }] }] }));
    assert.ok(errors.some((e) => /rules\.http/.test(e)), errors.join("\n"));
  });

  test("a host endpoint id that is also a pod's is refused", () => {
    assert.throws(() => buildWorld([], { host: { epId: 1, nodeLabels: {} } }), /host endpoint id 1/);
  });
});
