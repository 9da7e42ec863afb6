// The local provider behind `conform run --cluster local`: nodes and pods are network namespaces
// on this machine. Without --keep it creates a fresh cluster and removes it at the end; with
// --keep it reuses a healthy running cluster of that name (or creates one) and leaves it running.
import { readFileSync } from "node:fs";
import { release as kernelRelease } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfig } from "../../kube/client.js";
import { NetnsProbeExecutor } from "../../probe/netns-executor.js";
import type { ProbePod } from "../../probe/executor.js";
import { canonicalJson } from "../../spec/manifests.js";
import { kubernetesVersion } from "../existing/cluster-facts.js";
import type { AcquireOptions, ClusterHandle, ClusterProvider, RunnerCapabilities } from "../provider.js";
import { ClusterProviderError } from "../provider.js";
import { agentAddresses, AgentConvergence, AgentFlowSource, kubePolicyLister } from "./agent-flows.js";
import { defaultLocalConfig, effectiveRouting, loadLocalConfig } from "./config.js";
import type { LocalClusterConfig } from "./config.js";
import { downCluster } from "./down.js";
import { CLUSTER_NAME_RE, netnsNames } from "./names.js";
import { repoRoot } from "./paths.js";
import { readState } from "./state.js";
import type { ClusterState } from "./state.js";
import { clusterStatus } from "./status.js";
import { listNetns, WORLD_HOSTS } from "./topology.js";
import { kubeconfigPath, upCluster } from "./up.js";
import { WORLD_PORTS, WORLD_ZONE } from "./world.js";

export const DEFAULT_LOCAL_NAME = "conform";

/** What a local cluster built from `config` can do. */
export function localCapabilities(config: LocalClusterConfig): RunnerCapabilities {
  const agent = config.spec.cni === "conform";
  return {
    nodes: config.spec.nodes,
    routingMode: effectiveRouting(config),
    encryption: "none",
    kubeProxyReplacement: agent,
    policyEnforcement: agent,
    serviceLoadBalancing: agent,
    world: config.spec.world,
  };
}

/** Why a recorded cluster cannot be reused, or undefined when it is healthy. */
async function unhealthyReason(name: string): Promise<string | undefined> {
  const status = await clusterStatus(name);
  if (!status) return "it has no state";
  if (status.phase !== "running") return `it is still in phase "${status.phase}" (an interrupted up?)`;
  if (!status.apiReachable) return "its API server does not answer";
  const dead = Object.entries(status.components).filter(([, up]) => !up).map(([c]) => c);
  if (dead.length > 0) return `${dead.join(", ")} ${dead.length === 1 ? "is" : "are"} not running`;
  const bad = status.nodes.filter((n) => n.ready !== true || !n.kubelet).map((n) => n.name);
  if (bad.length > 0) return `node${bad.length === 1 ? "" : "s"} ${bad.join(", ")} ${bad.length === 1 ? "is" : "are"} not ready`;
  return undefined;
}

export class LocalProvider implements ClusterProvider {
  readonly name = "local" as const;

