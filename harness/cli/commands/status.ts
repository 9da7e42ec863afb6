// `conform status`: what the node agents of a local cluster report — readiness and policy
// revision per agent, every endpoint with its enforcement and realized revision, and how many
// identities the agents know. Asks each node's agent API (the unix socket per node).
import type { Command } from "commander";
import { getAgentJson, parseAgentAddress } from "../../../agent/api/client.js";
import { discoverLocalAgents } from "../../../agent/api/paths.js";
import { AgentStatusSchema, EndpointStatusSchema, IdentityStatusSchema } from "../../../agent/api/provider.js";
import type { AgentStatus, EndpointStatus } from "../../../agent/api/provider.js";
import { CliError } from "../errors.js";

const DEFAULT_CLUSTER = "conform";

export interface AgentReport {
  readonly address: string;
  readonly node?: string;
  readonly ready?: boolean;
  readonly policyRevision?: number;
  readonly version?: string;
  readonly message?: string;
  readonly error?: string;
}

export interface ClusterAgentStatus {
  readonly cluster: string;
  readonly agents: AgentReport[];
  readonly endpoints: Array<EndpointStatus & { node: string }>;
  /** Distinct identity ids over every agent (reserved ones included). */
  readonly identities: number;
}

async function askAgent(spec: string): Promise<{ report: AgentReport; endpoints: EndpointStatus[]; identities: number[] }> {
  const addr = parseAgentAddress(spec);
  try {
    const status: AgentStatus = AgentStatusSchema.parse(await getAgentJson(addr, "/v1/status"));
    const endpoints = EndpointStatusSchema.array().parse(await getAgentJson(addr, "/v1/endpoints"));
    const identities = IdentityStatusSchema.array().parse(await getAgentJson(addr, "/v1/identities"));
    return {
      report: { address: spec, node: status.nodeName, ready: status.ready, policyRevision: status.policyRevision, version: status.version, ...(status.message ? { message: status.message } : {}) },
      endpoints,
      identities: identities.map((i) => i.id),
    };
  } catch (err) {
    return { report: { address: spec, error: (err as Error).message }, endpoints: [], identities: [] };
  }
}

export async function collectStatus(cluster: string, discover: (cluster: string) => string[] = discoverLocalAgents): Promise<ClusterAgentStatus> {
  const specs = discover(cluster);
  if (specs.length === 0) throw new CliError(`conform status: no agent sockets for cluster "${cluster}" (is it up with spec.cni: conform?)`);
  const answers = await Promise.all(specs.map(askAgent));
  const ids = new Set<number>();
  const endpoints: ClusterAgentStatus["endpoints"] = [];
  for (const a of answers) {
    for (const id of a.identities) ids.add(id);
    for (const ep of a.endpoints) endpoints.push({ ...ep, node: a.report.node ?? "?" });
  }
  endpoints.sort((x, y) => `${x.namespace}/${x.podName}`.localeCompare(`${y.namespace}/${y.podName}`) || x.node.localeCompare(y.node) || x.id - y.id);
  return { cluster, agents: answers.map((a) => a.report).sort((x, y) => (x.node ?? x.address).localeCompare(y.node ?? y.address)), endpoints, identities: ids.size };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n") + "\n";
}

export function formatStatus(s: ClusterAgentStatus): string {
  let out = `cluster ${s.cluster}: ${s.agents.length} agent(s)\n\n`;
  out += table([
    ["NODE", "READY", "POLICY-REVISION", "VERSION"],
    ...s.agents.map((a) => (a.error ? [a.node ?? a.address, "UNREACHABLE", "-", a.error] : [a.node ?? "?", a.ready ? "yes" : `no${a.message ? ` (${a.message})` : ""}`, String(a.policyRevision ?? "-"), a.version ?? "-"])),
  ]);
  out += `\n${s.endpoints.length} endpoint(s)\n`;
  if (s.endpoints.length > 0) {
    out += table([
      ["POD", "NODE", "ID", "IDENTITY", "IPV4", "INGRESS", "EGRESS", "REALIZED"],
      ...s.endpoints.map((e) => [`${e.namespace}/${e.podName}`, e.node, String(e.id), String(e.identity), e.ipv4 ?? "-", e.ingressEnforcement, e.egressEnforcement, String(e.policyRevision)]),
    ]);
  }
  out += `\nidentities: ${s.identities}\n`;
  return out;
}

export function register(program: Command): void {
  program
    .command("status")
    .description("agents, endpoints and identities as the node agents of a local `cni: conform` cluster report them")
    .option("--name <name>", "cluster name", DEFAULT_CLUSTER)
    .option("-o, --output <format>", "text or json", "text")
    .action(async (opts: { name: string; output: string }) => {
      if (opts.output !== "text" && opts.output !== "json") throw new CliError(`conform status: --output must be text or json, not "${opts.output}"`);
      const s = await collectStatus(opts.name);
      process.stdout.write(opts.output === "json" ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
      // An agent that does not answer or is not ready is a failed status check.
      if (s.agents.some((a) => a.error || !a.ready)) process.exitCode = 1;
    });
}
