// The on-disk record of a local cluster, written first during `up` so that `down` can always
// clean up what a half-finished or interrupted `up` created.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
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
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, "utf8")) as ClusterState;
  } catch (err) {
    throw new Error(`${f}: unreadable cluster state (${(err as Error).message}); remove what is left with: conform cluster down --name ${name}`);
  }
}

/** readState, but a state file that cannot be read counts as none (for sweeping what is left). */
export function readStateIfReadable(name: string): ClusterState | undefined {
  try {
    return readState(name);
  } catch {
    return undefined;
  }
}

export function writeState(state: ClusterState): void {
  mkdirSync(clusterStateDir(state.name), { recursive: true });
  // Write and rename: a process killed mid-write (Ctrl-C twice, SIGKILL during up) must leave the
  // previous state or the new one, never a truncated file that down cannot read.
  const file = stateFile(state.name);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  renameSync(tmp, file);
}

/** Names of every cluster with a state dir. */
export function listClusterNames(): string[] {
  return existsSync(stateRoot) ? readdirSync(stateRoot).filter((n) => existsSync(stateFile(n))).sort() : [];
}
