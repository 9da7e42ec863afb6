/**
 * The agent's config when it runs as the DaemonSet pod (agent/deploy/agent.yaml) instead of from a
 * config file: the node comes from the downward API (NODE_NAME, NODE_IP), the API server from the
 * service-account mount and KUBERNETES_SERVICE_HOST/PORT (client-node `loadFromCluster`), and
 * every other setting from the ConfigMap's `config.yaml`, which may hold any field of
 * agentConfigSchema (so options added to the schema later need no change here).
 *
 * Derived defaults keep the layout the harness relies on: the API socket stays at
 * `agentApiSocketPath(cluster, node)`, the CNI socket and DEL queue sit next to it (the CNI
 * plugin, run by the node's kubelet outside the pod, reaches them there), state under
 * /var/lib/conform, the CNI dirs where kubelets and containerd look.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseYamlWithSchema } from "../harness/util/yaml-schema.js";
import { agentConfigSchema } from "./agent.js";
import type { AgentConfigInput } from "./agent.js";
import { agentApiSocketPath } from "./api/paths.js";
import { InClusterConfigError } from "./k8s/in-cluster-kubeconfig.js";

export const IN_CLUSTER_DEFAULTS = {
  settingsFile: "/etc/conform/agent/config.yaml",
  stateDir: "/var/lib/conform",
  cniBinDir: "/opt/cni/bin",
  cniConfDir: "/etc/cni/net.d",
} as const;

/** What the settings file may hold: any agent field, each optional. */
const settingsSchema = agentConfigSchema.partial();


/**
 * Builds the agent config from the environment and the settings file (absent file = no
 * settings). Errors name the variable, or the file, line and field.
 */
export function inClusterAgentConfig(env: NodeJS.ProcessEnv, settingsFile: string = IN_CLUSTER_DEFAULTS.settingsFile): AgentConfigInput {
  const settings = existsSync(settingsFile) ? parseYamlWithSchema(settingsFile, readFileSync(settingsFile, "utf8"), settingsSchema) : {};
  const nodeName = settings.nodeName ?? env["NODE_NAME"];
  if (!nodeName) throw new InClusterConfigError("NODE_NAME is not set (the DaemonSet sets it from spec.nodeName) and the settings give no nodeName");
  const cluster = settings.clusterName ?? "default";
  // The CNI socket and DEL queue live beside the API socket, in the dir the plugin can reach.
  const runDir = dirname(agentApiSocketPath(cluster, nodeName));
  const nodeIP = settings.nodeIP ?? env["NODE_IP"];
  return {
    nodeName,
    clusterName: cluster,
    ...(nodeIP ? { nodeIP } : {}),
    stateDir: IN_CLUSTER_DEFAULTS.stateDir,
    socketPath: join(runDir, "cni.sock"),
    cniBinDir: IN_CLUSTER_DEFAULTS.cniBinDir,
    cniConfDir: IN_CLUSTER_DEFAULTS.cniConfDir,
    ...withoutUndefined(settings),
  };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
