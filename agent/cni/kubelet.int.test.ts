// The real consumer of the plugin: the local cluster's netns kubelet. The cluster comes up as
// usual (ptp config written), then this test starts the agent's control side in the node netns
// with the kubelet's CNI directories (the provider's `spec.cni: conform` wiring is not done yet;
// the kubelet's CNI_PATH is pointed at a directory holding the reference plugins and our shim).
// The agent's conflist sorts first, so new pods are attached by conform: they become Ready with
// addresses from the node's podCIDR, reach each other, get CiliumEndpoints, and pod deletion runs
// CNI DEL (address released, CEP gone). No-op datapath.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { execCapture } from "../../harness/cluster/local/kubelet/exec.js";
import { defaultLocalConfig } from "../../harness/cluster/local/config.js";
import { logFile } from "../../harness/cluster/local/control-plane.js";
import { downCluster } from "../../harness/cluster/local/down.js";
import { netnsNames } from "../../harness/cluster/local/names.js";
import { cniBinDir, clusterStateDir } from "../../harness/cluster/local/paths.js";
import type { NodeRecord } from "../../harness/cluster/local/state.js";
import { CONTROL_PLANE_IP } from "../../harness/cluster/local/topology.js";
import { upCluster } from "../../harness/cluster/local/up.js";
import { loadKubeConfig } from "../../harness/kube/client.js";
import { waitFor } from "../../harness/util/wait.js";
import { CILIUM_GROUP, CILIUM_VERSION } from "../k8s/cilium-types.js";
import { cidrContains, ipv4ToNumber, parseIpv4Cidr } from "../ipam/ipv4.js";

const name = `ag-kl${process.pid}`;
const NS = "probes";
const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "cft-ag-kl-int-"));
const binDir = join(dir, "bin");

describe("the netns kubelet attaches pods through conform-cni (no-op datapath)", { timeout: 240_000 }, () => {
  let kc: KubeConfig;
  let core: CoreV1Api;
  let node: NodeRecord;
  let agent: ChildProcess | undefined;
  let agentLog = "";
  let agentState: string;
  const pods = new Map<string, V1Pod>();

  before(async () => {
    // The kubelet searches CNI_PATH = this dir: the reference plugins plus (later) our shim.
    mkdirSync(binDir, { recursive: true });
    for (const p of readdirSync(cniBinDir())) symlinkSync(join(cniBinDir(), p), join(binDir, p));
    process.env["CONFORM_CNI_BIN"] = binDir;
    const base = defaultLocalConfig();
    const up = await upCluster({ name, config: { ...base, metadata: { name }, spec: { ...base.spec, nodes: 1, world: false } } });
    node = up.state.nodes[0]!;
    kc = loadKubeConfig(up.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    const nodeDir = join(clusterStateDir(name), "nodes", node.name);
    agentState = join(nodeDir, "agent");
    const agentKubeconfig = join(dir, "agent.kubeconfig");
    writeFileSync(agentKubeconfig, readFileSync(up.kubeconfig, "utf8").replace(/server: .*/, `server: https://${CONTROL_PLANE_IP}:6443`), { mode: 0o600 });
    const configFile = join(dir, "agent.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        nodeName: node.name,
        stateDir: agentState,
        socketPath: join(agentState, "agent.sock"),
        kubeconfig: agentKubeconfig,
        cniBinDir: binDir,
        cniConfDir: join(nodeDir, "cni", "net.d"),
      }),
    );
    const child = spawn("ip", ["netns", "exec", node.netns, process.execPath, resolve(here, "cni-agent-main.js"), "--config", configFile], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (b: Buffer) => (agentLog += b.toString()));
    child.stderr.on("data", (b: Buffer) => (agentLog += b.toString()));
    agent = child;
    await waitFor("the agent to serve CNI", async () => (agentLog.includes("agent ready") ? true : child.exitCode !== null ? Promise.reject(new Error(agentLog)) : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    // The kubelet polls its CNI config dir; pods created before it switched would get ptp.
    const kubeletLog = logFile(clusterStateDir(name), `kubelet-${node.name}`);
    await waitFor("the kubelet to switch to the conform conflist", async () => (/network config in force .*05-conform\.conflist/.test(readFileSync(kubeletLog, "utf8")) ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    await core.createNamespace({ body: { metadata: { name: NS } } });
  });

  after(async () => {
    const child = agent;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
    delete process.env["CONFORM_CNI_BIN"];
    await downCluster(name);
    rmSync(dir, { recursive: true, force: true });
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
        { timeoutMs: 60_000, intervalMs: 250, onTimeout: async () => agentLog.split("\n").slice(-20).join("\n") },
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
    assert.match(agentLog, /CNI request done command=DEL .*pod=probes\/b/);
  });
});
