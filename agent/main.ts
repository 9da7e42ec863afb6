#!/usr/bin/env node
/**
 * The full node agent (agent.ts) for one node, until SIGTERM/SIGINT:
 *
 *   ip netns exec <node netns> node dist/agent/main.js --config <file.json>
 *
 * Config: `agentConfigSchema` (the CNI agent's fields plus `policy`, `datapath` and `api`; the
 * agent API serves flows and status on `agentApiSocketPath(cluster, node)` and nodeIP:4244). On a signal
 * it stops watching and serving and exits 0; endpoints, programs and pinned maps stay, so
 * traffic keeps its policy across an agent restart.
 */
import { readFileSync } from "node:fs";
import { firstIssue } from "./cni/protocol.js";
import { createLogger, errorMessage } from "./k8s/log.js";
import { agentConfigSchema, startAgent } from "./agent.js";

async function main(): Promise<void> {
  const i = process.argv.indexOf("--config");
  const file = i > 0 ? process.argv[i + 1] : undefined;
  if (!file) {
    process.stderr.write("usage: main.js --config <file.json>\n");
    process.exit(2);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    process.stderr.write(`${file}: ${errorMessage(err)}\n`);
    process.exit(2);
  }
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) {
    process.stderr.write(`${file}: ${firstIssue(parsed.error)}\n`);
    process.exit(2);
  }
  const log = createLogger(`agent ${parsed.data.nodeName}`, (l) => process.stdout.write(l + "\n"));
  const agent = await startAgent(parsed.data, { log });
  // A line tests and providers can wait for.
  log.info("agent ready", { socket: agent.cni.server.socketPath, router: agent.cni.manager.routerIp, revision: agent.policy.revision, api: agent.api?.socketPath ?? "off", pid: process.pid });
  const shutdown = (sig: string): void => {
    log.info("stopping", { signal: sig });
    void agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error("stop failed", { error: errorMessage(err) });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`agent failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
