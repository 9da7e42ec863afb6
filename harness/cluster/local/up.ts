// Bringing a local cluster up: network namespaces, certificates, the control plane, CRDs, one
// netns kubelet per node, pod routes and the CNI configuration (ptp), or the agent DaemonSet
// (conform), and the world host.
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppsV1Api, CoordinationV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { KubeConfig, V1Node } from "@kubernetes/client-node";
import { applyObjects } from "../../kube/apply.js";
import { installCrds } from "../../kube/crds.js";
import { loadKubeConfig, rawGet } from "../../kube/client.js";
import { spawnDetached } from "../../util/exec.js";
import { isAlive } from "../../util/processes.js";
import { readTail } from "../../util/files.js";
import { StopWaiting, waitFor } from "../../util/wait.js";
import { agentSettings, effectiveRouting } from "./config.js";
import type { LocalClusterConfig } from "./config.js";
import { logFile, startComponent } from "./control-plane.js";
import type { ControlPlaneComponent, ControlPlaneInput } from "./control-plane.js";
import { downCluster } from "./down.js";
import { loadCrds } from "../../../agent/deploy/crds/index.js";
import { netnsNames } from "./names.js";
import { clusterStateDir, kubernetesVersion, repoRoot } from "./paths.js";
import { AGENT_DAEMONSET, AGENT_NAMESPACE, agentDeployObjects, agentLogTail, agentStateDir, MANIFEST_AGENT_STATE_DIR, prepareCniBinDir } from "./node-agent.js";
import { createPki, writeKubeconfig } from "./pki.js";
import { listClusterNames, readState, readStateIfReadable, writeState } from "./state.js";
import type { ClusterState, NodeRecord } from "./state.js";
import { startWorld } from "./world.js";
import {
  apiserverRootIP,
  CONTROL_PLANE_IP,
  cpNetns,
  createControlPlaneNetwork,
  createNode,
  createWorld,
  freeSlot,
  listNetns,
  nodeIP,
  routePodCidrs,
} from "./topology.js";

export interface UpOptions {
  readonly name: string;
  readonly config: LocalClusterConfig;
  /** Progress lines ("etcd and kube-apiserver started", …). */
  readonly log?: (line: string) => void;
  /** Aborts `up` (Ctrl-C); whatever was created is torn down. */
  readonly signal?: AbortSignal;
}

export interface UpResult {
  readonly state: ClusterState;
  readonly kubeconfig: string;
  readonly timings: Readonly<Record<string, number>>;
}

export class ClusterExistsError extends Error {
  constructor(name: string) {
    super(`a local cluster named "${name}" already exists; use it (--keep), or remove it first with: conform cluster down --name ${name}`);
    this.name = "ClusterExistsError";
  }
}

const APISERVER_READY_TIMEOUT_MS = 60_000;
const NODES_READY_TIMEOUT_MS = 60_000;

export const kubeconfigPath = (cluster: string): string => join(clusterStateDir(cluster), "kubeconfig");

