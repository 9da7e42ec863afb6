// The on-disk record of a local cluster, written first during `up` so that `down` can always
// clean up what a half-finished or interrupted `up` created.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LocalClusterConfig } from "./config.js";
import { clusterStateDir, stateRoot } from "./paths.js";

export interface NodeRecord {
  readonly name: string;
  readonly index: number;
  readonly ip: string;
  readonly netns: string;
  podCIDR?: string;
  kubeletPid?: number;
}

export interface ClusterState {
  readonly name: string;
  readonly slot: number;
  readonly config: LocalClusterConfig;
  readonly createdAt: string;
  phase: "creating" | "running";
  /** https URL of the apiserver as seen from the root netns. */
  server: string;
  kubernetesVersion: string;
  nodes: NodeRecord[];
  /** PIDs we started, by component. Processes inside our netns are also swept by netns. */
  pids: Record<string, number>;
}

const stateFile = (name: string) => join(clusterStateDir(name), "cluster.json");

export function readState(name: string): ClusterState | undefined {
  const f = stateFile(name);
  return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as ClusterState) : undefined;
}

export function writeState(state: ClusterState): void {
  mkdirSync(clusterStateDir(state.name), { recursive: true });
  writeFileSync(stateFile(state.name), JSON.stringify(state, null, 2) + "\n");
}

/** Names of every cluster with a state dir. */
export function listClusterNames(): string[] {
  return existsSync(stateRoot) ? readdirSync(stateRoot).filter((n) => existsSync(stateFile(n))).sort() : [];
}
