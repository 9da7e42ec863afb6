// The local cluster for real: a 2-node cluster comes up, kubectl sees both nodes Ready, probe
// pods on each node get IPs from their node's podCIDR and reach each other and the world host,
// the controller-manager fills EndpointSlices, the API server refuses malformed policies, and
// `down` leaves the machine's namespaces and links as they were.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api } from "@kubernetes/client-node";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { applyObjects, apiErrorMessage } from "../../kube/apply.js";
import { loadKubeConfig } from "../../kube/client.js";
import { NetnsProbeExecutor } from "../../probe/netns-executor.js";
import type { ProbeInput, ProbeResult } from "../../probe/schema.js";
import { run } from "../../util/exec.js";
import { waitFor } from "../../util/wait.js";
import { defaultLocalConfig } from "./config.js";
import { downCluster } from "./down.js";
import { existsSync } from "node:fs";
import { linkNames, netnsNames } from "./names.js";
import { agentPinDir } from "./node-agent.js";
import { kubeBin } from "./paths.js";
import { WORLD_HOSTS } from "./topology.js";
import { upCluster } from "./up.js";
import type { UpResult } from "./up.js";
import { WORLD_ZONE } from "./world.js";

const NS = "probes";

/**
 * Namespaces and root links, minus those of other conform clusters and tests that may be running
 * beside this one (they come and go on their own); ours are never filtered out.
 */
async function netnsAndLinks(name: string): Promise<{ netns: string[]; links: string[] }> {
  const others = (n: string) => /^cft?[-_]/.test(n) || /^cf[0-9a-f]{4}h$/.test(n);
  const ours = (n: string) => n.startsWith(netnsNames.prefix(name)) || n.startsWith(linkNames.prefix(name));
  const keep = (n: string) => n !== "" && (ours(n) || !others(n));
  const netns = (await run("ip", ["netns", "list"])).split("\n").map((l) => l.split(" ")[0] ?? "").filter(keep).sort();
  const links = [...(await run("ip", ["-o", "link", "show"])).matchAll(/^\d+: ([^:@]+)[:@]/gm)].map((m) => m[1] ?? "").filter(keep).sort();
  return { netns, links };
}

function probePod(podName: string, node: string, labels: Record<string, string>): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: podName, namespace: NS, labels },
    spec: {
      nodeSelector: { "kubernetes.io/hostname": node },
      containers: [{ name: "probe", image: "conform/probe:v1", args: ["serve", "--http", "8080", "--tcp", "9000", "--udp", "9001"] }],
    },
  };
}

function inCidr(ip: string, cidr: string): boolean {
  const toInt = (a: string) => a.split(".").reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
  const [net, bits] = cidr.split("/");
  const mask = bits === "0" ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return ((toInt(ip) & mask) >>> 0) === ((toInt(net ?? "") & mask) >>> 0);
}