export async function upCluster(opts: UpOptions): Promise<UpResult> {
  const { name, config } = opts;
  const log = opts.log ?? (() => undefined);
  if (readState(name) || listNetns().some((n) => n.startsWith(netnsNames.prefix(name)))) throw new ClusterExistsError(name);

  const started = Date.now();
  const timings: Record<string, number> = {};
  const mark = (what: string) => (timings[what] = Date.now() - started);
  const taken = new Set(listClusterNames().map((n) => readStateIfReadable(n)?.slot ?? -1));
  const slot = await freeSlot(taken);
  const stateDir = clusterStateDir(name);
  mkdirSync(join(stateDir, "logs"), { recursive: true });
  const state: ClusterState = {
    name,
    slot,
    config,
    createdAt: new Date().toISOString(),
    phase: "creating",
    server: `https://${apiserverRootIP(slot)}:6443`,
    kubernetesVersion: kubernetesVersion(),
    nodes: Array.from({ length: config.spec.nodes }, (_, i): NodeRecord => {
      const nodeName = `node${i + 1}`;
      return { name: nodeName, index: i + 1, ip: nodeIP(i + 1), netns: netnsNames.node(name, nodeName) };
    }),
    pids: {},
  };
  // Recorded before anything exists, so an interrupted `up` can always be cleaned up by `down`.
  writeState(state);

  const aborted = () => {
    if (opts.signal?.aborted) throw new StopWaiting("interrupted");
  };
  try {
    await createControlPlaneNetwork(name, slot);
    for (const node of state.nodes) await createNode(name, node.name, node.index);
    if (config.spec.world) await createWorld(name);
    mark("network");
    aborted();

    const pki = await createPki(
      join(stateDir, "pki"),
      {
        ips: [CONTROL_PLANE_IP, apiserverRootIP(slot), "127.0.0.1", firstServiceIP(config.spec.serviceCIDR)],
        dns: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"],
      },
      [
        { user: "admin", groups: ["system:masters"] },
        { user: "system:kube-controller-manager", groups: [] },
        { user: "system:kube-scheduler", groups: [] },
        ...state.nodes.map((n) => ({ user: `system:node:${n.name}`, groups: ["system:nodes"] })),
      ],
    );
    const kubeconfigs = {
      admin: kubeconfigPath(name),
      controllerManager: join(stateDir, "pki", "controller-manager.kubeconfig"),
      scheduler: join(stateDir, "pki", "scheduler.kubeconfig"),
    };
    const tokenOf = (user: string) => pki.tokens[user] ?? "";
    writeKubeconfig(kubeconfigs.admin, name, state.server, pki.caCert, "admin", tokenOf("admin"));
    writeKubeconfig(kubeconfigs.controllerManager, name, "https://127.0.0.1:6443", pki.caCert, "system:kube-controller-manager", tokenOf("system:kube-controller-manager"));
    writeKubeconfig(kubeconfigs.scheduler, name, "https://127.0.0.1:6443", pki.caCert, "system:kube-scheduler", tokenOf("system:kube-scheduler"));
    mark("pki");

    const cp: ControlPlaneInput = {
      netns: cpNetns(name),
      stateDir,
      pki,
      podCIDR: config.spec.podCIDR,
      nodeCIDRMaskSize: config.spec.nodeCIDRMaskSize,
      serviceCIDR: config.spec.serviceCIDR,
      kubeconfigs,
    };
    const start = (c: ControlPlaneComponent) => {
      state.pids[c] = startComponent(c, cp);
      writeState(state);
    };
    // The apiserver retries etcd by itself; starting both at once saves a round of waiting.
    start("etcd");
    start("kube-apiserver");
    const kc = loadKubeConfig(kubeconfigs.admin);
    await waitFor(
      "kube-apiserver /readyz",
      async () => {
        aborted();
        assertRunning(state, ["etcd", "kube-apiserver"], stateDir);
        const r = await rawGet(kc, "/readyz", 3000);
        return r.status === 200 ? true : undefined;
      },
      { timeoutMs: APISERVER_READY_TIMEOUT_MS, intervalMs: 200, onTimeout: async () => tailLogs(stateDir, ["kube-apiserver", "etcd"]) },
    );
    mark("apiserver-ready");

    start("kube-controller-manager");
    start("kube-scheduler");
    for (const node of state.nodes) {
      node.kubeletPid = startKubelet(name, node, stateDir, pki.caCert, tokenOf(`system:node:${node.name}`), config);
    }
    writeState(state);
    // CRDs take seconds to be Established; nodes register meanwhile, so wait for both at once.
    const crds = installCrds(kc, loadCrds()).then(() => mark("crds"));
    crds.catch(() => undefined);
    if (config.spec.cni === "conform") {
      // The agents need the CRDs before they can allocate identities; started earlier they would
      // only crash and sit in CrashLoopBackOff.
      await crds;
      await applyObjects(kc, agentDeployObjects({ cluster: name, settings: agentSettings(config) }));
      mark("agent-applied");
    }

    const nodes = await waitForPodCidrs(kc, state, opts.signal);
    for (const n of state.nodes) n.podCIDR = nodes.get(n.name);
    writeState(state);
    await routePodCidrs(
      name,
      state.nodes.map((n) => ({ name: n.name, index: n.index, podCIDR: n.podCIDR ?? "" })),
      { world: config.spec.world, betweenNodes: effectiveRouting(config) === "native" },
    );
    if (config.spec.cni === "ptp") for (const n of state.nodes) writePtpConfig(stateDir, n);
    if (config.spec.world) Object.assign(state.pids, startWorld(name, stateDir));
    writeState(state);
    mark("pod-cidrs");

    if (config.spec.cni === "conform") {
      await waitForAgents(kc, state, opts.signal);
      mark("agents-ready");
    }
    await waitForNodesReady(kc, state, opts.signal);
    await waitForLeaders(kc);
    await crds;
    mark("ready");
    state.phase = "running";
    writeState(state);
    log(`cluster "${name}" is up: ${state.nodes.length} nodes, Kubernetes ${state.kubernetesVersion}, ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return { state, kubeconfig: kubeconfigs.admin, timings };
  } catch (err) {
    log(`cluster "${name}" failed to come up; removing what was created`);
    await downCluster(name);
    throw err;
  }
}

function firstServiceIP(cidr: string): string {
  const [a, b, c, d] = (cidr.split("/")[0] ?? "").split(".").map(Number);
  return [a, b, c, (d ?? 0) + 1].join(".");
}

function assertRunning(state: ClusterState, components: readonly string[], stateDir: string): void {
  for (const c of components) {
    const pid = state.pids[c];
    if (pid !== undefined && !isAlive(pid)) throw new StopWaiting(`${c} exited during start-up; its log:\n${tailLogs(stateDir, [c])}`);
  }
}

function tailLogs(stateDir: string, components: readonly string[]): string {
  return components.map((c) => `--- ${logFile(stateDir, c)} (tail)\n${readTail(logFile(stateDir, c)) || "(empty)"}`).join("\n");
}

function startKubelet(cluster: string, node: NodeRecord, stateDir: string, caCert: string, token: string, config: LocalClusterConfig): number {
  const dir = join(stateDir, "nodes", node.name);
  const cniConfDir = join(dir, "cni", "net.d");
  mkdirSync(cniConfDir, { recursive: true });
  const kubeconfig = join(dir, "kubelet.kubeconfig");
  writeKubeconfig(kubeconfig, cluster, `https://${CONTROL_PLANE_IP}:6443`, caCert, `system:node:${node.name}`, token);
  const cfgFile = join(dir, "kubelet.json");
  writeFileSync(
    cfgFile,
    JSON.stringify(
      {
        cluster,
        nodeName: node.name,
        nodeIP: node.ip,
        kubeconfig,
        stateDir: dir,
        cniBinDir: prepareCniBinDir(stateDir, node.name),
        cniConfDir,
        // The agent DaemonSet's state dir, kept where `conform` tools and tests look for it.
        hostPaths: { [MANIFEST_AGENT_STATE_DIR]: agentStateDir(stateDir, node.name) },
        repoRoot,
        labels: { "conform.dev/node-index": String(node.index), "conform.dev/cni": config.spec.cni },
        kubernetesVersion: kubernetesVersion(),
        maxPods: config.spec.maxPods,
      },
      null,
      2,
    ),
  );
  const fd = openSync(logFile(stateDir, `kubelet-${node.name}`), "a");
  try {
    return spawnDetached(process.execPath, [join(repoRoot, "dist/harness/cluster/local/kubelet/main.js"), "--config", cfgFile], {
      netns: node.netns,
      logFd: fd,
      cwd: dir,
    });
  } finally {
    closeSync(fd);
  }
}

/** The reference ptp + host-local configuration for one node's podCIDR. */
function writePtpConfig(stateDir: string, node: NodeRecord): void {
  const dir = join(stateDir, "nodes", node.name, "cni");
  const conf = {
    cniVersion: "1.0.0",
    name: "conform-ptp",
    plugins: [
      {
        type: "ptp",
        ipMasq: false,
        mtu: 1500,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: node.podCIDR }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: join(dir, "ipam"),
        },
      },
    ],
  };
  writeFileSync(join(dir, "net.d", "10-ptp.conflist"), JSON.stringify(conf, null, 2) + "\n");
}

