/**
 * The label set that forms a pod's security identity (policy-semantics.md §2.2). Everything is
 * `k8s:`-sourced. Two pods with the same set share one identity, so labels that differ per
 * replica (pod-template-hash, statefulset pod name, …) are filtered out: keeping them would
 * give every pod its own identity and defeat identity-based policy.
 */
import type { Labels } from "./labels.js";
import { LABEL_SOURCES, labelKey } from "./labels.js";

export const K8S_LABEL = {
  podNamespace: "io.kubernetes.pod.namespace",
  serviceAccount: "io.cilium.k8s.policy.serviceaccount",
  cluster: "io.cilium.k8s.policy.cluster",
  namespaceLabelPrefix: "io.cilium.k8s.namespace.labels.",
} as const;

export const DEFAULT_CLUSTER_NAME = "default";

/** Minimal pod shape; a `V1Pod` from @kubernetes/client-node satisfies it. */
export interface PodLike {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec?: { readonly serviceAccountName?: string; readonly serviceAccount?: string };
}

/** Minimal namespace shape; a `V1Namespace` satisfies it. */
export interface NamespaceLike {
  readonly metadata?: { readonly name?: string; readonly labels?: Readonly<Record<string, string>> };
}

export interface IdentityLabelOptions {
  /** Local cluster name (`io.cilium.k8s.policy.cluster`). Default `default`, as in Cilium. */
  readonly clusterName?: string;
}

const DROPPED_EXACT = new Set([
  "statefulset.kubernetes.io/pod-name",
  "apps.kubernetes.io/pod-index",
  "batch.kubernetes.io/job-completion-index",
  "batch.kubernetes.io/controller-uid",
  "controller-uid",
  "pod-template-hash",
  "pod-template-generation",
  "controller-revision-hash",
  "etcd_node",
]);
const DROPPED_PREFIXES = ["io.kubernetes.", "kubernetes.io/", "k8s.io", "topology.kubernetes.io", "annotation."];

/** Whether a pod label is part of the identity (Cilium's default identity-label filter). */
export function isIdentityRelevantPodLabel(key: string): boolean {
  if (DROPPED_EXACT.has(key)) return false;
  if (DROPPED_PREFIXES.some((p) => key.startsWith(p))) return false;
  if (key.includes("beta.kubernetes.io")) return false;
  return true;
}

/**
 * identityLabels(pod, namespace) → the pod's identity label set, keys `k8s:…`. The namespace
 * argument supplies the namespace labels; when it is missing the namespace name still comes
 * from the pod. The service account defaults to `default` as the API server defaults it.
 */
export function identityLabels(pod: PodLike, namespace?: NamespaceLike, options: IdentityLabelOptions = {}): Labels {
  const out: Record<string, string> = {};
  const put = (key: string, value: string): void => {
    out[labelKey(LABEL_SOURCES.k8s, key)] = value;
  };
  for (const [key, value] of Object.entries(pod.metadata?.labels ?? {})) {
    if (isIdentityRelevantPodLabel(key)) put(key, value);
  }
  const nsName = pod.metadata?.namespace ?? namespace?.metadata?.name ?? "default";
  put(K8S_LABEL.podNamespace, nsName);
  put(K8S_LABEL.serviceAccount, pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount ?? "default");
  put(K8S_LABEL.cluster, options.clusterName ?? DEFAULT_CLUSTER_NAME);
  for (const [key, value] of Object.entries(namespace?.metadata?.labels ?? {})) {
    put(K8S_LABEL.namespaceLabelPrefix + key, value);
  }
  return out;
}
