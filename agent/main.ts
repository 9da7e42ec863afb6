#!/usr/bin/env node
/**
 * The full node agent (agent.ts) for one node, until SIGTERM/SIGINT:
 *
 *   ip netns exec <node netns> node dist/agent/main.js --config <file.json>
 *   node dist/agent/main.js [--settings <config.yaml>]     (as the DaemonSet pod, agent/deploy/agent.yaml)
 *
 * Config: `agentConfigSchema` (the CNI agent's fields plus `policy`, `datapath` and `api`), from
 * the file, or in a pod from the environment plus the settings file (in-cluster.ts; the API
 * server from the service-account mount). The agent API serves flows and status on `agentApiSocketPath(cluster, node)` and nodeIP:4244). On a signal
 * it stops watching and serving and exits 0; endpoints, programs and pinned maps stay, so
 * traffic keeps its policy across an agent restart.
 */
import { agentConfigSchema, startAgent } from "./agent.js";
import { inClusterAgentConfig } from "./in-cluster.js";
import { runAgentMain } from "./run-main.js";

runAgentMain({
  usage: "main.js",
  parse: (raw) => agentConfigSchema.safeParse(raw),
  start: (config, log) => startAgent(config, { log }),
  inCluster: (env, settingsFile) => inClusterAgentConfig(env, settingsFile),
  readyFields: (agent) => ({
    socket: agent.cni.server.socketPath,
    router: agent.cni.manager.routerIp,
    revision: agent.policy.revision,
    api: agent.api?.socketPath ?? "off",
  }),
});