async function waitForPodCidrs(kc: KubeConfig, state: ClusterState, signal?: AbortSignal): Promise<Map<string, string>> {
  const core = kc.makeApiClient(CoreV1Api);
  return waitFor(
    "every node to be registered with a podCIDR (netns kubelet + controller-manager)",
    async () => {
      if (signal?.aborted) throw new StopWaiting("interrupted");
      const list = await core.listNode();
      const cidrs = new Map(list.items.filter((n) => n.spec?.podCIDR).map((n) => [n.metadata?.name ?? "", n.spec?.podCIDR ?? ""]));
      return state.nodes.every((n) => cidrs.has(n.name)) ? cidrs : undefined;
    },
    { timeoutMs: NODES_READY_TIMEOUT_MS, intervalMs: 200, onTimeout: async () => tailLogs(clusterStateDir(state.name), ["kubelet-node1", "kube-controller-manager"]) },
  );
}

async function waitForNodesReady(kc: KubeConfig, state: ClusterState, signal?: AbortSignal): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  // Ready, and the node-lifecycle controller has lifted the not-ready taint it put on while the
  // node had no CNI config; pods without a toleration would otherwise wait or be evicted.
  const ready = (n: V1Node) =>
    (n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false) &&
    !(n.spec?.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/not-ready") || t.key.startsWith("node.kubernetes.io/unreachable"));
  await waitFor(
    "every node to be Ready and untainted",
    async () => {
      if (signal?.aborted) throw new StopWaiting("interrupted");
      const list = await core.listNode();
      return state.nodes.every((n) => list.items.some((i) => i.metadata?.name === n.name && ready(i))) ? true : undefined;
    },
    { timeoutMs: NODES_READY_TIMEOUT_MS, intervalMs: 200, onTimeout: async () => tailLogs(clusterStateDir(state.name), state.nodes.map((n) => `kubelet-${n.name}`)) },
  );
}