  async acquire(options: AcquireOptions): Promise<ClusterHandle> {
    const fileConfig = options.config ? loadLocalConfig(options.config) : defaultLocalConfig();
    const name = options.name ?? fileConfig.metadata.name ?? DEFAULT_LOCAL_NAME;
    if (!CLUSTER_NAME_RE.test(name)) throw new ClusterProviderError(`--name ${JSON.stringify(name)}: lower-case letters, digits and '-', at most 32 characters`);
    const config: LocalClusterConfig = { ...fileConfig, metadata: { name } };

    let state = readState(name);
    let created = false;
    if (state) {
      if (!options.keep) {
        throw new ClusterProviderError(`a local cluster named "${name}" already exists; reuse it with --keep, or remove it first with: conform cluster down --name ${name}`);
      }
      const why = await unhealthyReason(name);
      if (why) throw new ClusterProviderError(`local cluster "${name}" exists but cannot be reused: ${why}; remove it with: conform cluster down --name ${name}`);
      if (options.config && canonicalJson(state.config.spec) !== canonicalJson(config.spec)) {
        throw new ClusterProviderError(`local cluster "${name}" is running with another configuration than ${options.config}; remove it (conform cluster down --name ${name}) or pick another --name`);
      }
      options.log?.(`reusing local cluster "${name}"`);
    } else {
      if (listNetns().some((n) => n.startsWith(netnsNames.prefix(name)))) {
        throw new ClusterProviderError(`network namespaces of a local cluster "${name}" exist without its state; sweep them with: conform cluster down --name ${name}`);
      }
      options.log?.(`creating local cluster "${name}"…`);
      state = (await upCluster({ name, config, ...(options.signal ? { signal: options.signal } : {}), ...(options.log ? { log: options.log } : {}) })).state;
      created = true;
    }
    try {
      return await this.handleFor(state, created, options);
    } catch (err) {
      if (created && !options.keep) await downCluster(name);
      throw err;
    }
  }

  async release(handle: ClusterHandle): Promise<void> {
    if (handle.created && !handle.keep) await downCluster(handle.name);
  }

  private async handleFor(state: ClusterState, created: boolean, options: AcquireOptions): Promise<ClusterHandle> {
    const name = state.name;
    const path = kubeconfigPath(name);
    const kc = loadKubeConfig(path);
    const core = kc.makeApiClient(CoreV1Api);
    const config = state.config;
    const agent = config.spec.cni === "conform";
    // Pods are network namespaces named by UID; hostNetwork pods run in their node's namespace.
    const resolveNetns = async (pod: ProbePod): Promise<string> => {
      const live = await core.readNamespacedPod({ name: pod.name, namespace: pod.namespace });
      const uid = live.metadata?.uid;
      if (!uid) throw new Error(`pod ${pod.namespace}/${pod.name} has no UID`);
      if (pod.uid && pod.uid !== uid) throw new Error(`pod ${pod.namespace}/${pod.name} was re-created (UID ${uid}, expected ${pod.uid})`);
      const netns = live.spec?.hostNetwork ? netnsNames.node(name, live.spec.nodeName ?? "") : netnsNames.pod(name, uid);
      if (!listNetns().includes(netns)) throw new Error(`network namespace ${netns} of pod ${pod.namespace}/${pod.name} does not exist (is the pod running?)`);
      return netns;
    };
    return {
      provider: "local",
      name,
      kubeconfigPath: path,
      kubeConfig: kc,
      nodes: state.nodes.map((n) => ({ index: n.index, name: n.name, address: n.ip })),
      capabilities: localCapabilities(config),
      versions: {
        kubernetes: await kubernetesVersion(kc).catch(() => state.kubernetesVersion),
        // Nodes are namespaces of this machine: they run this kernel.
        kernel: kernelRelease(),
        ...(agent ? { agent: conformVersion() } : {}),
      },
      probeExecutor: new NetnsProbeExecutor({ resolveNetns }),
      ...(agent ? agentServices(name, state, kc) : {}),
      ...(config.spec.world ? { world: { dnsServer: `${WORLD_HOSTS.dns}:${WORLD_PORTS.dns}`, dnsProbeName: `world.${WORLD_ZONE}` } } : {}),
      audit: options.audit ?? false,
      created,
      keep: options.keep,
    };
  }
}

/** Flows and policy convergence from every node's agent (unix socket per node). */
function agentServices(name: string, state: ClusterState, kc: KubeConfig): Pick<ClusterHandle, "flowSource" | "convergence"> {
  const agents = agentAddresses(name, state.nodes.map((n) => n.name));
  return { flowSource: new AgentFlowSource(agents), convergence: new AgentConvergence(agents, kubePolicyLister(kc)) };
}

/** The bundled agent is built from this checkout, so it carries the package version. */
function conformVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
}
