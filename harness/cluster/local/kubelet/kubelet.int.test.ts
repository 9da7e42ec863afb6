// The netns kubelet inside a real local cluster (real kube-apiserver with Node authorization and
// NodeRestriction, controller-manager, scheduler): Node registration and Lease, pod life cycle
// (sandbox, env, status, restarts, unknown images, hostNetwork, deletion with SIGTERM/SIGKILL),
// network readiness, and a kubelet restart adopting and cleaning up. Every claim is checked
// against the kernel (processes, netns, routes, IPAM leases) as well as the API.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { CoreV1Event, V1Pod } from "@kubernetes/client-node";
import { loadKubeConfig } from "../../../kube/client.js";
import { run, spawnDetached } from "../../../util/exec.js";
import { isAlive } from "../../../util/processes.js";
import { waitFor } from "../../../util/wait.js";
import { defaultLocalConfig } from "../config.js";
import { logFile } from "../control-plane.js";
import { downCluster } from "../down.js";
import { netnsNames } from "../names.js";
import { clusterStateDir, repoRoot } from "../paths.js";
import { upCluster } from "../up.js";
import type { UpResult } from "../up.js";
import { podPaths } from "./paths.js";

const name = `kl${process.pid}`;
const NS = "kubelet-it";

function inCidr(ip: string, cidr: string): boolean {
  const toInt = (a: string) => a.split(".").reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
  const [net, bits] = cidr.split("/");
  const mask = bits === "0" ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return ((toInt(ip) & mask) >>> 0) === ((toInt(net ?? "") & mask) >>> 0);
}

