import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { FlowCheck } from "../spec/cells.js";
import { judgeFlowCheck } from "./flow-checks.js";
import type { AddressBook } from "./probes.js";
import { flow } from "./testdata/fixtures.js";

const book: AddressBook = {
  podIP: (ns, name) => new Map([["shop/frontend", "10.244.0.5"], ["shop/backend", "10.244.1.7"]]).get(`${ns}/${name}`),
  serviceIP: () => undefined,
  nodeAddressOfPod: () => "198.18.0.11",
  nodeAddress: (i) => ["198.18.0.11", "198.18.0.12"][i - 1],
};

function check(over: Partial<FlowCheck>): FlowCheck {
  return { id: "s/step: flow f", scenario: "s", step: "step", stepIndex: 0, name: "f", count: { min: 1 }, specPath: [], ...over };
}

describe("flow expectations", () => {
  const policy = { name: "backend-ingress", namespace: "shop", kind: "CiliumNetworkPolicy" };
  const denied = flow({ verdict: "DROPPED", reason: "POLICY_DENIED", deniedBy: [policy], extra: { source: { namespace: "shop", pod_name: "frontend" }, destination: { namespace: "shop", pod_name: "backend" } } });
  const toWorld = flow({ verdict: "FORWARDED", isReply: false, dst: "203.0.113.10", dport: 80, extra: { destination_names: ["world.conform.test."] } });

  test("a DROPPED flow from a pod to a pod port, naming the policy", () => {
    const c = check({ from: { namespace: "shop", name: "frontend" }, to: { kind: "pod", namespace: "shop", name: "backend", port: 8080 }, verdict: "DROPPED", reason: "POLICY_DENIED", by: "shop/backend-ingress" });
    const r = judgeFlowCheck(c, [denied, toWorld], book);
    assert.equal(r.status, "pass");
    assert.equal(r.observed, "1 matching flow");
    assert.deepEqual(r.flows, [denied]);
    const wrongPolicy = judgeFlowCheck({ ...c, by: "shop/other" }, [denied], book);
    assert.equal(wrongPolicy.status, "fail");
    assert.match(wrongPolicy.message ?? "", /0 matching flows where at least 1 flow were expected/);
  });

  test("under --audit, a check for a DROPPED flow is met by the AUDIT flow; a check forbidding drops stays literal", () => {
    const audited = flow({ verdict: "AUDIT", reason: "POLICY_DENIED", deniedBy: [policy], extra: { source: { namespace: "shop", pod_name: "frontend" }, destination: { namespace: "shop", pod_name: "backend" } } });
    const c = check({ from: { namespace: "shop", name: "frontend" }, to: { kind: "pod", namespace: "shop", name: "backend", port: 8080 }, verdict: "DROPPED", by: "shop/backend-ingress" });
    assert.equal(judgeFlowCheck(c, [audited], book).status, "fail");
    assert.equal(judgeFlowCheck(c, [audited], book, undefined, true).status, "pass");
    assert.equal(judgeFlowCheck({ ...c, count: { min: 0, max: 0 } }, [audited], book, undefined, true).status, "pass");
    assert.equal(judgeFlowCheck({ ...c, count: { min: 0, max: 0 } }, [denied], book, undefined, true).status, "fail");
  });

  test("pods match by endpoint name or by IP", () => {
    const byIp = flow({ verdict: "FORWARDED", src: "10.244.0.5", dst: "10.244.1.7" });
    const r = judgeFlowCheck(check({ from: { namespace: "shop", name: "frontend" }, to: { kind: "pod", namespace: "shop", name: "backend" } }), [byIp], book);
    assert.equal(r.status, "pass");
  });

  test("{max: 0} asserts absence; world names match destination_names", () => {
    const none = check({ to: { kind: "world", host: "world.conform.test", port: 80 }, count: { min: 0, max: 0 } });
    assert.equal(judgeFlowCheck(none, [denied], book).status, "pass");
    const r = judgeFlowCheck(none, [denied, toWorld], book);
    assert.equal(r.status, "fail");
    assert.equal(r.expected, "no flow: any verdict to world:80");
    assert.match(r.message ?? "", /1 matching flow where no flow was expected/);
  });

  test("L7 HTTP and DNS fields", () => {
    const http = flow({ verdict: "DROPPED", extra: { l7: { type: "REQUEST", http: { method: "POST", url: "http://backend:8080/admin?x=1" } } } });
    assert.equal(judgeFlowCheck(check({ http: { method: "POST", path: "/admin" } }), [http], book).status, "pass");
    assert.equal(judgeFlowCheck(check({ http: { method: "GET" } }), [http], book).status, "fail");
    const dns = flow({ verdict: "FORWARDED", proto: "UDP", dport: 53, extra: { l7: { type: "RESPONSE", dns: { query: "api.conform.test.", rcode: 3 } } } });
    assert.equal(judgeFlowCheck(check({ dns: { query: "api.conform.test", rcode: "NXDOMAIN" } }), [dns], book).status, "pass");
    assert.equal(judgeFlowCheck(check({ dns: { rcode: "NOERROR" } }), [dns], book).status, "fail");
  });

  test("direction and encryption", () => {
    const enc = flow({ verdict: "FORWARDED", extra: { traffic_direction: "EGRESS", IP: { source: "10.244.0.5", destination: "10.244.1.7", encrypted: true } } });
    assert.equal(judgeFlowCheck(check({ direction: "EGRESS", encrypted: true }), [enc], book).status, "pass");
    assert.equal(judgeFlowCheck(check({ direction: "INGRESS" }), [enc], book).status, "fail");
    assert.equal(judgeFlowCheck(check({ encrypted: false }), [enc], book).status, "fail");
  });

  test("without a flow source a flow check fails as unverifiable, never passes", () => {
    const r = judgeFlowCheck(check({ count: { min: 0, max: 0 } }), undefined, book);
    assert.equal(r.status, "fail");
    assert.match(r.message ?? "", /^unverifiable: this cluster has no flow source/);
  });
});