for (const cni of ["ptp", "conform"] as const) {
describe(`local cluster (real control plane, netns nodes, ${cni} CNI)`, { timeout: 240_000 }, () => {
  const name = `it${cni === "ptp" ? "p" : "c"}${process.pid}`;
  let before_: { netns: string[]; links: string[] };
  let up: UpResult;
  let kc: KubeConfig;
  let core: CoreV1Api;
  const pods = new Map<string, V1Pod>();

  before(async () => {
    before_ = await netnsAndLinks(name);
    const base = defaultLocalConfig();
    up = await upCluster({ name, config: { ...base, metadata: { name }, spec: { ...base.spec, cni } } });
    kc = loadKubeConfig(up.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
  });

  after(async () => {
    await downCluster(name);
  });

  test("kubectl get nodes shows both nodes Ready", async () => {
    const out = await run(kubeBin("kubectl"), ["--kubeconfig", up.kubeconfig, "get", "nodes", "--no-headers"]);
    const rows = out.trim().split("\n").map((l) => l.split(/\s+/));
    assert.deepEqual(rows.map((r) => [r[0], r[1]]), [
      ["node1", "Ready"],
      ["node2", "Ready"],
    ]);
  });

  test("probe pods on each node run with IPs from their node's podCIDR", async () => {
    await core.createNamespace({ body: { metadata: { name: NS } } });
    // The namespace's default ServiceAccount is created by the controller-manager; pods are
    // refused by admission until it exists.
    await waitFor("default ServiceAccount", async () => ((await core.listNamespacedServiceAccount({ namespace: NS })).items.length ? true : undefined), { timeoutMs: 30_000 });
    for (const [podName, node] of [["a", "node1"], ["b", "node2"]] as const) {
      await core.createNamespacedPod({ namespace: NS, body: probePod(podName, node, { app: podName }) });
    }
    for (const [podName, node] of [["a", "node1"], ["b", "node2"]] as const) {
      const pod = await waitFor(
        `pod ${podName} Running and Ready`,
        async () => {
          const p = await core.readNamespacedPod({ name: podName, namespace: NS });
          const ready = p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
          return p.status?.phase === "Running" && ready && p.status.podIP ? p : undefined;
        },
        { timeoutMs: 60_000 },
      );
      assert.equal(pod.spec?.nodeName, node);
      const cidr = up.state.nodes.find((n) => n.name === node)?.podCIDR ?? "";
      assert.ok(inCidr(pod.status?.podIP ?? "", cidr), `${pod.status?.podIP} in ${cidr}`);
      pods.set(podName, pod);
    }
  });

  test("with the bundled agent's CNI, each pod has a CiliumEndpoint with its IP and an allocated identity", { skip: cni !== "conform" && "only the conform CNI publishes endpoints" }, async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    for (const [podName, pod] of pods) {
      const cep = (await custom.getNamespacedCustomObject({ group: "cilium.io", version: "v2", namespace: NS, plural: "ciliumendpoints", name: podName })) as {
        status?: { identity?: { id?: number }; networking?: { addressing?: { ipv4?: string }[]; node?: string } };
      };
      assert.equal(cep.status?.networking?.addressing?.[0]?.ipv4, pod.status?.podIP);
      assert.ok((cep.status?.identity?.id ?? 0) >= 256, JSON.stringify(cep.status));
    }
  });

  test("a probe batch from node1's pod reaches node2's pod and the world, is refused on a closed port and times out to an unrouted address", async () => {
    const a = pods.get("a");
    const b = pods.get("b");
    assert.ok(a && b, "pods from the previous test");
    const bIP = b.status?.podIP ?? "";
    const executor = new NetnsProbeExecutor({ resolveNetns: (pod) => netnsNames.pod(name, pod.uid ?? "") });
    const probes: ProbeInput[] = [
      { id: "http-b", kind: "http", host: bIP, port: 8080, path: "/hello", headers: { "x-test": "1" } },
      { id: "tcp-b", kind: "tcp", host: bIP, port: 9000, payload: "ping-over-tcp" },
      { id: "udp-b", kind: "udp", host: bIP, port: 9001, payload: "ping-over-udp" },
      { id: "closed-b", kind: "tcp", host: bIP, port: 9999 },
      { id: "http-world", kind: "http", host: WORLD_HOSTS.web, port: 80 },
      { id: "dns-world", kind: "dns", name: `world.${WORLD_ZONE}`, type: "A", server: WORLD_HOSTS.dns },
      { id: "unrouted", kind: "tcp", host: "198.51.100.7", port: 80, timeoutMs: 1500 },
    ] as ProbeInput[];
    const results = await executor.runBatch({ namespace: NS, name: "a", uid: a.metadata?.uid ?? "" }, probes);
    const byId = new Map(results.map((r: ProbeResult) => [r.id, r]));
    const outcome = (id: string) => `${byId.get(id)?.outcome} (${byId.get(id)?.detail ?? ""})`;
    assert.match(outcome("http-b"), /^ALLOWED/);
    assert.match(outcome("tcp-b"), /^ALLOWED/);
    assert.match(outcome("udp-b"), /^ALLOWED/);
    assert.match(outcome("http-world"), /^ALLOWED/);
    assert.match(outcome("dns-world"), /^ALLOWED/);
    assert.match(outcome("closed-b"), /^REJECTED/);
    assert.match(outcome("unrouted"), /^TIMEOUT/);
    // Bytes on the wire: b's server saw a's own address and the source port the probe reported
    // (no NAT between pods), and echoed the request header back.
    const http = byId.get("http-b") as ProbeResult & { http?: { body?: string } };
    const echo = JSON.parse(http.http?.body ?? "{}") as { client?: { address?: string; port?: number }; headers?: Record<string, string> };
    assert.equal(echo.client?.address, a.status?.podIP);
    assert.equal(echo.client?.port, http.source.port);
    assert.equal(echo.headers?.["x-test"], "1");
    const dns = byId.get("dns-world") as ProbeResult & { dns?: { answers?: { data?: string }[] } };
    assert.ok(JSON.stringify(dns.dns ?? {}).includes(WORLD_HOSTS.web), JSON.stringify(dns.dns));
  });

  test("a Service gets an EndpointSlice from the real controller-manager", async () => {
    const b = pods.get("b");
    assert.ok(b);
    await core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name: "svc-b" }, spec: { selector: { app: "b" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] } },
    });
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const slice = await waitFor(
      "an EndpointSlice for svc-b listing pod b",
      async () => {
        const list = await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: "kubernetes.io/service-name=svc-b" });
        return list.items.find((s) => s.endpoints.some((e) => e.addresses.includes(b.status?.podIP ?? "")));
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(slice.ports?.[0]?.port, 8080);
    assert.equal(slice.endpoints[0]?.conditions?.ready, true);
  });

  test("the API server refuses a CiliumNetworkPolicy with a wrongly typed field, naming the field", async () => {
    const bad = {
      apiVersion: "cilium.io/v2",
      kind: "CiliumNetworkPolicy",
      metadata: { name: "bad-port", namespace: NS },
      spec: { endpointSelector: { matchLabels: { app: "b" } }, ingress: [{ toPorts: [{ ports: [{ port: { not: "a port" }, protocol: "TCP" }] }] }] },
    };
    await assert.rejects(applyObjects(kc, [bad]), (err: unknown) => {
      const msg = apiErrorMessage(err);
      assert.match(msg, /spec\.ingress\[0\]\.toPorts\[0\]\.ports\[0\]\.port/, msg);
      return true;
    });
    // Unknown fields are refused too (strict field validation), not silently pruned.
    const typo = { ...bad, metadata: { name: "typo", namespace: NS }, spec: { endpointSelector: { matchLabels: { app: "b" } }, ingres: [{}] } };
    await assert.rejects(applyObjects(kc, [typo]), (err: unknown) => {
      assert.match(apiErrorMessage(err), /\.spec\.ingres: field not declared in schema/, apiErrorMessage(err));
      return true;
    });
    // A built-in kind too: `podSelecter` must not be dropped on the way and turn into "all pods".
    const npTypo = { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "np-typo", namespace: NS }, spec: { podSelecter: {} } };
    await assert.rejects(applyObjects(kc, [npTypo]), (err: unknown) => {
      assert.match(apiErrorMessage(err), /podSelecter/, apiErrorMessage(err));
      return true;
    });
    const good = { ...bad, metadata: { name: "good-port", namespace: NS }, spec: { ...bad.spec, ingress: [{ toPorts: [{ ports: [{ port: "8080", protocol: "TCP" }] }] }] } };
    const [applied] = await applyObjects(kc, [good]);
    assert.equal(applied?.metadata?.name, "good-port");
  });

  test("down leaves ip netns list and ip link as they were", async () => {
    await downCluster(name);
    assert.deepEqual(await netnsAndLinks(name), before_);
    assert.equal(existsSync(agentPinDir(name)), false, "no pinned BPF maps left");
  });
});
}
