// Endpoints against a real cluster: the agent's control side runs inside the local cluster's
// node netns (API reachable there), pods are real Pod objects (kept unschedulable, so the
// netns kubelet never touches them) attached by invoking the conform-cni plugin for netns we
// create. Asserts the published CiliumEndpoint (owner reference, identity, addressing), the
// CiliumIdentity behind it, identity changes on namespace label changes, DEL, the API's garbage
// collection of CEPs through the owner reference and restore dropping endpoints of deleted pods.
// The datapath hook is the no-op one (the datapath is not wired yet).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { execCapture } from "../../harness/cluster/local/kubelet/exec.js";
import { defaultLocalConfig } from "../../harness/cluster/local/config.js";
import { downCluster } from "../../harness/cluster/local/down.js";
import type { NodeRecord } from "../../harness/cluster/local/state.js";
import { CONTROL_PLANE_IP } from "../../harness/cluster/local/topology.js";
import { upCluster } from "../../harness/cluster/local/up.js";
import { loadKubeConfig } from "../../harness/kube/client.js";
import { run } from "../../harness/util/exec.js";
import { waitFor } from "../../harness/util/wait.js";
import { CILIUM_GROUP, CILIUM_VERSION } from "../k8s/cilium-types.js";
import type { CiliumEndpoint, CiliumIdentity } from "../k8s/cilium-types.js";
import { CNI_ERROR } from "../cni/wire.js";

const name = `ag-ep${process.pid}`;
const NS = "cft-ag";
const POD_NETNS = ["cft-ag-ep-p1", "cft-ag-ep-p2", "cft-ag-ep-p3", "cft-ag-ep-p4", "cft-ag-ep-p5"] as const;
const CIDR = "10.244.250.0/28"; // not the node's podCIDR: the kubelet's ptp pods keep theirs
const here = dirname(fileURLToPath(import.meta.url));
const AGENT_MAIN = resolve(here, "../cni/cni-agent-main.js");
const dir = mkdtempSync(join(tmpdir(), "cft-ag-ep-int-"));
const socketPath = join(dir, "run", "agent.sock");
const binDir = join(dir, "bin");
const stateDir = join(dir, "state");
const configFile = join(dir, "agent.json");

