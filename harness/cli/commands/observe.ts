// `conform observe`: flows from every node's agent, merged by time, printed like
// `hubble observe` (compact by default, or one JSON envelope per line). The agents do the
// filtering; the same query is applied again to the merged stream, as Hubble Relay does.
import type { Command } from "commander";
import { parseAgentAddress, streamAgentFlows, type AgentAddress } from "../../../agent/api/client.js";
import { discoverLocalAgents } from "../../../agent/api/paths.js";
import { formatCompact, type CompactOptions } from "../../../agent/observer/compact.js";
import { FILTER_FLAGS, FilterError } from "../../../agent/observer/filters.js";
import type { FlowLine } from "../../../agent/observer/flow.js";
import { matchesQuery, parseFlowQuery, queryParams, type FlowQuery, type ParamGetter } from "../../../agent/observer/query.js";
import { parseTimeNs } from "../../../agent/observer/time.js";
import { CliError } from "../errors.js";

/** Finds agent endpoints when no --server is given; the local provider's layout by default. */
export type AgentDiscovery = (cluster: string | undefined) => string[] | Promise<string[]>;

export interface ObserveOptions {
  readonly servers: readonly string[];
  readonly cluster?: string;
  readonly output: "compact" | "json";
  readonly compact: CompactOptions;
  /** Filter and selection flags by long name. */
  readonly params: ParamGetter;
}

export interface ObserveIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly signal?: AbortSignal;
}

/** `conform cluster up`'s default name. */
const DEFAULT_CLUSTER = "conform";
const SHORT_FLAGS: Partial<Record<string, string>> = { namespace: "-n", label: "-l", type: "-t" };
const HUBBLE_DEFAULT_LAST = 20;

function lineTimeNs(line: FlowLine): bigint {
  const t = line.flow?.time ?? line.time;
  return (t ? parseTimeNs(t) : undefined) ?? 0n;
}

/** Runs the query against every agent and prints; resolves to the exit code. */
export async function runObserve(opts: ObserveOptions, io: ObserveIo, discover: AgentDiscovery = discoverLocalAgents): Promise<number> {
  let query: FlowQuery;
  try {
    query = parseFlowQuery(opts.params, { defaultLast: HUBBLE_DEFAULT_LAST });
  } catch (err) {
    if (err instanceof FilterError) throw new CliError(`conform observe: ${err.message}`);
    throw err;
  }
  const specs = opts.servers.length ? opts.servers : await discover(opts.cluster);
  if (specs.length === 0) {
    throw new CliError(
      `conform observe: no agent found${opts.cluster ? ` for cluster ${opts.cluster}` : ""}; pass --server unix:<socket> or --server <host>:<port>`,
    );
  }
  const addresses: AgentAddress[] = specs.map((s) => {
    try {
      return parseAgentAddress(s);
    } catch (err) {
      throw new CliError(`conform observe: ${(err as Error).message}`);
    }
  });
  // Hubble's --last is per node; every agent gets the query as given (plus the default).
  const params = queryParams(opts.params);
  if (query.last !== undefined && !params.has("last")) params.set("last", String(query.last));

  const print = (line: FlowLine): void => {
    if (!line.flow) return;
    if (!matchesQuery({ flow: line.flow, timeNs: lineTimeNs(line) }, query)) return;
    io.stdout(opts.output === "json" ? `${JSON.stringify(line)}\n` : `${formatCompact(line.flow, opts.compact)}\n`);
  };
  const buffered: FlowLine[] = [];
  let failures = 0;
  await Promise.all(
    addresses.map(async (addr) => {
      try {
        await streamAgentFlows(addr, params, query.follow ? print : (line) => buffered.push(line), {
          ...(io.signal ? { signal: io.signal } : {}),
          onBadLine: (text) => io.stderr(`conform observe: agent ${addr.label}: skipping unreadable line: ${text.slice(0, 200)}\n`),
        });
      } catch (err) {
        if (io.signal?.aborted) return;
        failures++;
        io.stderr(`conform observe: ${(err as Error).message}\n`);
      }
    }),
  );
  if (!query.follow) {
    const timed = buffered.map((line, i) => ({ line, i, t: lineTimeNs(line) }));
    timed.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.i - b.i));
    for (const { line } of timed) print(line);
  }
  return failures === addresses.length ? 2 : 0;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function register(program: Command): void {
  const cmd = program
    .command("observe")
    .description("show flows from the agents of a cluster, filtered and printed like `hubble observe`")
    .option("--server <url>", "agent API endpoint: unix:<socket>, http://<host>:<port> or <host>:<port> (repeatable)", collect, [])
    .option("--name <name>", `local cluster whose agents to query when no --server is given (default "${DEFAULT_CLUSTER}")`)
    .option("--cluster <name>", "same as --name")
    .option("-o, --output <format>", "compact or json (jsonpb is an alias of json)", "compact")
    .option("--print-node-name", "print the node name after the timestamp")
    .option("--print-policy-names", "name the policies behind policy-verdict ALLOWED/DENIED lines")
    .option("--no-print-drop-policies", "do not append the policies behind policy drops (a conform addition)")
    .option("--last <n>", "last N flows per node (default 20 unless --since/--first/--follow)")
    .option("--first <n>", "first N flows per node")
    .option("--all", "every flow the agents still hold")
    .option("--since <time>", "flows since a duration ago (30s, 5m, 1h30m) or an RFC 3339 time")
    .option("--until <time>", "flows until a duration ago or an RFC 3339 time")
    .option("-f, --follow", "keep streaming new flows");
  for (const flag of FILTER_FLAGS) {
    const short = SHORT_FLAGS[flag];
    cmd.option(`${short ? `${short}, ` : ""}--${flag} <value>`, `filter on ${flag.replaceAll("-", " ")} (repeatable; see hubble observe)`, collect, []);
  }
  cmd.action(async (raw: Record<string, unknown>) => {
    const output = String(raw.output).toLowerCase();
    if (output !== "compact" && output !== "json" && output !== "jsonpb") {
      throw new CliError(`conform observe: --output must be compact or json, not "${String(raw.output)}"`);
    }
    const params: ParamGetter = (name) => {
      const v = raw[camel(name)];
      if (v === undefined || v === false) return [];
      if (v === true) return ["true"];
      return Array.isArray(v) ? (v as string[]) : [String(v)];
    };
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      process.exitCode = await runObserve(
        {
          servers: raw.server as string[],
          cluster: String(raw.name ?? raw.cluster ?? DEFAULT_CLUSTER),
          output: output === "compact" ? "compact" : "json",
          compact: { printNodeName: !!raw.printNodeName, printPolicyNames: !!raw.printPolicyNames, printDropAttribution: raw.printDropPolicies !== false },
          params,
        },
        { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), signal: controller.signal },
      );
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
  });
}
