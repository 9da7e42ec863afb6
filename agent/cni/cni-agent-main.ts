#!/usr/bin/env node
/**
 * Runs the agent's control side for one node (see cni-agent.ts) until SIGTERM/SIGINT:
 *
 *   ip netns exec <node netns> node dist/agent/cni/cni-agent-main.js --config <file.json>
 *
 * The config file is JSON with the fields of `CniAgentOptions` that are plain data (schema below).
 * On a signal it stops serving and exits 0; endpoints stay, as they would across an agent restart.
 */
import { runAgentMain } from "../run-main.js";
import { cniAgentConfigSchema, startCniAgent } from "./cni-agent.js";

runAgentMain({
  usage: "cni-agent-main.js",
  parse: (raw) => cniAgentConfigSchema.safeParse(raw),
  start: (config, log) => startCniAgent({ ...config, log }),
  readyFields: (agent) => ({ socket: agent.server.socketPath, router: agent.manager.routerIp }),
});
