// `spec.cni: conform`: the bundled node agent (CNI, eBPF datapath, ipcache and policy sync) on
// every node, started by the provider inside the node netns (as a DaemonSet pod with host
// networking would run). The agent installs its `conform-cni` plugin into the node's CNI bin dir
// and writes the conflist once it serves with policy in force, which is what turns the node Ready.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { KubernetesObject } from "@kubernetes/client-node";
import { spawnDetached } from "../../util/exec.js";
import { logFile } from "./control-plane.js";
import { cniBinDir, repoRoot } from "./paths.js";
import type { RoutingMode } from "./config.js";
import type { NodeRecord } from "./state.js";

/** The token user of the local agents; agent/deploy/rbac.yaml binds the group. */
export const AGENT_USER = { user: "conform-agent", groups: ["conform:agents"] } as const;
const REFERENCE_PLUGINS = ["ptp", "host-local", "loopback"] as const;

export const nodeDir = (stateDir: string, node: string): string => join(stateDir, "nodes", node);

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

export function agentRbacObjects(): KubernetesObject[] {
  const text = readFileSync(join(repoRoot, "agent/deploy/rbac.yaml"), "utf8");
  return parseAllDocuments(text).map((d) => d.toJS() as KubernetesObject);
}

/** The full agent (agent/main.ts); `dist/agent/cni/cni-agent-main.js` is its CNI side alone. */
export const AGENT_ENTRY = "dist/agent/main.js";

/** Where the agents of a cluster pin their BPF maps (agent/datapath: `<bpffs>/conform/<cluster>/<node>`). */
export const agentPinDir = (cluster: string): string => join("/sys/fs/bpf/conform", cluster);

/**
 * Pinned maps outlive the agents on purpose (a restarted agent keeps conntrack and policy), so
 * removing the cluster must unpin them; bpffs takes plain unlink/rmdir.
 */
export function removeAgentPins(cluster: string): void {
  rmSync(agentPinDir(cluster), { recursive: true, force: true });
}

export function startNodeAgent(opts: { cluster: string; node: NodeRecord; stateDir: string; kubeconfig: string; routing: RoutingMode }): number {
  const dir = nodeDir(opts.stateDir, opts.node.name);
  const agentDir = join(dir, "agent");
  mkdirSync(agentDir, { recursive: true, mode: 0o700 });
  const config = {
    nodeName: opts.node.name,
    nodeIP: opts.node.ip,
    clusterName: opts.cluster,
    stateDir: agentDir,
    socketPath: join(agentDir, "agent.sock"),
    kubeconfig: opts.kubeconfig,
    cniBinDir: join(dir, "cni", "bin"),
    cniConfDir: join(dir, "cni", "net.d"),
    routing: opts.routing,
  };
  const file = join(agentDir, "config.json");
  writeFileSync(file, JSON.stringify(config, null, 2) + "\n");
  const fd = openSync(logFile(opts.stateDir, `agent-${opts.node.name}`), "a");
  try {
    return spawnDetached(process.execPath, [join(repoRoot, AGENT_ENTRY), "--config", file], {
      netns: opts.node.netns,
      logFd: fd,
      cwd: agentDir,
    });
  } finally {
    closeSync(fd);
  }
}
