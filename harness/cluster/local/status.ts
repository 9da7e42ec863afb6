import { CoreV1Api } from "@kubernetes/client-node";
import { loadKubeConfig } from "../../kube/client.js";
import { isAlive } from "../../util/processes.js";
import { readState } from "./state.js";
import { kubeconfigPath } from "./up.js";

export interface NodeStatus {
  readonly name: string;
  readonly ip: string;
  readonly podCIDR?: string;
  readonly ready: boolean | "unknown";
  readonly kubelet: boolean;
}

export interface ClusterStatus {
  readonly name: string;
  readonly phase: string;
  readonly server: string;
  readonly kubeconfig: string;
  readonly kubernetesVersion: string;
  readonly components: Readonly<Record<string, boolean>>;
  readonly nodes: readonly NodeStatus[];
  readonly apiReachable: boolean;
}

export async function clusterStatus(name: string): Promise<ClusterStatus | undefined> {
  const state = readState(name);
  if (!state) return undefined;
  const components = Object.fromEntries(Object.entries(state.pids).map(([c, pid]) => [c, isAlive(pid)]));
  let ready = new Map<string, boolean>();
  let apiReachable = false;
  try {
    const core = loadKubeConfig(kubeconfigPath(name)).makeApiClient(CoreV1Api);
    const nodes = await core.listNode({ timeoutSeconds: 5 });
    apiReachable = true;
    ready = new Map(nodes.items.map((n) => [n.metadata?.name ?? "", n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false]));
  } catch {
    // reported as apiReachable: false
  }
  return {
    name,
    phase: state.phase,
    server: state.server,
    kubeconfig: kubeconfigPath(name),
    kubernetesVersion: state.kubernetesVersion,
    components,
    apiReachable,
    nodes: state.nodes.map((n) => ({
      name: n.name,
      ip: n.ip,
      ...(n.podCIDR ? { podCIDR: n.podCIDR } : {}),
      ready: apiReachable ? (ready.get(n.name) ?? false) : "unknown",
      kubelet: n.kubeletPid !== undefined && isAlive(n.kubeletPid),
    })),
  };
}
