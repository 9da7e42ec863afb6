// The runner's view of a `cni: conform` local cluster's agents: a FlowSource over every node's
// `/v1/flows` and a ConvergenceWaiter over `/v1/policy` and `/v1/status?revision=R`, each agent
// reached on its unix socket. Like Hubble Relay, flows of all nodes are merged by time.
import { getAgentJson, parseAgentAddress, streamAgentFlows } from "../../../agent/api/client.js";
import type { AgentAddress } from "../../../agent/api/client.js";
import { agentApiSocketPath } from "../../../agent/api/paths.js";
import { AgentStatusSchema, PolicyStatusSchema } from "../../../agent/api/provider.js";
import type { PolicyStatus } from "../../../agent/api/provider.js";
import type { FlowLine } from "../../../agent/observer/flow.js";
import { CustomObjectsApi, NetworkingV1Api } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import type { FlowRecord } from "../../report/model.js";
import { matchesAnyFilter } from "../../runner/flow-match.js";
import { waitFor } from "../../util/wait.js";
import type { ConvergenceScope, ConvergenceWaiter, FlowFilter, FlowQuery, FlowSource } from "../provider.js";

/** Every node's agent socket, as `unix:` addresses. */
export function agentAddresses(cluster: string, nodeNames: readonly string[], stateRoot?: string): AgentAddress[] {
  return nodeNames.map((node) => parseAgentAddress(`unix:${agentApiSocketPath(cluster, node, stateRoot)}`));
}

/**
 * One runner filter as `/v1/flows` parameters. A runner filter is one Hubble FlowFilter (fields
 * AND, list entries OR), which is exactly what the API builds from `from-*`/`to-*` and the common
 * flags; several runner filters (OR) therefore need one request each.
 */
export function flowQueryParams(since: Date, until: Date, filter?: FlowFilter): URLSearchParams {
  const params = new URLSearchParams({ since: since.toISOString(), until: until.toISOString() });
  for (const ip of filter?.sourceIp ?? []) params.append("from-ip", ip);
  for (const ip of filter?.destinationIp ?? []) params.append("to-ip", ip);
  for (const port of filter?.sourcePort ?? []) params.append("from-port", String(port));
  for (const port of filter?.destinationPort ?? []) params.append("to-port", String(port));
  // The runner names protocols as flows spell their l4 key (TCP, ICMPv4); the API takes hubble's lower case.
  for (const p of filter?.protocol ?? []) params.append("protocol", p.toLowerCase());
  for (const v of filter?.verdict ?? []) params.append("verdict", v);
  return params;
}

function timeOf(line: FlowLine): number {
  const t = Date.parse(line.flow?.time ?? line.time ?? "");
  return Number.isNaN(t) ? 0 : t;
}

// Nanosecond timestamps do not fit Date; compare them as text, which RFC 3339 in UTC allows when the
// fraction has the same width, else fall back to milliseconds.
function compareLines(a: FlowLine, b: FlowLine): number {
  const ta = a.flow?.time ?? a.time ?? "";
  const tb = b.flow?.time ?? b.time ?? "";
  if (ta.length === tb.length) return ta < tb ? -1 : ta > tb ? 1 : 0;
  return timeOf(a) - timeOf(b);
}

/** A flow met through several filters is one flow: uuid when the agent sets one, else its whole text. */
function flowKey(line: FlowLine): string {
  return line.flow?.uuid ? `${line.node_name ?? ""}/${line.flow.uuid}` : JSON.stringify(line);
}

export class AgentFlowSource implements FlowSource {
  constructor(private readonly agents: readonly AgentAddress[]) {}

  async query(q: FlowQuery): Promise<FlowRecord[]> {
    const filters = q.filters && q.filters.length > 0 ? q.filters : [undefined];
    const byKey = new Map<string, FlowLine>();
    await Promise.all(
      this.agents.flatMap((agent) =>
        filters.map((filter) =>
          streamAgentFlows(agent, flowQueryParams(q.since, q.until, filter), (line) => {
            if (line.flow) byKey.set(flowKey(line), line);
          }),
        ),
      ),
    );
    // Filtered again with the runner's own matcher, so this source answers exactly as an in-memory one.
    return [...byKey.values()].sort(compareLines).map((l) => l as FlowRecord).filter((r) => matchesAnyFilter(r, q.filters));
  }

