import { test } from "node:test";
import assert from "node:assert/strict";
import { KubeConfig } from "@kubernetes/client-node";
import { AppliedObjects, addressBook, policyKey } from "./kube-ops.js";

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

test("address book: the API server from its EndpointSlice (else a routable kubeconfig IP), health endpoints by node index", () => {
  const nodes = [
    { index: 1, name: "n1", address: "198.18.0.11" },
    { index: 2, name: "n2", address: "198.18.0.12" },
  ];
  const kc = (server: string) => {
    const k = new KubeConfig();
    k.loadFromOptions({ clusters: [{ name: "c", server }], users: [{ name: "u" }], contexts: [{ name: "x", cluster: "c", user: "u" }], currentContext: "x" });
    return k;
  };
  const live = { pods: new Map(), services: new Map(), apiServer: ["198.18.0.1"], health: new Map([["n2", "10.244.1.3"]]) };
  const book = addressBook(live, { nodes, kubeConfig: kc("https://198.19.0.2:6443") });
  assert.equal(book.apiServerAddress?.(), "198.18.0.1");
  assert.equal(book.healthAddress?.(2), "10.244.1.3");
  assert.equal(book.healthAddress?.(1), undefined);
  assert.equal(book.healthAddress?.(3), undefined);
  const bare = { pods: new Map(), services: new Map() };
  assert.equal(addressBook(bare, { nodes, kubeConfig: kc("https://203.0.113.9:6443") }).apiServerAddress?.(), "203.0.113.9");
  assert.equal(addressBook(bare, { nodes, kubeConfig: kc("https://127.0.0.1:6443") }).apiServerAddress?.(), undefined);
  assert.equal(addressBook(bare, { nodes, kubeConfig: kc("https://kind-control-plane:6443") }).apiServerAddress?.(), undefined);
});
