// What any provider can learn about a cluster from its API alone: nodes in index order, the
// Kubernetes and kernel versions, the conform agent's version, whether kube-proxy runs.
import { AppsV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { KubeConfig, V1Node } from "@kubernetes/client-node";
import { rawGet } from "../../kube/client.js";
import { NODE_INDEX_LABEL } from "../../spec/fixtures.js";
import type { ClusterNode } from "../provider.js";

/** Label of the conform agent's pods (DaemonSet on kind/existing clusters). */
export const AGENT_POD_LABEL = "app.kubernetes.io/name=conform-agent";

function internalIP(node: V1Node): string {
  const addresses = node.status?.addresses ?? [];
  return addresses.find((a) => a.type === "InternalIP")?.address ?? addresses[0]?.address ?? "";
}

function schedulable(node: V1Node): boolean {
  if (node.spec?.unschedulable) return false;
  return !(node.spec?.taints ?? []).some((t) => t.effect === "NoSchedule" || t.effect === "NoExecute");
}

/**
 * Nodes by index: nodes labelled `conform.dev/node-index` in label order; without such labels,
 * the schedulable nodes by name (kind names its workers `<name>-worker`, `<name>-worker2`, …).
 */
export function orderNodes(nodes: readonly V1Node[]): ClusterNode[] {
  const labelled = nodes
    .map((n) => ({ n, index: Number(n.metadata?.labels?.[NODE_INDEX_LABEL]) }))
    .filter((x) => Number.isInteger(x.index) && x.index >= 1)
    .sort((a, b) => a.index - b.index);
  if (labelled.length > 0) return labelled.map(({ n }, i) => ({ index: i + 1, name: n.metadata?.name ?? "", address: internalIP(n) }));
  const names = (n: V1Node) => n.metadata?.name ?? "";
  // Natural order, so worker10 sorts after worker9.
  const usable = nodes.filter(schedulable).sort((a, b) => names(a).localeCompare(names(b), "en", { numeric: true }));
  return usable.map((n, i) => ({ index: i + 1, name: names(n), address: internalIP(n) }));
}

export async function discoverNodes(kc: KubeConfig): Promise<{ nodes: ClusterNode[]; kernel: string }> {
  const list = await kc.makeApiClient(CoreV1Api).listNode();
  const nodes = orderNodes(list.items);
  const first = list.items.find((n) => n.metadata?.name === nodes[0]?.name) ?? list.items[0];
  return { nodes, kernel: first?.status?.nodeInfo?.kernelVersion ?? "unknown" };
}

export async function kubernetesVersion(kc: KubeConfig): Promise<string> {
  const r = await rawGet(kc, "/version", 5000);
  if (r.status !== 200) throw new Error(`GET /version answered ${r.status}`);
  return (JSON.parse(r.body) as { gitVersion?: string }).gitVersion ?? "unknown";
}

/** The image tag of the first conform agent pod, when an agent DaemonSet runs. */
export async function agentVersion(kc: KubeConfig): Promise<string | undefined> {
  const pods = await kc.makeApiClient(CoreV1Api).listPodForAllNamespaces({ labelSelector: AGENT_POD_LABEL, limit: 1 });
  const image = pods.items[0]?.spec?.containers[0]?.image;
  if (!image) return undefined;
  const tag = /:([^:/@]+)$/.exec(image.split("@")[0] ?? "")?.[1];
  return tag ?? image;
}

/** kube-proxy runs as the DaemonSet kubeadm (and kind) installs. */
export async function runsKubeProxy(kc: KubeConfig): Promise<boolean> {
  try {
    await kc.makeApiClient(AppsV1Api).readNamespacedDaemonSet({ name: "kube-proxy", namespace: "kube-system" });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return false;
    throw err;
  }
}
