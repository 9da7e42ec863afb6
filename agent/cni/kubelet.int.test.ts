// The netns kubelet attaches pods through conform-cni on a `spec.cni: conform` local cluster (the
// agent runs as the kube-system/conform-agent DaemonSet pod; it installs its plugin and conflist): pods
// become Ready with addresses from the agent's IPAM, reach each other, and deleting a pod runs
// CNI DEL (address released, CiliumEndpoint gone).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { execCapture } from "../../harness/cluster/local/kubelet/exec.js";
import { defaultLocalConfig } from "../../harness/cluster/local/config.js";
import { downCluster } from "../../harness/cluster/local/down.js";
import { netnsNames } from "../../harness/cluster/local/names.js";
import { agentLogFiles, agentStateDir } from "../../harness/cluster/local/node-agent.js";
import { clusterStateDir } from "../../harness/cluster/local/paths.js";
import type { NodeRecord } from "../../harness/cluster/local/state.js";
import { upCluster } from "../../harness/cluster/local/up.js";
import { loadKubeConfig } from "../../harness/kube/client.js";
import { waitFor } from "../../harness/util/wait.js";
import { CILIUM_GROUP, CILIUM_VERSION } from "../k8s/cilium-types.js";
import { cidrContains, ipv4ToNumber, parseIpv4Cidr } from "../ipam/ipv4.js";

const name = `ag-kl${process.pid}`;
const NS = "probes";

describe("the netns kubelet attaches pods through conform-cni", { timeout: 240_000 }, () => {
  let kc: KubeConfig;
  let core: CoreV1Api;
  let node: NodeRecord;
  let agentState: string;
  const agentLog = () => agentLogFiles(clusterStateDir(name), node.name).map((f) => readFileSync(f, "utf8")).join("\n");
  const pods = new Map<string, V1Pod>();

  before(async () => {
    const base = defaultLocalConfig();
    const up = await upCluster({ name, config: { ...base, metadata: { name }, spec: { ...base.spec, cni: "conform", nodes: 1, world: false } } });
    node = up.state.nodes[0]!;
    kc = loadKubeConfig(up.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    agentState = agentStateDir(clusterStateDir(name), node.name);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await waitFor("default ServiceAccount", async () => ((await core.listNamespacedServiceAccount({ namespace: NS })).items.length ? true : undefined), { timeoutMs: 30_000 });
  });

  after(async () => {
    await downCluster(name);
  });

  const probePod = (podName: string): V1Pod => ({
    metadata: { name: podName, namespace: NS, labels: { app: podName } },
    spec: {
      nodeName: node.name,
      containers: [{ name: "probe", image: "conform/probe:v1", args: ["serve", "--http", "8080", "--tcp", "9000", "--udp", "9001"] }],
    },
  });

  test("pods become Ready with addresses from the node's podCIDR handed out by the agent", async () => {
    for (const p of ["a", "b"]) await core.createNamespacedPod({ namespace: NS, body: probePod(p) });
    const podCIDR = parseIpv4Cidr(node.podCIDR ?? "");
    for (const p of ["a", "b"]) {
      const ready = await waitFor(
        `pod ${p} Ready`,
        async () => {
          const pod = await core.readNamespacedPod({ namespace: NS, name: p });
          return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? pod : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, onTimeout: async () => agentLog().split("\n").slice(-20).join("\n") },
      );
      pods.set(p, ready);
      const ip = ready.status?.podIP ?? "";
      assert.ok(cidrContains(podCIDR, ipv4ToNumber(ip)), `${ip} in ${node.podCIDR}`);
      assert.ok(existsSync(join(agentState, "ipam", ip)), "reserved by the agent's IPAM, not host-local");
      const cep = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: CILIUM_GROUP, version: CILIUM_VERSION, plural: "ciliumendpoints", namespace: NS, name: p })) as {
        status?: { networking?: { addressing?: { ipv4?: string }[] } };
      };
      assert.equal(cep.status?.networking?.addressing?.[0]?.ipv4, ip);
    }
  });

  test("pod a reaches pod b's TCP echo server over the conform attachment", async () => {
    const a = pods.get("a")!;
    const b = pods.get("b")!;
    const script = `const s=require("net").connect(9000,"${b.status?.podIP}");let d="";s.setTimeout(3000,()=>{console.log("TIMEOUT");process.exit(0)});s.on("connect",()=>s.end("hello-b"));s.on("data",x=>d+=x);s.on("end",()=>{console.log(d);process.exit(0)});s.on("error",e=>{console.log(e.code);process.exit(0)});`;
    const r = await execCapture("ip", ["netns", "exec", netnsNames.pod(name, a.metadata!.uid!), process.execPath, "-e", script], { timeoutMs: 10_000 });
    assert.match(r.stdout.trim(), /hello-b/);
  });

  test("deleting a pod runs CNI DEL: address released, CiliumEndpoint gone", async () => {
    const b = pods.get("b")!;
    const ip = b.status?.podIP ?? "";
    await core.deleteNamespacedPod({ namespace: NS, name: "b", gracePeriodSeconds: 0 });
    await waitFor("the agent to release pod b's address", async () => (existsSync(join(agentState, "ipam", ip)) ? undefined : true), { timeoutMs: 60_000, intervalMs: 250 });
    await waitFor(
      "pod b's CiliumEndpoint to disappear",
      async () =>
        kc
          .makeApiClient(CustomObjectsApi)
          .getNamespacedCustomObject({ group: CILIUM_GROUP, version: CILIUM_VERSION, plural: "ciliumendpoints", namespace: NS, name: "b" })
          .then(
            () => undefined,
            (err: { code?: number }) => (err.code === 404 ? true : undefined),
          ),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    assert.match(agentLog(), /CNI request done command=DEL .*pod=probes\/b/);
  });
});