describe("endpoints published to a real cluster (no-op datapath)", { timeout: 240_000 }, () => {
  let kc: KubeConfig;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let node: NodeRecord;
  let agent: ChildProcess | undefined;
  let agentLog = "";
  const uids = new Map<string, string>();

  const cep = (pod: string): Promise<CiliumEndpoint | undefined> =>
    custom
      .getNamespacedCustomObject({ group: CILIUM_GROUP, version: CILIUM_VERSION, plural: "ciliumendpoints", namespace: NS, name: pod })
      .then((o) => o as CiliumEndpoint)
      .catch((err: { code?: number }) => (err.code === 404 ? undefined : Promise.reject(err)));

  const identity = async (id: number): Promise<CiliumIdentity> =>
    (await custom.getClusterCustomObject({ group: CILIUM_GROUP, version: CILIUM_VERSION, plural: "ciliumidentities", name: String(id) })) as CiliumIdentity;

  async function cni(command: "ADD" | "DEL" | "CHECK", pod: string, netns: string): Promise<{ exit: number | null; json: Record<string, unknown> | undefined; out: string }> {
    const conf = JSON.stringify({ cniVersion: "1.0.0", name: "conform", type: "conform-cni", socketPath });
    const r = await execCapture("ip", ["netns", "exec", node.netns, join(binDir, "conform-cni")], {
      stdin: conf,
      timeoutMs: 30_000,
      env: {
        PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        CNI_COMMAND: command,
        CNI_CONTAINERID: uids.get(pod) ?? `no-uid-${pod}`,
        CNI_NETNS: `/var/run/netns/${netns}`,
        CNI_IFNAME: "eth0",
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NS};K8S_POD_NAME=${pod};K8S_POD_UID=${uids.get(pod) ?? ""}`,
        CNI_PATH: binDir,
      },
    });
    let json: Record<string, unknown> | undefined;
    try {
      json = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    return { exit: r.code, json, out: r.stdout + r.stderr };
  }

  async function startAgent(): Promise<void> {
    agentLog = "";
    const child = spawn("ip", ["netns", "exec", node.netns, process.execPath, AGENT_MAIN, "--config", configFile], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (b: Buffer) => (agentLog += b.toString()));
    child.stderr.on("data", (b: Buffer) => (agentLog += b.toString()));
    agent = child;
    await waitFor("the agent to serve CNI", async () => (agentLog.includes("agent ready") ? true : child.exitCode !== null ? Promise.reject(new Error(agentLog)) : undefined), {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
  }

  async function stopAgent(): Promise<void> {
    const child = agent;
    agent = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  }

  function pod(podName: string, labels: Record<string, string>): V1Pod {
    return {
      metadata: { name: podName, namespace: NS, labels },
      spec: {
        serviceAccountName: "sa1",
        automountServiceAccountToken: false,
        // Never scheduled: the netns kubelet must not run it, we attach it ourselves.
        nodeSelector: { "cft-ag/unschedulable": "true" },
        containers: [{ name: "c", image: "conform/probe:v1", ports: [{ name: "http", containerPort: 8080 }] }],
      },
    };
  }

  before(async () => {
    for (const ns of POD_NETNS) await run("ip", ["netns", "delete", ns]).catch(() => undefined);
    const base = defaultLocalConfig();
    const up = await upCluster({ name, config: { ...base, metadata: { name }, spec: { ...base.spec, cni: "ptp", nodes: 1, world: false } } });
    node = up.state.nodes[0]!;
    kc = loadKubeConfig(up.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    // Same credentials, but the API server's address as seen from inside the node netns.
    const agentKubeconfig = join(dir, "agent.kubeconfig");
    writeFileSync(agentKubeconfig, readFileSync(up.kubeconfig, "utf8").replace(/server: .*/, `server: https://${CONTROL_PLANE_IP}:6443`), { mode: 0o600 });
    mkdirSync(binDir, { recursive: true });
    writeFileSync(configFile, JSON.stringify({ nodeName: node.name, stateDir, socketPath, podCIDR: CIDR, kubeconfig: agentKubeconfig, cniBinDir: binDir, clusterName: "default" }));

    await core.createNamespace({ body: { metadata: { name: NS, labels: { team: "a" } } } });
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: "sa1" } } });
    for (const [podName, labels] of [
      ["web-1", { app: "web" }],
      ["web-2", { app: "web", "pod-template-hash": "abc123" }],
      ["db-1", { app: "db" }],
      ["doomed-1", { app: "doomed" }],
    ] as const) {
      const created = await core.createNamespacedPod({ namespace: NS, body: pod(podName, labels) });
      uids.set(podName, created.metadata!.uid!);
    }
    for (const ns of POD_NETNS) await run("ip", ["netns", "add", ns]);
    await startAgent();
  });

  after(async () => {
    await stopAgent();
    for (const ns of POD_NETNS) await run("ip", ["netns", "delete", ns]).catch(() => undefined);
    await downCluster(name);
    rmSync(dir, { recursive: true, force: true });
  });

  test("ADD publishes a CiliumEndpoint owned by the pod, with endpoint id, identity, address and node", async () => {
    const r = await cni("ADD", "web-1", POD_NETNS[0]);
    assert.equal(r.exit, 0, r.out);
    const ip = String((r.json?.["ips"] as { address: string }[])[0]?.address).split("/")[0];
    const obj = await cep("web-1");
    assert.ok(obj, "CEP exists");
    assert.deepEqual(
      obj.metadata.ownerReferences?.map((o) => [o.apiVersion, o.kind, o.name, o.uid]),
      [["v1", "Pod", "web-1", uids.get("web-1")]],
    );
    const s = obj.status!;
    assert.ok(typeof s.id === "number" && s.id >= 1 && s.id <= 65535);
    assert.equal(s.state, "ready");
    assert.deepEqual(s.networking, { addressing: [{ ipv4: ip }], node: node.ip });
    assert.equal(s["service-account"], "sa1");
    assert.deepEqual(s["named-ports"], [{ name: "http", port: 8080, protocol: "TCP" }]);
    assert.equal(s["external-identifiers"]?.["container-id"], uids.get("web-1"));
    const labels = s.identity?.labels ?? [];
    for (const l of [
      "k8s:app=web",
      `k8s:io.kubernetes.pod.namespace=${NS}`,
      "k8s:io.cilium.k8s.policy.serviceaccount=sa1",
      "k8s:io.cilium.k8s.policy.cluster=default",
      "k8s:io.cilium.k8s.namespace.labels.team=a",
      `k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=${NS}`,
    ])
      assert.ok(labels.includes(l), `${l} in ${labels.join(", ")}`);
    const id = s.identity!.id!;
    assert.ok(id >= 256 && id <= 65535);
    const ident = await identity(id);
    assert.equal(ident["security-labels"]["k8s:app"], "web");
    assert.equal(ident["security-labels"]["k8s:io.cilium.k8s.namespace.labels.team"], "a");
    assert.equal((await cni("CHECK", "web-1", POD_NETNS[0])).exit, 0);
    const k8sNode = await core.readNode({ name: node.name });
    assert.equal(k8sNode.metadata?.annotations?.["network.cilium.io/ipv4-cilium-host"], "10.244.250.1", "router address published on the Node");
  });

  test("a replica with the same identity labels shares the number; other labels get another", async () => {
    assert.equal((await cni("ADD", "web-2", POD_NETNS[1])).exit, 0);
    assert.equal((await cni("ADD", "db-1", POD_NETNS[2])).exit, 0);
    const [w1, w2, d1] = await Promise.all([cep("web-1"), cep("web-2"), cep("db-1")]);
    assert.equal(w2?.status?.identity?.id, w1?.status?.identity?.id, "pod-template-hash is not an identity label");
    assert.notEqual(d1?.status?.identity?.id, w1?.status?.identity?.id);
    assert.notEqual(w2?.status?.id, w1?.status?.id, "endpoint ids are unique on the node");
  });

  test("a namespace label change moves its endpoints to a new identity", async () => {
    const before_ = (await cep("web-1"))?.status?.identity?.id;
    await core.patchNamespace({ name: NS, body: [{ op: "replace", path: "/metadata/labels/team", value: "b" }] });
    const moved = await waitFor(
      "web-1's CEP to carry the new namespace label",
      async () => {
        const obj = await cep("web-1");
        return obj?.status?.identity?.labels?.includes("k8s:io.cilium.k8s.namespace.labels.team=b") ? obj : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.notEqual(moved.status?.identity?.id, before_);
    const w2 = await waitFor("web-2 to follow", async () => {
      const obj = await cep("web-2");
      return obj?.status?.identity?.id === moved.status?.identity?.id ? obj : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    assert.ok(w2);
    assert.equal((await identity(moved.status!.identity!.id!))["security-labels"]["k8s:io.cilium.k8s.namespace.labels.team"], "b");
  });

  test("a label change of a pod on this node moves its endpoint to a new identity", async () => {
    // Bound to the node (the agent watches this node's pods); the kubelet runs it too, with its
    // own ptp attachment in its own netns, which does not matter here.
    const bound = pod("bound-1", { app: "bound" });
    delete bound.spec!.nodeSelector;
    bound.spec!.nodeName = node.name;
    const created = await core.createNamespacedPod({ namespace: NS, body: bound });
    uids.set("bound-1", created.metadata!.uid!);
    assert.equal((await cni("ADD", "bound-1", POD_NETNS[4])).exit, 0);
    const first = (await cep("bound-1"))?.status?.identity?.id;
    await core.patchNamespacedPod({ namespace: NS, name: "bound-1", body: [{ op: "replace", path: "/metadata/labels/app", value: "bound-v2" }] });
    const moved = await waitFor(
      "bound-1's CEP to carry the new pod label",
      async () => {
        const obj = await cep("bound-1");
        return obj?.status?.identity?.labels?.includes("k8s:app=bound-v2") ? obj : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.notEqual(moved.status?.identity?.id, first);
    assert.equal((await cni("DEL", "bound-1", POD_NETNS[4])).exit, 0);
  });

  test("DEL removes the pod's CiliumEndpoint and leaves the others", async () => {
    assert.equal((await cni("DEL", "web-2", POD_NETNS[1])).exit, 0);
    assert.equal(await cep("web-2"), undefined);
    assert.ok(await cep("web-1"));
  });

  test("ADD for a pod the API does not know fails with code 3", async () => {
    const r = await cni("ADD", "no-such-pod", POD_NETNS[1]);
    assert.equal(r.exit, 1);
    assert.equal(r.json?.["code"], CNI_ERROR.unknownContainer);
    assert.match(String(r.json?.["msg"]), /no-such-pod does not exist in the API/);
  });

  test("deleting the pod garbage-collects its CEP (owner reference), and restore drops the endpoint", async () => {
    const r = await cni("ADD", "doomed-1", POD_NETNS[3]);
    assert.equal(r.exit, 0, r.out);
    const ip = String((r.json?.["ips"] as { address: string }[])[0]?.address).split("/")[0]!;
    const hostIf = (r.json?.["interfaces"] as { name: string }[])[0]!.name;
    assert.ok(await cep("doomed-1"));
    await stopAgent();
    await core.deleteNamespacedPod({ namespace: NS, name: "doomed-1", gracePeriodSeconds: 0 });
    await waitFor("the garbage collector to remove the CEP", async () => ((await cep("doomed-1")) === undefined ? true : undefined), { timeoutMs: 60_000, intervalMs: 500 });
    await startAgent();
    assert.match(agentLog, /dropped endpoint on restore .*doomed-1 no longer exists/);
    assert.ok(!existsSync(join(stateDir, "ipam", ip)), "its address is released");
    const links = await run("ip", ["-n", node.netns, "-o", "link", "show"]);
    assert.ok(!links.includes(hostIf), "its veth is gone");
    assert.equal((await cni("CHECK", "web-1", POD_NETNS[0])).exit, 0, "the other endpoint survived the restart");
    assert.ok(await cep("web-1"));
  });
});
