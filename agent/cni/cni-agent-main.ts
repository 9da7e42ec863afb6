#!/usr/bin/env node
/**
 * Runs the agent's control side for one node (see cni-agent.ts) until SIGTERM/SIGINT:
 *
 *   ip netns exec <node netns> node dist/agent/cni/cni-agent-main.js --config <file.json>
 *
 * The config file is JSON with the fields of `CniAgentOptions` that are plain data (schema below).
 * On a signal it stops serving and exits 0; endpoints stay, as they would across an agent restart.
 */
import { readFileSync } from "node:fs";
import { createLogger, errorMessage } from "../k8s/log.js";
import { cniAgentConfigSchema, startCniAgent } from "./cni-agent.js";
import { firstIssue } from "./protocol.js";


async function main(): Promise<void> {
  const i = process.argv.indexOf("--config");
  const file = i > 0 ? process.argv[i + 1] : undefined;
  if (!file) {
    process.stderr.write("usage: cni-agent-main.js --config <file.json>\n");
    process.exit(2);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    process.stderr.write(`${file}: ${errorMessage(err)}\n`);
    process.exit(2);
  }
  const parsed = cniAgentConfigSchema.safeParse(raw);
  if (!parsed.success) {
    process.stderr.write(`${file}: ${firstIssue(parsed.error)}\n`);
    process.exit(2);
  }
  const log = createLogger(`agent ${parsed.data.nodeName}`, (l) => process.stdout.write(l + "\n"));
  const agent = await startCniAgent({ ...parsed.data, log });
  // A line tests and providers can wait for.
  log.info("agent ready", { socket: agent.server.socketPath, router: agent.manager.routerIp, pid: process.pid });
  const shutdown = (sig: string) => {
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
