import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { KubeConfig } from "@kubernetes/client-node";
import type { V1EndpointSlice } from "@kubernetes/client-node";
import { apiServerAddresses, endpointSliceAddresses, kubeconfigServerIp } from "./api-server-addresses.js";

function kubeconfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: "c", server }], users: [{ name: "u" }], contexts: [{ name: "x", cluster: "c", user: "u" }], currentContext: "x" });
  return kc;
}

const slice = (addressType: string, endpoints: V1EndpointSlice["endpoints"]): V1EndpointSlice => ({ addressType, endpoints });

describe("kube-apiserver addresses", () => {
  test("the kubeconfig server counts only as a routable IPv4 address", () => {
    assert.equal(kubeconfigServerIp(kubeconfig("https://198.18.0.1:6443")), "198.18.0.1");
    assert.equal(kubeconfigServerIp(kubeconfig("https://127.0.0.1:6443")), undefined);
    assert.equal(kubeconfigServerIp(kubeconfig("https://kind-control-plane:6443")), undefined);
  });

  test("EndpointSlices give the ready IPv4 endpoints, unique and sorted", () => {
    const slices = [
      slice("IPv4", [{ addresses: ["198.18.0.2"] }, { addresses: ["198.18.0.1"], conditions: { ready: true } }, { addresses: ["198.18.0.9"], conditions: { ready: false } }]),
      slice("IPv4", [{ addresses: ["198.18.0.1"] }]),
      slice("IPv6", [{ addresses: ["fd00::1"] }]),
    ];
    assert.deepEqual(endpointSliceAddresses(slices), ["198.18.0.1", "198.18.0.2"]);
  });

  test("configured beats the Service's endpoints, which beat the kubeconfig (e.g. a ClusterIP in-cluster)", () => {
    const slices = [slice("IPv4", [{ addresses: ["198.18.0.1"] }])];
    assert.deepEqual(apiServerAddresses({ configured: ["192.0.2.7"], slices, kubeconfigIp: "10.96.0.1" }), ["192.0.2.7"]);
    assert.deepEqual(apiServerAddresses({ slices, kubeconfigIp: "10.96.0.1" }), ["198.18.0.1"]);
    assert.deepEqual(apiServerAddresses({ slices: [], kubeconfigIp: "10.96.0.1" }), ["10.96.0.1"]);
    assert.deepEqual(apiServerAddresses({ slices: [] }), []);
  });
});
