// Tearing a local cluster down, and sweeping leftovers of crashed runs. Everything is found by
// name (netns prefix, link tag) and recorded PID, so it works from any process, after any crash.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { terminate } from "../../util/processes.js";
import { clusterStateDir } from "./paths.js";
import { linkNames, NAME_PREFIX, netnsNames } from "./names.js";
import { listClusterNames, readStateIfReadable } from "./state.js";
import { agentPinDir, removeAgentPins } from "./node-agent.js";
import { deleteLink, deleteNetns, listNetns, netnsPids, rootLinks } from "./topology.js";

export interface DownReport {
  readonly cluster: string;
  readonly netns: string[];
  readonly links: string[];
  readonly processes: number;
}

export async function downCluster(cluster: string): Promise<DownReport> {
  // A state file cut short by a killed `up` must not stop the sweep: netns and links are found by name.
  const state = readStateIfReadable(cluster);
  const namespaces = listNetns().filter((n) => n.startsWith(netnsNames.prefix(cluster)));
  // Processes first (recorded ones, then whatever still runs inside our namespaces), so nothing
  // holds a namespace or re-creates objects while we delete.
  const pids = new Set<number>(Object.values(state?.pids ?? {}));
  for (const node of state?.nodes ?? []) if (node.kubeletPid) pids.add(node.kubeletPid);
  for (const ns of namespaces) for (const pid of await netnsPids(ns)) pids.add(pid);
  await terminate([...pids], 5000);
  // A process may have been started into a namespace while we were terminating: one more pass.
  const late: number[] = [];
  for (const ns of namespaces) late.push(...(await netnsPids(ns)));
  await terminate(late, 2000);

  // The agents pin their maps so a restarted agent keeps enforcing; a removed cluster keeps nothing.
  removeAgentPins(cluster);
  const links = await rootLinks(linkNames.prefix(cluster));
  for (const l of links) await deleteLink(l);
  for (const ns of namespaces) await deleteNetns(ns);
  rmSync(clusterStateDir(cluster), { recursive: true, force: true });
  return { cluster, netns: namespaces, links, processes: pids.size + late.length };
}

/** Clusters whose agents left pinned maps behind (a crash can leave nothing else). */
function pinnedClusters(): string[] {
  const root = dirname(agentPinDir("x"));
  return existsSync(root) ? readdirSync(root) : [];
}

/** Every cluster this machine has a trace of: state dirs and `cf-<name>_cp` namespaces. */
export function knownClusters(): string[] {
  const names = new Set(listClusterNames());
  const re = new RegExp(`^${NAME_PREFIX}-(.+)_cp$`);
  for (const ns of listNetns()) {
    const m = re.exec(ns);
    if (m?.[1]) names.add(m[1]);
  }
  return [...names].sort();
}

/** `down --all`: every known cluster, then any `cf-*` netns left whose cluster cannot be named. */
export async function downAll(): Promise<DownReport[]> {
  const reports: DownReport[] = [];
  for (const name of new Set([...knownClusters(), ...pinnedClusters()])) reports.push(await downCluster(name));
  const stray = listNetns().filter((n) => n.startsWith(`${NAME_PREFIX}-`));
  if (stray.length > 0) {
    const pids: number[] = [];
    for (const ns of stray) pids.push(...(await netnsPids(ns)));
    await terminate(pids, 3000);
    for (const ns of stray) await deleteNetns(ns);
    reports.push({ cluster: "(unnamed leftovers)", netns: stray, links: [], processes: pids.length });
  }
  return reports;
}
