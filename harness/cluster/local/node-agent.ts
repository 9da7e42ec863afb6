// `spec.cni: conform`: the bundled node agent (CNI, eBPF datapath, ipcache and policy sync) on
// every node, deployed the way users deploy it on kind: agent/deploy/ (RBAC, ConfigMap,
// DaemonSet with host networking). The netns kubelets run its pods; the agent installs its
// `conform-cni` plugin into the node's CNI bin dir and writes the conflist once it serves with
// policy in force, which is what turns the node Ready.
//
// The manifests are applied as written except for values only the provider knows, patched into
// the parsed objects (agentDeployObjects): the cluster name in the ConfigMap's settings and, when
// CONFORM_STATE_DIR moves the run dir away from /run/conform, the run-dir volume.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from "yaml";
import type { KubernetesObject, V1ConfigMap, V1DaemonSet } from "@kubernetes/client-node";
import { podPaths } from "./kubelet/paths.js";
import { cniBinDir, repoRoot, stateRoot } from "./paths.js";

const REFERENCE_PLUGINS = ["ptp", "host-local", "loopback"] as const;

export const AGENT_NAMESPACE = "kube-system";
export const AGENT_DAEMONSET = "conform-agent";
export const AGENT_CONFIGMAP = "conform-agent-config";
/** The run dir the manifest mounts (sockets, DEL queue); agent/api/paths.ts puts the API socket under it. */
const MANIFEST_RUN_DIR = "/run/conform";
/** The agent's state dir in the manifest; mapped per node to `<node dir>/agent` (agentStateDir). */
export const MANIFEST_AGENT_STATE_DIR = "/var/lib/conform";

export const nodeDir = (stateDir: string, node: string): string => join(stateDir, "nodes", node);

/** Where a node's agent keeps IPAM, endpoints and policy-status.json (its /var/lib/conform). */
export const agentStateDir = (stateDir: string, node: string): string => join(nodeDir(stateDir, node), "agent");

/** A per-node CNI_PATH: the reference plugins (linked) plus whatever the node's agent installs. */
export function prepareCniBinDir(stateDir: string, node: string): string {
  const dir = join(nodeDir(stateDir, node), "cni", "bin");
  mkdirSync(dir, { recursive: true });
  for (const p of REFERENCE_PLUGINS) {
    const link = join(dir, p);
    if (!existsSync(link)) symlinkSync(join(cniBinDir(), p), link);
  }
  return dir;
}

function readManifests(file: string): KubernetesObject[] {
  const text = readFileSync(join(repoRoot, "agent/deploy", file), "utf8");
  return parseAllDocuments(text).map((d) => d.toJS() as KubernetesObject);
}

export interface AgentDeployOptions {
  readonly cluster: string;
  /**
   * Agent settings merged into the ConfigMap's `config.yaml` (any agentConfigSchema field);
   * the cluster name is always set.
   */
  readonly settings?: Readonly<Record<string, unknown>>;
}

/** agent/deploy/rbac.yaml and agent.yaml, with the local cluster's values patched in. */
export function agentDeployObjects(opts: AgentDeployOptions): KubernetesObject[] {
  const objects = [...readManifests("rbac.yaml"), ...readManifests("agent.yaml")];
  for (const o of objects) {
    if (o.kind === "ConfigMap" && o.metadata?.name === AGENT_CONFIGMAP) {
      const cm = o as V1ConfigMap;
      const current = (parseYaml(cm.data?.["config.yaml"] ?? "") ?? {}) as Record<string, unknown>;
      cm.data = { ...cm.data, "config.yaml": stringifyYaml({ ...current, ...opts.settings, clusterName: opts.cluster }) };
    }
    if (o.kind === "DaemonSet" && o.metadata?.name === AGENT_DAEMONSET && stateRoot !== MANIFEST_RUN_DIR) relocateRunDir(o as V1DaemonSet, stateRoot);
  }
  return objects;
}

/** Points the run-dir volume and mount at `dir` and tells the agent (CONFORM_STATE_DIR, agent/api/paths.ts). */
function relocateRunDir(ds: V1DaemonSet, dir: string): void {
  const spec = ds.spec?.template.spec;
  const vol = spec?.volumes?.find((v) => v.hostPath?.path === MANIFEST_RUN_DIR);
  if (!spec || !vol?.hostPath) throw new Error(`agent/deploy/agent.yaml: the DaemonSet has no hostPath volume for ${MANIFEST_RUN_DIR}`);
  vol.hostPath.path = dir;
  for (const c of spec.containers) {
    for (const m of c.volumeMounts ?? []) if (m.name === vol.name) m.mountPath = dir;
    c.env = [...(c.env ?? []), { name: "CONFORM_STATE_DIR", value: dir }];
  }
}

/** Where the agents of a cluster pin their BPF maps (agent/datapath: `<bpffs>/conform/<cluster>/<node>`). */
export const agentPinDir = (cluster: string): string => join("/sys/fs/bpf/conform", cluster);

/**
 * Pinned maps outlive the agents on purpose (a restarted agent keeps conntrack and policy), so
 * removing the cluster must unpin them; bpffs takes plain unlink/rmdir.
 */
export function removeAgentPins(cluster: string): void {
  rmSync(agentPinDir(cluster), { recursive: true, force: true });
}

/** The agent container's log files on a node (one per agent pod the kubelet ran there, oldest pods included). */
export function agentLogFiles(stateDir: string, node: string): string[] {
  const root = podPaths.root(nodeDir(stateDir, node));
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => podPaths.parseDirName(d)?.namespace === AGENT_NAMESPACE && d.startsWith(`${AGENT_NAMESPACE}_${AGENT_DAEMONSET}-`))
    .map((d) => podPaths.containerLog(join(root, d), "agent"))
    .filter((f) => existsSync(f));
}

/** PIDs of the agent containers the kubelet of `node` runs now (from its pid files; normally one). */
export function agentContainerPids(stateDir: string, node: string): number[] {
  const root = podPaths.root(nodeDir(stateDir, node));
  if (!existsSync(root)) return [];
  const pids: number[] = [];
  for (const d of readdirSync(root)) {
    if (!d.startsWith(`${AGENT_NAMESPACE}_${AGENT_DAEMONSET}-`)) continue;
    const file = podPaths.containerPidFile(join(root, d), "agent");
    if (!existsSync(file)) continue;
    const pid = (JSON.parse(readFileSync(file, "utf8")) as { pid?: number }).pid;
    if (typeof pid === "number" && existsSync(`/proc/${pid}`)) pids.push(pid);
  }
  return pids;
}

/** The last `lines` lines of a node's agent log(s), for test and start-up failure messages. */
export function agentLogTail(stateDir: string, node: string, lines = 20): string {
  const files = agentLogFiles(stateDir, node);
  if (files.length === 0) return `(no agent log on ${node} yet)`;
  return files.map((f) => `--- ${f}\n${readFileSync(f, "utf8").split("\n").slice(-lines).join("\n")}`).join("\n");
}
