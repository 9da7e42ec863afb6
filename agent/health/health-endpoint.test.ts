import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { StaticIdentityResolver } from "../endpoint/static-resolver.js";
import { HEALTH_IDENTITY, healthPodRef, withReservedEndpoints } from "./health-endpoint.js";

describe("health endpoint resolver", () => {
  const pod = { id: 300, labels: { "k8s:app": "web" } };

  test("the health ref resolves to identity 4 and is always present; pods go to the inner resolver", async () => {
    const inner = new StaticIdentityResolver(() => pod, () => "gone");
    const r = withReservedEndpoints(inner, [{ pod: healthPodRef("node1"), identity: HEALTH_IDENTITY }]);
    assert.deepEqual(await r.resolve({ namespace: "kube-system", name: "cilium-health-node1" }), { id: 4, labels: { "reserved:health": "" } });
    assert.equal(await r.podPresence({ namespace: "kube-system", name: "cilium-health-node1" }), "present");
    // Another node's health ref is not ours: restore on this node must not keep it.
    assert.equal(await r.podPresence({ namespace: "kube-system", name: "cilium-health-node2" }), "gone");
    assert.deepEqual(await r.resolve({ namespace: "shop", name: "web" }), pod);
    assert.deepEqual([...inner.references], [[300, 1]], "only the pod took an allocator reference");
  });

  test("releasing the reserved identity never reaches the allocator", async () => {
    const inner = new StaticIdentityResolver(() => pod);
    const r = withReservedEndpoints(inner, [{ pod: healthPodRef("node1"), identity: HEALTH_IDENTITY }]);
    await r.resolve({ namespace: "shop", name: "web" });
    r.release(4);
    assert.deepEqual([...inner.references], [[300, 1]]);
    r.release(300);
    assert.deepEqual([...inner.references], []);
  });

  test("no reserved endpoints: the inner resolver itself", () => {
    const inner = new StaticIdentityResolver();
    assert.equal(withReservedEndpoints(inner, []), inner);
  });
});
