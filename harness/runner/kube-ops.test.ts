import { test } from "node:test";
import assert from "node:assert/strict";
import { AppliedObjects, policyKey } from "./kube-ops.js";

test("policy keys match the agent's (Kind/ns/name, Kind/name when clusterwide); the scope tracks applies and deletes", () => {
  const cnp = { apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: "a", namespace: "shop" } };
  const ccnp = { apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy", metadata: { name: "guard" } };
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "shop" } };
  assert.equal(policyKey(cnp), "CiliumNetworkPolicy/shop/a");
  assert.equal(policyKey(ccnp), "CiliumClusterwideNetworkPolicy/guard");
  const applied = new AppliedObjects();
  applied.add(cnp, "41");
  applied.add(ccnp, "42");
  applied.add(pod, "43");
  applied.add(cnp, "44");
  applied.remove(ccnp);
  const scope = applied.convergenceScope();
  assert.deepEqual([...scope.present], [["CiliumNetworkPolicy/shop/a", "44"]]);
  assert.deepEqual(scope.absent, ["CiliumClusterwideNetworkPolicy/guard"]);
});
