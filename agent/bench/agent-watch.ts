/**
 * What the scale bench reads from each node's agent, only through the agent API (so it holds
 * whether the provider spawns the agents or runs them as a DaemonSet): readiness, the process id
 * for RSS, endpoint and policy counts, and "has revision R been realized by every endpoint".
 */
import { existsSync, readFileSync } from "node:fs";
import { getAgentJson, parseAgentAddress } from "../api/client.js";
import type { AgentAddress } from "../api/client.js";
import { agentApiSocketPath } from "../api/paths.js";
import { AgentStatusSchema, EndpointStatusSchema, PolicyStatusSchema } from "../api/provider.js";
import type { AgentStatus, EndpointStatus, PolicyStatus } from "../api/provider.js";
import { rssBytes } from "../../harness/util/rss.js";
import { StopWaiting, waitFor } from "../../harness/util/wait.js";

export interface NodeAgent {
  readonly node: string;
  readonly address: AgentAddress;
}

export function nodeAgents(cluster: string, nodes: readonly string[]): NodeAgent[] {
  return nodes.map((node) => ({ node, address: parseAgentAddress(`unix:${agentApiSocketPath(cluster, node)}`) }));
}

export const agentStatus = async (a: NodeAgent): Promise<AgentStatus> => AgentStatusSchema.parse(await getAgentJson(a.address, "/v1/status"));
export const agentPolicy = async (a: NodeAgent): Promise<PolicyStatus> => PolicyStatusSchema.parse(await getAgentJson(a.address, "/v1/policy"));
export const agentEndpoints = async (a: NodeAgent): Promise<EndpointStatus[]> => EndpointStatusSchema.array().parse(await getAgentJson(a.address, "/v1/endpoints"));

/** Every agent answers on its socket and reports ready. */
export async function waitAgentsReady(agents: readonly NodeAgent[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
  await waitFor(
    `the agents of ${agents.map((a) => a.node).join(", ")} to report ready on their API sockets`,
    async () => {
      if (signal?.aborted) throw new StopWaiting("interrupted");
      for (const a of agents) {
        if (!a.address.socketPath || !existsSync(a.address.socketPath)) return undefined;
        if (!(await agentStatus(a)).ready) return undefined;
      }
      return true;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/**
 * VmRSS of the agent's process, found through `/v1/status` `pid`. The pid's command line must name
 * the agent, so a stale or recycled pid is an error, not a wrong figure.
 */
export async function agentRss(a: NodeAgent): Promise<number> {
  const { pid } = await agentStatus(a);
  if (pid === undefined) throw new Error(`agent on ${a.node}: /v1/status has no pid (an agent older than this bench)`);
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  if (!/agent/.test(cmdline)) throw new Error(`agent on ${a.node}: pid ${pid} runs "${cmdline}", not the agent`);
  const rss = rssBytes(pid);
  if (rss === 0) throw new Error(`agent on ${a.node}: no VmRSS for pid ${pid}`);
  return rss;
}

/**
 * Median of a few RSS samples per agent: a single reading can land mid-GC. Sampling waits on the
 * clock on purpose here, it is the measurement itself, not a wait for a condition.
 */
export async function sampleRss(agents: readonly NodeAgent[], samples = 5, everyMs = 400): Promise<Map<string, number>> {
  const readings = new Map<string, number[]>(agents.map((a) => [a.node, []]));
  for (let i = 0; i < samples; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, everyMs));
    for (const a of agents) readings.get(a.node)!.push(await agentRss(a));
  }
  return new Map([...readings].map(([node, xs]) => [node, [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!]));
}

/** Each agent's own policy revision (revisions are per node). */
export async function revisions(agents: readonly NodeAgent[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const a of agents) out.set(a.node, (await agentStatus(a)).policyRevision);
  return out;
}

/** `/v1/status?revision=R`: every endpoint of this agent (and the agent itself) realized R. */
export async function realized(a: NodeAgent, revision: number): Promise<boolean> {
  const body = (await getAgentJson(a.address, `/v1/status?revision=${revision}`)) as { revisionCheck?: { realized?: boolean } };
  if (body.revisionCheck?.realized === undefined) throw new Error(`agent on ${a.node}: /v1/status?revision=${revision} has no revisionCheck`);
  return body.revisionCheck.realized;
}

/**
 * Polls one agent until it realized `revision`; resolves with the performance.now() at which that
 * was first seen. The poll period bounds the resolution of the figure.
 */
export async function whenRealized(a: NodeAgent, revision: number, opts: { timeoutMs: number; pollMs: number; signal?: AbortSignal }): Promise<number> {
  return waitFor(
    `the agent on ${a.node} to realize policy revision ${revision}`,
    async () => {
      if (opts.signal?.aborted) throw new StopWaiting("interrupted");
      return (await realized(a, revision)) ? performance.now() : undefined;
    },
    { timeoutMs: opts.timeoutMs, intervalMs: opts.pollMs },
  );
}
