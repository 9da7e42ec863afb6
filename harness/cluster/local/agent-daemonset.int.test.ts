// The agent as users deploy it: on a `cni: conform` local cluster the provider applies
// agent/deploy/ and the netns kubelets run the kube-system/conform-agent DaemonSet pods with host
// networking. Checked from the outside: the DaemonSet's counts, each pod's node and network, the
// projected service-account token (read from the running agent's own mount namespace) as the
// API server sees it, hostPath mounts that only the container sees, policy enforced across nodes,
// and an agent restart done by the kubelet with pinned maps kept.
import { after, before, describe, test } from "node:test";
import { conformCli, upTestCluster } from "./testing/cluster.js";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { AppsV1Api, AuthenticationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import type { V1Pod } from "@kubernetes/client-node";
import { POLICY_STATUS_FILE } from "../../../agent/agent.js";
import type { PolicySyncStatus } from "../../../agent/sync/policy-sync.js";
import { NetnsProbeExecutor } from "../../probe/netns-executor.js";
import { waitFor } from "../../util/wait.js";
import { execCapture } from "./kubelet/exec.js";
import { podPaths } from "./kubelet/paths.js";
import { normalizeNodePath } from "./kubelet/volumes/host-path.js";
import { linkNames, netnsNames } from "./names.js";
import { AGENT_DAEMONSET, AGENT_NAMESPACE, agentLogTail, agentPinDir, agentStateDir, nodeDir, removeAgentPins } from "./node-agent.js";
import { clusterStateDir } from "./paths.js";
import type { NodeRecord } from "./state.js";
import { listNetns, rootLinks } from "./topology.js";

const name = `ds${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "cft-ds-int-"));
const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const CNP = { group: "cilium.io", version: "v2", plural: "ciliumnetworkpolicies" } as const;

const conform = (args: string[]) => conformCli(args);

describe("the agent DaemonSet on a cni: conform local cluster", { timeout: 480_000 }, () => {
  let kc: KubeConfig;
  let core: CoreV1Api;
  let nodes: NodeRecord[];
  const stateDir = clusterStateDir(name);
  const pods = new Map<string, V1Pod>();
  const probes = new NetnsProbeExecutor({ resolveNetns: (p) => netnsNames.pod(name, pods.get(p.name)?.metadata?.uid ?? "") });
  const logs = async () => nodes.map((n) => agentLogTail(stateDir, n.name)).join("\n");

  before(async () => {
    // No world host: not needed here, and one netns fewer on a shared machine.
    ({ nodes, kc } = await upTestCluster(name, dir, { nodes: 2, world: false }));
    core = kc.makeApiClient(CoreV1Api);
  });

  after(async () => {
    await conform(["cluster", "down", "--name", name]).catch((err: unknown) => console.error(String(err)));
    removeAgentPins(name);
    rmSync(dir, { recursive: true, force: true });
  });

  const agentPods = async (): Promise<V1Pod[]> => (await core.listNamespacedPod({ namespace: AGENT_NAMESPACE, labelSelector: "app.kubernetes.io/name=conform-agent" })).items;
  const ready = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
  /** The PID of a pod's container, from the kubelet's pid file. */
  const containerPid = (pod: V1Pod, container: string): number => {
    const node = nodes.find((n) => n.name === pod.spec?.nodeName)!;
    const podDir = podPaths.dir(nodeDir(stateDir, node.name), { namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, uid: pod.metadata!.uid! });
    return (JSON.parse(readFileSync(podPaths.containerPidFile(podDir, container), "utf8")) as { pid: number }).pid;
  };
  /**
   * A path as the process sees it: /proc/<pid>/root resolves through its mount namespace (but an
   * absolute symlink such as /var/run → /run would resolve in ours, hence the normalisation).
   */
  const inContainer = (pid: number, path: string) => join(`/proc/${pid}/root`, normalizeNodePath(path));

  test("kubectl -n kube-system get ds: desired = current = ready = up-to-date = nodes", async () => {
    const ds = await kc.makeApiClient(AppsV1Api).readNamespacedDaemonSet({ name: AGENT_DAEMONSET, namespace: AGENT_NAMESPACE });
    const s = ds.status!;
    assert.deepEqual(
      [s.desiredNumberScheduled, s.currentNumberScheduled, s.numberReady, s.updatedNumberScheduled, s.numberAvailable],
      [nodes.length, nodes.length, nodes.length, nodes.length, nodes.length],
    );
    assert.equal(ds.spec?.template.spec?.hostNetwork, true);
    assert.match(ds.spec?.template.spec?.containers[0]?.image ?? "", /^conform\/agent:\d+\.\d+\.\d+/);
  });

  test("one Running, ready, hostNetwork agent pod per node, in the node's netns with the node's address", async () => {
    const list = await agentPods();
    assert.deepEqual(list.map((p) => p.spec?.nodeName).sort(), nodes.map((n) => n.name).sort());
    for (const p of list) {
      const node = nodes.find((n) => n.name === p.spec?.nodeName)!;
      assert.equal(p.spec?.hostNetwork, true);
      assert.equal(p.status?.phase, "Running");
      assert.ok(ready(p), `${p.metadata?.name} is Ready`);
      assert.equal(p.status?.podIP, node.ip);
      assert.equal(p.spec?.priorityClassName, "system-node-critical");
      const pid = containerPid(p, "agent");
      const ns = await execCapture("ip", ["netns", "identify", String(pid)], { timeoutMs: 5000 });
      assert.equal(ns.stdout.trim(), node.netns, "the agent process runs in its node's network namespace");
    }
    // Nodes turn Ready once their agent has written the CNI config.
    for (const n of (await core.listNode()).items) assert.ok(n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"), n.metadata?.name);
  });

  test("the projected token in the agent's own mount namespace authenticates as the conform-agent ServiceAccount", async () => {
    for (const p of await agentPods()) {
      const pid = containerPid(p, "agent");
      const token = readFileSync(inContainer(pid, `${SA_DIR}/token`), "utf8");
      assert.equal(readFileSync(inContainer(pid, `${SA_DIR}/namespace`), "utf8"), "kube-system");
      const admin = kc.getCurrentCluster()!;
      const asAgent = new KubeConfig();
      asAgent.loadFromClusterAndUser({ name: "c", server: admin.server, caData: Buffer.from(readFileSync(inContainer(pid, `${SA_DIR}/ca.crt`))).toString("base64"), skipTLSVerify: false }, { name: "agent", token });
      const review = await asAgent.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
      assert.equal(review.status?.userInfo?.username, "system:serviceaccount:kube-system:conform-agent");
      // Bound to this pod: the API server records which pod and node the token was issued for.
      assert.deepEqual(review.status?.userInfo?.extra?.["authentication.kubernetes.io/pod-name"], [p.metadata?.name]);
      assert.deepEqual(review.status?.userInfo?.extra?.["authentication.kubernetes.io/node-name"], [p.spec?.nodeName]);
      // Not visible outside the container: the machine's path is only a mount point.
      assert.equal(existsSync(`${SA_DIR}/token`), false, "the token is not on the machine's own path");
    }
  });

  test("hostPath volumes: the container sees its node's CNI and state dirs at the real paths, the machine does not", async () => {
    for (const p of await agentPods()) {
      const pid = containerPid(p, "agent");
      const node = p.spec!.nodeName!;
      const conflist = readFileSync(inContainer(pid, "/etc/cni/net.d/05-conform.conflist"), "utf8");
      assert.equal(conflist, readFileSync(join(nodeDir(stateDir, node), "cni", "net.d", "05-conform.conflist"), "utf8"), "/etc/cni/net.d is the node's CNI config dir");
      assert.equal(existsSync("/etc/cni/net.d/05-conform.conflist"), false, "the bind stays inside the container");
      assert.ok(statSync(inContainer(pid, "/opt/cni/bin/conform-cni")).isFile(), "the agent installed its plugin through /opt/cni/bin");
      const status = JSON.parse(readFileSync(inContainer(pid, `/var/lib/conform/${POLICY_STATUS_FILE}`), "utf8")) as PolicySyncStatus;
      assert.deepEqual(status, JSON.parse(readFileSync(join(agentStateDir(stateDir, node), POLICY_STATUS_FILE), "utf8")));
      // bpffs is the machine's own: the pins the container made are where the harness reads them.
      assert.ok(readdirSync(inContainer(pid, join(agentPinDir(name), node))).length > 0);
      assert.ok(readdirSync(join(agentPinDir(name), node)).length > 0);
    }
  });

  test("automountServiceAccountToken: false gets no token; a regular pod gets its own", async () => {
    await core.createNamespace({ body: { metadata: { name: "shop" } } });
    await waitFor("default ServiceAccount in shop", async () => ((await core.listNamespacedServiceAccount({ namespace: "shop" })).items.length ? true : undefined), { timeoutMs: 30_000 });
    const place: Array<[string, string, boolean]> = [
      ["frontend", nodes[0]!.name, true],
      ["backend", nodes[1]!.name, true],
      ["stranger", nodes[0]!.name, false],
    ];
    for (const [pod, node, automount] of place) {
      await core.createNamespacedPod({
        namespace: "shop",
        body: {
          metadata: { name: pod, labels: { app: pod } },
          spec: {
            nodeName: node,
            automountServiceAccountToken: automount,
            containers: [{ name: "probe", image: "conform/probe:v1", args: ["serve", "--http", "8080", "--tcp", "9000"] }],
          },
        },
      });
    }
    for (const [pod] of place) {
      pods.set(
        pod,
        await waitFor(`pod shop/${pod} Ready`, async () => {
          const p = await core.readNamespacedPod({ namespace: "shop", name: pod });
          return ready(p) && p.status?.podIP ? p : undefined;
        }, { timeoutMs: 90_000, intervalMs: 250, onTimeout: logs }),
      );
    }
    const withToken = containerPid(pods.get("frontend")!, "probe");
    const without = containerPid(pods.get("stranger")!, "probe");
    assert.equal(readFileSync(inContainer(withToken, `${SA_DIR}/namespace`), "utf8"), "shop");
    assert.ok(readFileSync(inContainer(withToken, `${SA_DIR}/token`), "utf8").length > 100);
    assert.equal(existsSync(inContainer(without, `${SA_DIR}/token`)), false);
  });

  const statusOf = (node: NodeRecord): PolicySyncStatus => JSON.parse(readFileSync(join(agentStateDir(stateDir, node.name), POLICY_STATUS_FILE), "utf8")) as PolicySyncStatus;
  async function waitRealized(key: string, rv: string | null): Promise<void> {
    await waitFor(
      `every agent to realise ${key}=${rv}`,
      async () => (nodes.every((n) => (statusOf(n).policies[key] ?? null) === rv && Object.values(statusOf(n).endpoints).every((e) => e.revision === statusOf(n).revision)) ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 100, onTimeout: logs },
    );
  }
  async function expectOutcomes(cases: Array<[string, string, number, "ALLOWED" | "TIMEOUT"]>): Promise<void> {
    const got = await Promise.all(
      cases.map(async ([from, to, port]) => {
        const [r] = await probes.runBatch({ namespace: "shop", name: from }, [{ kind: "tcp", id: `${from}-${to}-${port}`, host: pods.get(to)!.status!.podIP!, port, timeoutMs: 1500 }]);
        return r!.outcome;
      }),
    );
    assert.deepEqual(
      got.map((o, i) => `${cases[i]![0]}→${cases[i]![1]}:${cases[i]![2]} ${o}`),
      cases.map(([f, t, p, o]) => `${f}→${t}:${p} ${o}`),
    );
  }

  test("a CNP admits frontend and drops stranger across nodes", async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const created = (await custom.createNamespacedCustomObject({
      ...CNP,
      namespace: "shop",
      body: {
        apiVersion: "cilium.io/v2",
        kind: "CiliumNetworkPolicy",
        metadata: { name: "backend-from-frontend" },
        spec: { endpointSelector: { matchLabels: { app: "backend" } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: "frontend" } }], toPorts: [{ ports: [{ port: "8080", protocol: "TCP" }] }] }] },
      },
    })) as { metadata: { resourceVersion: string } };
    await waitRealized("CiliumNetworkPolicy/shop/backend-from-frontend", created.metadata.resourceVersion);
    await expectOutcomes([
      ["frontend", "backend", 8080, "ALLOWED"],
      ["frontend", "backend", 9000, "TIMEOUT"],
      ["stranger", "backend", 8080, "TIMEOUT"],
      ["backend", "stranger", 9000, "ALLOWED"],
    ]);
  });

  test("a killed agent is restarted by its kubelet; an established connection, pinned maps and the policy survive", async () => {
    const before = (await agentPods()).find((p) => p.spec?.nodeName === nodes[1]!.name)!;
    const pid = containerPid(before, "agent");
    const pinDir = join(agentPinDir(name), nodes[1]!.name);
    const pinned = new Map(readdirSync(pinDir).map((f) => [f, statSync(join(pinDir, f)).ino]));
    // An allowed connection (frontend on node 1 → backend's TCP echo on node 2, whose agent is the
    // one killed) that keeps exchanging numbered lines the whole time.
    const custom = kc.makeApiClient(CustomObjectsApi);
    const echoAllowed = (await custom.createNamespacedCustomObject({
      ...CNP,
      namespace: "shop",
      body: {
        apiVersion: "cilium.io/v2",
        kind: "CiliumNetworkPolicy",
        metadata: { name: "backend-echo-from-frontend" },
        spec: { endpointSelector: { matchLabels: { app: "backend" } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: "frontend" } }], toPorts: [{ ports: [{ port: "9000", protocol: "TCP" }] }] }] },
      },
    })) as { metadata: { resourceVersion: string } };
    await waitRealized("CiliumNetworkPolicy/shop/backend-echo-from-frontend", echoAllowed.metadata.resourceVersion);
    const stream = startEchoStream(netnsNames.pod(name, pods.get("frontend")!.metadata!.uid!), pods.get("backend")!.status!.podIP!, 9000);
    try {
      await stream.echoed(20);
      process.kill(pid, "SIGKILL");
      // While no agent runs on node 2, its datapath still enforces: the stranger stays out, the
      // connection keeps flowing.
      const whileDown = await probes.runBatch({ namespace: "shop", name: "stranger" }, [{ kind: "tcp", id: "gap", host: pods.get("backend")!.status!.podIP!, port: 9000, timeoutMs: 1500 }]);
      const atGap = stream.count();
      const after = await waitFor(
        "the agent container restarted and Ready again",
        async () => {
          const p = await core.readNamespacedPod({ namespace: AGENT_NAMESPACE, name: before.metadata!.name! });
          return (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 && ready(p) ? p : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, onTimeout: logs },
      );
      assert.equal(whileDown[0]?.outcome, "TIMEOUT", "the stranger was dropped while the agent was down");
      assert.equal(after.metadata?.uid, before.metadata?.uid, "the same pod, its container restarted (restartPolicy Always)");
      assert.notEqual(containerPid(after, "agent"), pid);
      for (const [f, ino] of pinned) assert.equal(statSync(join(pinDir, f)).ino, ino, `pinned ${f} kept across the restart`);
      // The restarted agent resynced (it is Ready only once policy is in force) and the
      // connection is still the same one, still answering.
      await stream.echoed(stream.count() + 20);
      const result = await stream.stop();
      assert.equal(result.error, undefined, `the established connection survived: ${result.error}`);
      assert.equal(result.closed, false, "the connection was never closed or reset");
      assert.ok(result.echoed > atGap, "lines were echoed after the restart");
      assert.equal(result.echoed, result.sent, "every line sent was echoed back, in order");
    } finally {
      await stream.stop();
    }
    await expectOutcomes([
      ["frontend", "backend", 8080, "ALLOWED"],
      ["stranger", "backend", 8080, "TIMEOUT"],
    ]);
  });

  test("cluster down leaves no process, netns, mount or pin", async () => {
    const agentPids = (await agentPods()).map((p) => containerPid(p, "agent"));
    await conform(["cluster", "down", "--name", name]);
    for (const pid of agentPids) assert.equal(existsSync(`/proc/${pid}`), false, `agent ${pid} is gone`);
    assert.deepEqual(listNetns().filter((n) => n.startsWith(netnsNames.prefix(name))), []);
    assert.deepEqual(await rootLinks(linkNames.prefix(name)), []);
    assert.equal(existsSync(agentPinDir(name)), false);
    assert.equal(readFileSync("/proc/self/mountinfo", "utf8").includes(`/${name}/`), false, "no mount of the cluster's state dir left");
  });
});

interface EchoStreamResult {
  sent: number;
  echoed: number;
  closed: boolean;
  error?: string;
}

/**
 * A client in the pod's netns that sends a numbered line every 50 ms over one TCP connection and
 * checks each echo comes back in order; it reports `echoed N` lines on stdout and a JSON summary
 * when stdin closes. The client is a child of this test, started with nsenter (no pod process).
 */
function startEchoStream(netns: string, host: string, port: number): { count(): number; echoed(n: number): Promise<void>; stop(): Promise<EchoStreamResult> } {
  const script = `
    const net = require("node:net");
    let sent = 0, echoed = 0, closed = false, error, buf = "";
    const s = net.connect({ host: ${JSON.stringify(host)}, port: ${port} });
    s.setNoDelay(true);
    const tick = setInterval(() => { if (!closed) s.write(String(++sent) + "\\n"); }, 50);
    s.on("data", (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\\n")) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        if (Number(line) !== echoed + 1) error = "out of order: got " + line + " after " + echoed;
        echoed++;
        process.stdout.write("echoed " + echoed + "\\n");
      }
    });
    s.on("error", (e) => { error = e.message; });
    s.on("close", () => { closed = true; });
    process.stdin.on("data", () => undefined);
    process.stdin.on("end", () => {
      clearInterval(tick);
      setTimeout(() => { process.stdout.write("RESULT " + JSON.stringify({ sent, echoed, closed, error }) + "\\n"); s.destroy(); process.exit(0); }, 300);
    });
  `;
  const child = spawn("nsenter", [`--net=/run/netns/${netns}`, "--", process.execPath, "-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  let echoed = 0;
  let result: EchoStreamResult | undefined;
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    let i;
    while ((i = out.indexOf("\n")) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      if (line.startsWith("echoed ")) echoed = Number(line.slice(7));
      else if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7)) as EchoStreamResult;
    }
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  let stopping: Promise<EchoStreamResult> | undefined;
  return {
    count: () => echoed,
    echoed: async (n) => {
      await waitFor(
        `${n} lines echoed over the long-lived connection`,
        async () => {
          if (result) throw new Error(`the stream ended: ${JSON.stringify(result)}`);
          return echoed >= n ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
    },
    stop: () =>
      (stopping ??= (async () => {
        child.stdin.end();
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
        return result ?? { sent: 0, echoed, closed: true, error: "the stream client gave no result" };
      })()),
  };
}