  async follow(q: Omit<FlowQuery, "until">, onFlow: (flow: FlowRecord) => void, signal: AbortSignal): Promise<void> {
    const filters = q.filters && q.filters.length > 0 ? q.filters : [undefined];
    await Promise.all(
      this.agents.flatMap((agent) =>
        filters.map((filter) => {
          const params = flowQueryParams(q.since, new Date(0), filter);
          params.delete("until");
          params.set("follow", "true");
          return streamAgentFlows(agent, params, (line) => {
            if (line.flow) onFlow(line as FlowRecord);
          }, { signal }).catch((err: unknown) => {
            if (!signal.aborted) throw err;
          });
        }),
      ),
    );
  }
}

/** Names the API server holds, `Kind/namespace/name` (namespace empty for clusterwide). */
export type PolicyLister = () => Promise<string[]>;

/** The policies the API server holds, named as the agents' `/v1/policy` lists them. */
export function kubePolicyLister(kc: KubeConfig): PolicyLister {
  const net = kc.makeApiClient(NetworkingV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  type Item = { metadata?: { name?: string; namespace?: string } };
  const names = (kind: string, items: readonly Item[] | undefined): string[] => (items ?? []).map((i) => `${kind}/${i.metadata?.namespace ?? ""}/${i.metadata?.name ?? ""}`);
  const cilium = async (plural: string): Promise<Item[]> => ((await custom.listClusterCustomObject({ group: "cilium.io", version: "v2", plural })) as { items?: Item[] }).items ?? [];
  return async () => [
    ...names("NetworkPolicy", (await net.listNetworkPolicyForAllNamespaces()).items),
    ...names("CiliumNetworkPolicy", await cilium("ciliumnetworkpolicies")),
    ...names("CiliumClusterwideNetworkPolicy", await cilium("ciliumclusterwidenetworkpolicies")),
  ];
}

export interface AgentConvergenceOptions {
  /** How long desiredRevision waits for every agent to hold the API server's policies. */
  settleTimeoutMs?: number;
  /** The revision must hold still this long: the agent recompiles after a short debounce. */
  quietMs?: number;
}

/**
 * Policy revisions are per agent (each node's datapath counts its own applies), while the runner
 * waits on one number. desiredRevision therefore remembers each agent's own target under the
 * number it returns (the highest), and pendingEndpoints checks every agent against its own target.
 */
export class AgentConvergence implements ConvergenceWaiter {
  readonly #targets = new Map<number, Map<AgentAddress, number>>();

  constructor(
    private readonly agents: readonly AgentAddress[],
    private readonly listPolicies: PolicyLister,
    private readonly opts: AgentConvergenceOptions = {},
  ) {}

  async desiredRevision(signal?: AbortSignal, scope?: ConvergenceScope): Promise<number> {
    if (scope && (await this.#agentsReportRealized())) return this.#scopedRevision(scope, signal);
    return this.#clusterRevision(signal);
  }

  /** Agents before `realized` existed in /v1/policy get the cluster-wide wait. */
  async #agentsReportRealized(): Promise<boolean> {
    for (const agent of this.agents) {
      const status = PolicyStatusSchema.parse(await getAgentJson(agent, "/v1/policy"));
      if (status.realized === undefined) return false;
    }
    return true;
  }

  /**
   * Every agent's last compile read the scope's policies at (at least) the resourceVersions the
   * scenario wrote, and none it deleted: that compile's revision is the target. Other scenarios'
   * policy churn does not matter, and nothing waits for revisions to stop moving.
   */
  async #scopedRevision(scope: ConvergenceScope, signal?: AbortSignal): Promise<number> {
    const settleMs = this.opts.settleTimeoutMs ?? 20_000;
    const targets = new Map<AgentAddress, number>();
    let lagging = "";
    try {
      await waitFor(
        "every agent to compile the scenario's policies",
        async () => {
          if (signal?.aborted) throw new Error("interrupted");
          for (const agent of this.agents) {
            const status = PolicyStatusSchema.parse(await getAgentJson(agent, "/v1/policy"));
            const missing = scopeMisses(scope, status);
            if (missing !== undefined) {
              lagging = `${agent.label}: ${missing}`;
              return undefined;
            }
            targets.set(agent, status.realized!.revision);
          }
          return true;
        },
        { timeoutMs: settleMs, intervalMs: 100 },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message} (${lagging})`);
    }
    const max = Math.max(0, ...targets.values());
    this.#targets.set(max, targets);
    return max;
  }

  async #clusterRevision(signal?: AbortSignal): Promise<number> {
    const want = new Set(await this.listPolicies());
    const same = (have: string[]): boolean => have.length === want.size && have.every((k) => want.has(k));
    const settleMs = this.opts.settleTimeoutMs ?? 20_000;
    // Every agent has seen the API server's policy set (adds and deletes)...
    await waitFor(
      `every agent to hold the ${want.size} policies of the API server`,
      async () => {
        if (signal?.aborted) throw new Error("interrupted");
        for (const agent of this.agents) {
          const status = PolicyStatusSchema.parse(await getAgentJson(agent, "/v1/policy"));
          if (!same(status.policies.map((p) => `${p.kind}/${p.namespace}/${p.name}`))) return undefined;
        }
        return true;
      },
      { timeoutMs: settleMs, intervalMs: 100 },
    );
    // ...and its compile of them has happened: the revision no longer moves.
    const quiet = this.opts.quietMs ?? 300;
    let previous = await this.#revisions();
    const revisions = await waitFor(
      "the agents' policy revisions to settle",
      async () => {
        await new Promise((r) => setTimeout(r, quiet));
        const now = await this.#revisions();
        const stable = [...now].every(([a, r]) => previous.get(a) === r);
        previous = now;
        return stable ? now : undefined;
      },
      { timeoutMs: settleMs, intervalMs: 0 },
    );
    const max = Math.max(0, ...revisions.values());
    this.#targets.set(max, revisions);
    return max;
  }

  async pendingEndpoints(revision: number): Promise<string[]> {
    const targets = this.#targets.get(revision);
    const pending: string[] = [];
    for (const agent of this.agents) {
      const target = targets?.get(agent) ?? revision;
      const body = (await getAgentJson(agent, `/v1/status?revision=${target}`)) as {
        nodeName?: string;
        revisionCheck?: { realized: boolean; pending: Array<{ namespace: string; podName: string }> };
      };
      const check = body.revisionCheck;
      if (!check) throw new Error(`agent ${agent.label}: /v1/status?revision=${target} has no revisionCheck`);
      for (const p of check.pending) pending.push(`${p.namespace}/${p.podName}`);
      // The agent itself has not compiled R yet though no endpoint lags: its node is what waits.
      if (!check.realized && check.pending.length === 0) pending.push(`node/${body.nodeName ?? agent.label}`);
    }
    return pending.sort();
  }

  async #revisions(): Promise<Map<AgentAddress, number>> {
    const out = new Map<AgentAddress, number>();
    for (const agent of this.agents) out.set(agent, AgentStatusSchema.parse(await getAgentJson(agent, "/v1/status")).policyRevision);
    return out;
  }
}

/** Why an agent's last compile does not cover the scope yet, or undefined when it does. */
export function scopeMisses(scope: ConvergenceScope, status: PolicyStatus): string | undefined {
  const realized = status.realized;
  if (!realized) return "no compile yet";
  // A policy the agent refused never reaches a compile; it has still been handled (and reported).
  const rejected = new Set(status.policies.filter((p) => p.problems?.some((m) => m.startsWith("rejected") || m.startsWith("update rejected"))).map((p) => (p.namespace ? `${p.kind}/${p.namespace}/${p.name}` : `${p.kind}/${p.name}`)));
  for (const [key, rv] of scope.present) {
    if (rejected.has(key)) continue;
    const have = realized.policies[key];
    if (have === undefined) return `${key} not compiled yet`;
    if (rv !== "" && !atLeast(have, rv)) return `${key} compiled at resourceVersion ${have}, waiting for ${rv}`;
  }
  for (const key of scope.absent) if (realized.policies[key] !== undefined) return `${key} still compiled`;
  return undefined;
}

/** resourceVersions are opaque, but etcd's are integers: newer-or-equal when both are, else equal. */
function atLeast(have: string, want: string): boolean {
  if (/^\d+$/.test(have) && /^\d+$/.test(want)) return BigInt(have) >= BigInt(want);
  return have === want;
}
