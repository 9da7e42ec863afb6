// Provider selection for `conform run --cluster …`, and what each provider claims its clusters
// can do (no cluster is created here).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Node } from "@kubernetes/client-node";
import { orderNodes } from "../cluster/existing/cluster-facts.js";
import { ExistingProvider, loadExistingKubeConfig, resolveKubeconfigPath } from "../cluster/existing/provider.js";
import { KindProvider } from "../cluster/kind/provider.js";
import { defaultLocalConfig } from "../cluster/local/config.js";
import { LocalProvider, localCapabilities } from "../cluster/local/provider.js";
import { ClusterProviderError } from "../cluster/provider.js";
import { checkProviderFlags, createProvider } from "./providers.js";

describe("provider selection", () => {
  test("--cluster picks the provider", () => {
    assert.ok(createProvider("local") instanceof LocalProvider);
    assert.ok(createProvider("kind") instanceof KindProvider);
    assert.ok(createProvider("existing") instanceof ExistingProvider);
    assert.equal(createProvider("kind").name, "kind");
  });

  test("an unknown provider is refused with the choices", () => {
    assert.throws(() => createProvider("minikube"), (err: unknown) => err instanceof ClusterProviderError && /--cluster "minikube": unknown provider \(choose local, kind, existing\)/.test(err.message));
  });

  test("flags that belong to another provider are refused before anything is created", () => {
    assert.match(checkProviderFlags("local", { kubeconfig: "k" }) ?? "", /--kubeconfig is for --cluster existing/);
    assert.match(checkProviderFlags("existing", { config: "c.yaml" }) ?? "", /--config is a cluster file for the local or kind provider/);
    assert.equal(checkProviderFlags("existing", { kubeconfig: "k" }), undefined);
    assert.equal(checkProviderFlags("kind", { config: "clusters/kind/default.yaml" }), undefined);
  });
});

describe("local provider capabilities", () => {
  test("the default local cluster runs the bundled agent", () => {
    assert.equal(defaultLocalConfig().spec.cni, "conform");
    assert.equal(localCapabilities(defaultLocalConfig()).policyEnforcement, true);
  });

  test("the reference ptp CNI: native routing, no policy, no services; world per config", () => {
    const config = defaultLocalConfig();
    assert.deepEqual(localCapabilities({ ...config, spec: { ...config.spec, cni: "ptp" } }), {
      nodes: 2,
      routingMode: "native",
      encryption: "none",
      kubeProxyReplacement: false,
      policyEnforcement: false,
      serviceLoadBalancing: false,
      world: true,
    });
  });

  test("the bundled agent's CNI enforces policy and load-balances services", () => {
    const config = defaultLocalConfig();
    const caps = localCapabilities({ ...config, spec: { ...config.spec, cni: "conform", routing: "tunnel", nodes: 3, world: false } });
    assert.equal(caps.policyEnforcement, true);
    assert.equal(caps.serviceLoadBalancing, true);
    assert.equal(caps.routingMode, "tunnel");
    assert.equal(caps.nodes, 3);
    assert.equal(caps.world, false);
  });
});

describe("existing provider", () => {
  test("kubeconfig: --kubeconfig, else the first $KUBECONFIG entry, else ~/.kube/config", () => {
    assert.equal(resolveKubeconfigPath("/x/kc", { KUBECONFIG: "/y" }), "/x/kc");
    assert.equal(resolveKubeconfigPath(undefined, { KUBECONFIG: ":/a/one:/a/two" }), "/a/one");
    assert.match(resolveKubeconfigPath(undefined, {}), /\.kube\/config$/);
  });

  test("a missing file or an unknown context is a clear error", () => {
    const dir = mkdtempSync(join(tmpdir(), "cft-rn-kc-"));
    try {
      assert.throws(() => loadExistingKubeConfig(join(dir, "none"), undefined), /kubeconfig .*none does not exist \(pass --kubeconfig <file> or set KUBECONFIG\)/);
      const file = join(dir, "kubeconfig");
      writeFileSync(
        file,
        [
          "apiVersion: v1",
          "kind: Config",
          "clusters: [{name: c1, cluster: {server: 'https://127.0.0.1:1'}}]",
          "users: [{name: u1, user: {token: t}}]",
          "contexts: [{name: ctx1, context: {cluster: c1, user: u1}}]",
          "current-context: ctx1",
        ].join("\n"),
      );
      assert.equal(loadExistingKubeConfig(file, undefined).getCurrentContext(), "ctx1");
      assert.throws(() => loadExistingKubeConfig(file, "prod"), /has no context "prod" \(contexts: ctx1\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("release never deletes the cluster", async () => {
    // The handle is never read: release has nothing to do for a cluster it does not own.
    await new ExistingProvider().release({} as never);
  });
});

describe("node order", () => {
  const node = (name: string, labels: Record<string, string> = {}, extra: Partial<V1Node["spec"]> = {}): V1Node => ({
    metadata: { name, labels },
    spec: extra,
    status: { addresses: [{ type: "InternalIP", address: `ip-${name}` }] },
  });

  test("conform.dev/node-index labels give the order", () => {
    const nodes = [node("w-b", { "conform.dev/node-index": "2" }), node("cp"), node("w-a", { "conform.dev/node-index": "1" })];
    assert.deepEqual(orderNodes(nodes), [
      { index: 1, name: "w-a", address: "ip-w-a" },
      { index: 2, name: "w-b", address: "ip-w-b" },
    ]);
  });

  test("without labels: schedulable nodes in natural name order (kind's worker, worker2, …, worker10)", () => {
    const nodes = [node("kind-worker10"), node("kind-control-plane", {}, { taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] }), node("kind-worker2"), node("kind-worker")];
    assert.deepEqual(orderNodes(nodes).map((n) => n.name), ["kind-worker", "kind-worker2", "kind-worker10"]);
  });
});