const pidOf = (p: V1Pod, container = 0): number => Number((p.status?.containerStatuses?.[container]?.containerID ?? "").replace("conform://", ""));
const netnsOf = (p: V1Pod): string => netnsNames.pod(name, p.metadata?.uid ?? "");
/** The generated client returns class instances; compare their JSON. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
const cond = (p: V1Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);

async function netnsPids(ns: string): Promise<number[]> {
  return (await run("ip", ["netns", "pids", ns])).split("\n").filter(Boolean).map(Number);
}

function environ(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
}

describe("netns kubelet in a real cluster", { timeout: 300_000 }, () => {
  let up: UpResult;
  let core: CoreV1Api;
  let coord: CoordinationV1Api;
  const nodeDir = (node: string) => join(clusterStateDir(name), "nodes", node);

  const getPod = (podName: string) => core.readNamespacedPod({ name: podName, namespace: NS });
  const waitPod = (what: string, podName: string, ok: (p: V1Pod) => boolean, timeoutMs = 60_000) =>
    waitFor(
      `${podName}: ${what}`,
      async () => {
        const p = await getPod(podName);
        return ok(p) ? p : undefined;
      },
      { timeoutMs, intervalMs: 200, onTimeout: async () => JSON.stringify((await getPod(podName)).status, null, 1) },
    );
  const gone = (podName: string, timeoutMs = 30_000) =>
    waitFor(
      `${podName} to be deleted`,
      async () => {
        try {
          await getPod(podName);
          return undefined;
        } catch {
          return true;
        }
      },
      { timeoutMs, intervalMs: 100 },
    );
  const events = async (podName: string): Promise<CoreV1Event[]> =>
    (await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${podName}` })).items;
  const createPod = (pod: V1Pod) => core.createNamespacedPod({ namespace: NS, body: { apiVersion: "v1", kind: "Pod", ...pod } });
  const probeSpec = (node: string, extra: Partial<NonNullable<V1Pod["spec"]>> = {}): NonNullable<V1Pod["spec"]> => ({
    nodeSelector: { "kubernetes.io/hostname": node },
    terminationGracePeriodSeconds: 5,
    containers: [
      {
        name: "probe",
        image: "conform/probe:v1",
        args: ["serve", "--http", "8080"],
        env: [
          { name: "MY_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
          { name: "MY_SA", valueFrom: { fieldRef: { fieldPath: "spec.serviceAccountName" } } },
          { name: "GREETING", value: "hello $(POD_NAME) on $(NODE_NAME)" },
        ],
      },
    ],
    ...extra,
  });

  before(async () => {
    // The reference CNI: this suite drives the kubelet itself, with no agent pods around.
    const base = defaultLocalConfig();
    up = await upCluster({ name, config: { ...base, metadata: { name }, spec: { ...base.spec, cni: "ptp" } } });
    const kc = loadKubeConfig(up.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    coord = kc.makeApiClient(CoordinationV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await waitFor("default ServiceAccount", async () => ((await core.listNamespacedServiceAccount({ namespace: NS })).items.length ? true : undefined), { timeoutMs: 30_000 });
  });

  after(async () => {
    await downCluster(name);
  });

  test("nodes register with labels, addresses, capacity and version, and keep their Lease renewed", async () => {
    for (const n of up.state.nodes) {
      const node = await core.readNode({ name: n.name });
      const labels = node.metadata?.labels ?? {};
      assert.equal(labels["kubernetes.io/hostname"], n.name);
      assert.equal(labels["kubernetes.io/os"], "linux");
      assert.match(labels["kubernetes.io/arch"] ?? "", /^(amd64|arm64)$/);
      assert.equal(labels["conform.dev/node-index"], String(n.index), "config labels are applied");
      assert.deepEqual(plain(node.status?.addresses), [
        { type: "InternalIP", address: n.ip },
        { type: "Hostname", address: n.name },
      ]);
      assert.equal(node.status?.nodeInfo?.kubeletVersion, up.state.kubernetesVersion);
      assert.ok(Number(node.status?.capacity?.["cpu"]) >= 1);
      assert.equal(node.status?.allocatable?.["pods"], "110");
      const ready = node.status?.conditions?.find((c) => c.type === "Ready");
      assert.equal(ready?.status, "True");
      // The node was NotReady until the provider wrote the CNI config; the node-lifecycle
      // controller removes its not-ready taint on a later pass, then must not taint it again.
      await waitFor(`${n.name} without taints`, async () => ((await core.readNode({ name: n.name })).spec?.taints?.length ? undefined : true), { timeoutMs: 30_000 });
    }
    const first = await coord.readNamespacedLease({ name: "node1", namespace: "kube-node-lease" });
    assert.equal(first.spec?.holderIdentity, "node1");
    assert.equal(first.metadata?.ownerReferences?.[0]?.kind, "Node");
    const renewed = await waitFor(
      "node1's Lease to be renewed",
      async () => {
        const l = await coord.readNamespacedLease({ name: "node1", namespace: "kube-node-lease" });
        return String(l.spec?.renewTime) !== String(first.spec?.renewTime) ? l : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    assert.ok(new Date(String(renewed.spec?.renewTime)) > new Date(String(first.spec?.renewTime)));
  });

  test("a probe pod runs in its own netns with an IP from the node's podCIDR, env and status filled in", async () => {
    await createPod({ metadata: { name: "web1", namespace: NS }, spec: probeSpec("node1") });
    const p = await waitPod("Running and Ready", "web1", (x) => x.status?.phase === "Running" && cond(x, "Ready")?.status === "True");
    const ip = p.status?.podIP ?? "";
    assert.ok(inCidr(ip, up.state.nodes[0]?.podCIDR ?? ""), `${ip} in node1's podCIDR`);
    assert.deepEqual(plain(p.status?.podIPs), [{ ip }]);
    assert.equal(p.status?.hostIP, up.state.nodes[0]?.ip);
    assert.ok(p.status?.startTime);
    for (const t of ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"]) assert.equal(cond(p, t)?.status, "True", t);
    const cs = p.status?.containerStatuses?.[0];
    assert.equal(cs?.ready, true);
    assert.equal(cs?.started, true);
    assert.equal(cs?.restartCount, 0);
    assert.ok(cs?.state?.running?.startedAt);
    const pid = pidOf(p);
    assert.ok(isAlive(pid), `container pid ${pid} is alive`);
    assert.ok((await netnsPids(netnsOf(p))).includes(pid), "the process runs inside the pod's netns");
    assert.match(await run("ip", ["-n", netnsOf(p), "-4", "-br", "addr", "show", "dev", "eth0"]), new RegExp(`${ip.replaceAll(".", "\\.")}/`));
    const env = environ(pid);
    assert.equal(env["MY_IP"], ip);
    assert.equal(env["MY_SA"], "default");
    assert.equal(env["POD_NAME"], "web1");
    assert.equal(env["POD_NAMESPACE"], NS);
    assert.equal(env["NODE_NAME"], "node1");
    assert.equal(env["GREETING"], "hello web1 on node1");
    const log = podPaths.containerLog(podPaths.dir(nodeDir("node1"), { namespace: NS, name: "web1", uid: p.metadata?.uid ?? "" }), "probe");
    assert.match(readFileSync(log, "utf8"), /"event":"ready"/, `the container log is at ${log}`);
    // Reachable from the node over the CNI-made veth.
    const body = await run("ip", ["netns", "exec", netnsNames.node(name, "node1"), process.execPath, "-e", `fetch('http://${ip}:8080/x').then(r=>r.text()).then(t=>process.stdout.write(t))`]);
    assert.match(body, /"pod":"web1"/);
  });

  test("an image the local cluster cannot run keeps the pod Pending with a reason naming it", async () => {
    await createPod({ metadata: { name: "nginx", namespace: NS }, spec: { nodeSelector: { "kubernetes.io/hostname": "node2" }, containers: [{ name: "web", image: "nginx:1.27" }] } });
    const p = await waitPod("waiting ImageNotRunnableLocally", "nginx", (x) => x.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ImageNotRunnableLocally");
    assert.equal(p.status?.phase, "Pending");
    assert.match(p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? "", /"nginx:1\.27".*conform\/probe/);
    const ev = await waitFor("a Failed event", async () => (await events("nginx")).find((e) => e.reason === "Failed"), { timeoutMs: 10_000 });
    assert.match(ev.message ?? "", /nginx:1\.27/);
    await core.deleteNamespacedPod({ name: "nginx", namespace: NS });
    await gone("nginx");
  });

  test("a crashing container is restarted with CrashLoopBackOff and counted", async () => {
    await createPod({
      metadata: { name: "crash", namespace: NS },
      spec: { nodeSelector: { "kubernetes.io/hostname": "node2" }, containers: [{ name: "c", image: "conform/probe:v1", command: ["sh", "-c", "echo boom; exit 3"] }] },
    });
    // Restart 1 is immediate, restart 2 follows the first 10s back-off.
    const p = await waitPod("restarted twice", "crash", (x) => (x.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2, 40_000);
    const cs = p.status?.containerStatuses?.[0];
    assert.equal(cs?.lastState?.terminated?.exitCode, 3);
    assert.equal(cs?.lastState?.terminated?.reason, "Error");
    await waitPod("in CrashLoopBackOff", "crash", (x) => x.status?.containerStatuses?.[0]?.state?.waiting?.reason === "CrashLoopBackOff", 15_000);
    assert.equal((await getPod("crash")).status?.phase, "Running", "restartPolicy Always keeps the phase Running");
    assert.ok((await events("crash")).some((e) => e.reason === "BackOff"));
    const log = readFileSync(podPaths.containerLog(podPaths.dir(nodeDir("node2"), { namespace: NS, name: "crash", uid: p.metadata?.uid ?? "" }), "c"), "utf8");
    assert.ok(log.split("\n").filter((l) => l === "boom").length >= 3, "every run appends to the same log");
    await core.deleteNamespacedPod({ name: "crash", namespace: NS });
    await gone("crash");
  });

  test("init containers run first; a Never pod that exits 0 Succeeds and frees its sandbox, keeping its IP", async () => {
    await createPod({
      metadata: { name: "job", namespace: NS },
      spec: {
        nodeSelector: { "kubernetes.io/hostname": "node1" },
        restartPolicy: "Never",
        initContainers: [{ name: "init", image: "conform/probe:v1", command: ["sh", "-c", "echo init > ../marker"] }],
        containers: [{ name: "main", image: "conform/probe:v1", command: ["sh", "-c", "test -f ../marker && echo main saw init"] }],
      },
    });
    const p = await waitPod("Succeeded", "job", (x) => x.status?.phase === "Succeeded");
    assert.equal(p.status?.initContainerStatuses?.[0]?.state?.terminated?.reason, "Completed");
    assert.equal(p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
    assert.ok(p.status?.podIP, "a finished pod keeps its IP in status");
    await waitFor("the finished pod's netns to be deleted", async () => (!(await run("ip", ["netns", "list"])).includes(netnsOf(p)) ? true : undefined), { timeoutMs: 10_000 });
    const dir = podPaths.dir(nodeDir("node1"), { namespace: NS, name: "job", uid: p.metadata?.uid ?? "" });
    assert.match(readFileSync(podPaths.containerLog(dir, "main"), "utf8"), /main saw init/);
    const ipam = join(nodeDir("node1"), "cni", "ipam", "conform-ptp");
    assert.ok(!readdirSync(ipam).includes(p.status?.podIP ?? ""), "CNI DEL released the address");
  });

  test("a hostNetwork pod runs in the node netns with the node's IP", async () => {
    await createPod({ metadata: { name: "hostnet", namespace: NS }, spec: { ...probeSpec("node2"), hostNetwork: true } });
    const p = await waitPod("Running and Ready", "hostnet", (x) => x.status?.phase === "Running" && cond(x, "Ready")?.status === "True");
    assert.equal(p.status?.podIP, up.state.nodes[1]?.ip);
    assert.ok((await netnsPids(netnsNames.node(name, "node2"))).includes(pidOf(p)), "process in the node netns");
    assert.ok(!(await run("ip", ["netns", "list"])).includes(netnsOf(p)), "no pod netns for hostNetwork pods");
  });

  test("deletion: SIGTERM, SIGKILL after the grace period, CNI DEL, netns deleted, object finalized", async () => {
    await createPod({
      metadata: { name: "stubborn", namespace: NS },
      spec: {
        nodeSelector: { "kubernetes.io/hostname": "node1" },
        terminationGracePeriodSeconds: 2,
        containers: [{ name: "s", image: "conform/probe:v1", command: ["sh", "-c", "trap 'echo got TERM' TERM; echo conform-probe: ready; while true; do sleep 0.2; done"] }],
      },
    });
    const p = await waitPod("Ready", "stubborn", (x) => cond(x, "Ready")?.status === "True");
    const pid = pidOf(p);
    const ip = p.status?.podIP ?? "";
    const dir = podPaths.dir(nodeDir("node1"), { namespace: NS, name: "stubborn", uid: p.metadata?.uid ?? "" });
    const t0 = Date.now();
    await core.deleteNamespacedPod({ name: "stubborn", namespace: NS });
    await gone("stubborn");
    const took = Date.now() - t0;
    assert.ok(took >= 1800, `waited for the 2s grace period before SIGKILL (took ${took}ms)`);
    assert.ok(took < 15_000, `finalized promptly after the grace period (took ${took}ms)`);
    assert.equal(isAlive(pid), false);
    assert.match(readFileSync(podPaths.containerLog(dir, "s"), "utf8"), /got TERM/, "SIGTERM came first");
    assert.ok(!(await run("ip", ["netns", "list"])).includes(netnsOf(p)), "netns deleted");
    assert.ok(!(await run("ip", ["-n", netnsNames.node(name, "node1"), "-4", "route"])).includes(`${ip} dev`), "node route to the pod removed");
    assert.ok(!readdirSync(join(nodeDir("node1"), "cni", "ipam", "conform-ptp")).includes(ip), "address released");
  });

  test("without a CNI config the node is NotReady (NetworkPluginNotReady) and new pods wait; with it they run", async () => {
    const confDir = join(nodeDir("node2"), "cni", "net.d");
    const conf = readdirSync(confDir).find((f) => f.endsWith(".conflist")) ?? "";
    const parked = join(nodeDir("node2"), "cni", `${conf}.parked`);
    renameSync(join(confDir, conf), parked);
    try {
      const ready = await waitFor(
        "node2 NotReady",
        async () => (await core.readNode({ name: "node2" })).status?.conditions?.find((c) => c.type === "Ready" && c.status === "False"),
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      assert.equal(ready.reason, "NetworkPluginNotReady");
      assert.match(ready.message ?? "", /no CNI configuration/);
      // Bypass the scheduler (the node is about to get a not-ready taint) by binding directly.
      await createPod({ metadata: { name: "waits", namespace: NS }, spec: { ...probeSpec("node2"), nodeName: "node2", nodeSelector: {} } });
      const w = await waitPod("PodReadyToStartContainers False", "waits", (x) => cond(x, "PodReadyToStartContainers")?.status === "False");
      assert.equal(cond(w, "PodReadyToStartContainers")?.reason, "NetworkPluginNotReady");
      assert.equal(w.status?.phase, "Pending");
      assert.equal(w.status?.containerStatuses?.[0]?.state?.waiting?.reason, "ContainerCreating");
    } finally {
      renameSync(parked, join(confDir, conf));
    }
    await waitFor("node2 Ready again", async () => ((await core.readNode({ name: "node2" })).status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined), {
      timeoutMs: 15_000,
    });
    await waitPod("Running once the network is ready", "waits", (x) => x.status?.phase === "Running" && cond(x, "Ready")?.status === "True");
  });

  test("a restarted kubelet adopts its pods (same IP, restart counted) and cleans up pods deleted meanwhile", async () => {
    await createPod({ metadata: { name: "doomed", namespace: NS }, spec: probeSpec("node1") });
    const doomed = await waitPod("Ready", "doomed", (x) => cond(x, "Ready")?.status === "True");
    const web1 = await getPod("web1");
    const node = up.state.nodes[0];
    assert.ok(node?.kubeletPid);
    // Stop the kubelet: it stops every container it started.
    process.kill(node.kubeletPid, "SIGTERM");
    await waitFor("kubelet and its containers to stop", async () => (!isAlive(node.kubeletPid ?? 0) && !isAlive(pidOf(web1)) && !isAlive(pidOf(doomed)) ? true : undefined), {
      timeoutMs: 15_000,
    });
    assert.ok(existsSync(`/run/netns/${netnsOf(web1)}`), "the sandbox outlives the kubelet, for adoption");
    // Meanwhile the pod is force-deleted: nobody runs its clean-up but the next kubelet.
    await core.deleteNamespacedPod({ name: "doomed", namespace: NS, gracePeriodSeconds: 0 });
    await gone("doomed");

    // Start it again exactly as the provider does.
    const fd = openSync(logFile(clusterStateDir(name), `kubelet-${node.name}`), "a");
    try {
      node.kubeletPid = spawnDetached(process.execPath, [join(repoRoot, "dist/harness/cluster/local/kubelet/main.js"), "--config", join(nodeDir(node.name), "kubelet.json")], {
        netns: node.netns,
        logFd: fd,
        cwd: nodeDir(node.name),
      });
    } finally {
      closeSync(fd);
    }
    const again = await waitPod(
      "running again under the new kubelet",
      "web1",
      (x) => cond(x, "Ready")?.status === "True" && (x.status?.containerStatuses?.[0]?.restartCount ?? 0) === 1,
      30_000,
    );
    assert.equal(again.status?.podIP, web1.status?.podIP, "the adopted sandbox keeps its IP");
    assert.notEqual(pidOf(again), pidOf(web1));
    assert.ok((await netnsPids(netnsOf(again))).includes(pidOf(again)));
    await waitFor("the force-deleted pod's netns to be cleaned up", async () => (!(await run("ip", ["netns", "list"])).includes(netnsOf(doomed)) ? true : undefined), {
      timeoutMs: 15_000,
    });
    assert.ok(!readdirSync(join(nodeDir("node1"), "cni", "ipam", "conform-ptp")).includes(doomed.status?.podIP ?? ""), "its address was released");
  });
});
