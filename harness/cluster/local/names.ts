// Every kernel object the local provider creates carries the cluster name, so two clusters can
// coexist and a crash sweep can find leftovers by prefix. Interface names are limited to 15
// bytes (IFNAMSIZ - 1), so link names use a short hash of the cluster name instead of the name.
import { createHash } from "node:crypto";

export const NAME_PREFIX = "cf";

/** Cluster names: DNS-label-like, short enough to appear inside netns and state dir names. */
export const CLUSTER_NAME_RE = /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/;

/** 4 hex chars identifying a cluster inside 15-byte interface names. */
export function clusterTag(cluster: string): string {
  return createHash("sha256").update(cluster).digest("hex").slice(0, 4);
}

export const netnsNames = {
  node: (cluster: string, node: string) => `${NAME_PREFIX}-${cluster}_${node}`,
  world: (cluster: string) => `${NAME_PREFIX}-${cluster}_world`,
  controlPlane: (cluster: string) => `${NAME_PREFIX}-${cluster}_cp`,
  /** Pods are keyed by UID so a re-created pod of the same name never reuses a stale netns. */
  pod: (cluster: string, podUid: string) => `${NAME_PREFIX}-${cluster}_pod-${podUid.slice(0, 13)}`,
  /**
   * A node agent's health endpoint (Cilium's cilium-health). Created by the agent, not the
   * provider; the cluster prefix lets `cluster down` and the leftover sweep remove it with the rest.
   */
  health: (cluster: string, node: string) => `${NAME_PREFIX}-${cluster}_health-${node}`,
  /** `_` cannot occur in a cluster name, so cluster "dev" never matches "dev-2"'s namespaces. */
  prefix: (cluster: string) => `${NAME_PREFIX}-${cluster}_`,
} as const;

export const linkNames = {
  /** Root-netns end of the veth to the control-plane netns (the only link a cluster puts in root). */
  host: (cluster: string) => `${NAME_PREFIX}${clusterTag(cluster)}h`,
  /** Every root-netns link of a cluster starts with this. */
  prefix: (cluster: string) => `${NAME_PREFIX}${clusterTag(cluster)}`,
} as const;
