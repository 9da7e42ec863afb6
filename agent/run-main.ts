// What every agent entry point does the same way: read `--config <file.json>` (or, for entries
// that can run as a pod, build the config from the pod's environment and `--settings <file>`),
// validate it (exit 2 naming the file and field), start, log one "agent ready" line tests and providers wait
// for, and stop cleanly on SIGTERM/SIGINT (exit 0; endpoints and pinned maps stay in place).
import { readFileSync } from "node:fs";
import type { z } from "zod";
import { firstIssue } from "./cni/protocol.js";
import { createLogger, errorMessage } from "./k8s/log.js";
import type { LogFields, Logger } from "./k8s/log.js";

export interface AgentEntry<T extends { nodeName: string }, A extends { stop(): Promise<void> }> {
  readonly usage: string;
  readonly parse: (raw: unknown) => { success: true; data: T } | { success: false; error: z.ZodError };
  readonly start: (config: T, log: Logger) => Promise<A>;
  readonly readyFields: (agent: A) => LogFields;
  /**
   * Without `--config`: the raw config of a pod (DaemonSet) run, from the environment and the
   * optional settings file. Entries without it require `--config`.
   */
  readonly inCluster?: (env: NodeJS.ProcessEnv, settingsFile: string | undefined) => unknown;
}

function flagValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

export function runAgentMain<T extends { nodeName: string }, A extends { stop(): Promise<void> }>(entry: AgentEntry<T, A>): void {
  const fail = (msg: string, code: number): never => {
    process.stderr.write(`${msg}\n`);
    process.exit(code);
  };
  const main = async (): Promise<void> => {
    const file = flagValue("--config");
    let raw: unknown;
    let source: string;
    if (file) {
      source = file;
      try {
        raw = JSON.parse(readFileSync(file, "utf8"));
      } catch (err) {
        return fail(`${file}: ${errorMessage(err)}`, 2);
      }
    } else if (entry.inCluster) {
      const settings = flagValue("--settings");
      source = settings ?? "in-cluster config";
      try {
        raw = entry.inCluster(process.env, settings);
      } catch (err) {
        return fail(`${entry.usage}: ${errorMessage(err)}`, 2);
      }
    } else {
      return fail(`usage: ${entry.usage} --config <file.json>`, 2);
    }
    const parsed = entry.parse(raw);
    if (!parsed.success) return fail(`${source}: ${firstIssue(parsed.error)}`, 2);
    const log = createLogger(`agent ${parsed.data.nodeName}`, (l) => process.stdout.write(l + "\n"));
    const agent = await entry.start(parsed.data, log);
    log.info("agent ready", { ...entry.readyFields(agent), pid: process.pid });
    const shutdown = (signal: string): void => {
      log.info("stopping", { signal });
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
  };
  main().catch((err: unknown) => fail(`agent failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, 1));
}