const AGENTS_READY_TIMEOUT_MS = 120_000;

/** The agent DaemonSet has a ready pod on every node (`kubectl -n kube-system get ds` reads n/n/n). */
async function waitForAgents(kc: KubeConfig, state: ClusterState, signal?: AbortSignal): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const want = state.nodes.length;
  await waitFor(
    `the ${AGENT_NAMESPACE}/${AGENT_DAEMONSET} DaemonSet to have a ready agent on each of the ${want} nodes`,
    async () => {
      if (signal?.aborted) throw new StopWaiting("interrupted");
      const ds = await apps.readNamespacedDaemonSet({ name: AGENT_DAEMONSET, namespace: AGENT_NAMESPACE });
      const s = ds.status;
      const current = (ds.metadata?.generation ?? 0) <= (s?.observedGeneration ?? -1);
      return current && s?.desiredNumberScheduled === want && s.numberReady === want && s.updatedNumberScheduled === want ? true : undefined;
    },
    {
      timeoutMs: AGENTS_READY_TIMEOUT_MS,
      intervalMs: 250,
      onTimeout: async () => [...state.nodes.map((n) => agentLogTail(clusterStateDir(state.name), n.name)), tailLogs(clusterStateDir(state.name), state.nodes.map((n) => `kubelet-${n.name}`))].join("\n"),
    },
  );
}

/** The controller-manager and scheduler are working once they hold their leader leases. */
async function waitForLeaders(kc: KubeConfig): Promise<void> {
  const coord = kc.makeApiClient(CoordinationV1Api);
  for (const name of ["kube-controller-manager", "kube-scheduler"]) {
    await waitFor(
      `${name} to acquire its leader lease`,
      async () => ((await coord.readNamespacedLease({ name, namespace: "kube-system" })).spec?.holderIdentity ? true : undefined),
      { timeoutMs: NODES_READY_TIMEOUT_MS, intervalMs: 250 },
    );
  }
}
