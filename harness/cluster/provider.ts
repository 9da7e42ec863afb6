// The cluster-provider contract the runner drives: acquire a cluster (create it, reuse it, or take
// the one a kubeconfig names), learn what it can do, run probes in it, read its flow log, and
// release it. Implementations: local (netns nodes, this repository), kind (shells `kind`) and
// existing (any kubeconfig). Everything a scenario needs from "the cluster" goes through a handle,
// so the runner never asks which provider it is talking to.
import type { KubeConfig } from "@kubernetes/client-node";
import type { ProbeExecutor } from "../probe/executor.js";
import type { FlowRecord } from "../report/model.js";
import type { ClusterCapabilities } from "../spec/requirements.js";

export const CLUSTER_PROVIDERS = ["local", "kind", "existing"] as const;
export type ClusterProviderName = (typeof CLUSTER_PROVIDERS)[number];

export function isClusterProviderName(value: string): value is ClusterProviderName {
  return (CLUSTER_PROVIDERS as readonly string[]).includes(value);
}

/**
 * What the spec's `checkRequirements` knows, plus what only the runner checks: scenarios that
 * apply policies, target services or talk to world hosts are skipped with a reason on clusters
 * that cannot do those things, instead of failing for reasons that have nothing to do with them.
 */
export interface RunnerCapabilities extends ClusterCapabilities {
  /** NetworkPolicy / CiliumNetworkPolicy are enforced. The reference ptp CNI enforces nothing. */
  policyEnforcement: boolean;
  /** ClusterIP services answer (kube-proxy or the agent's replacement). The local ptp cluster has neither. */
  serviceLoadBalancing: boolean;
  /** The world hosts of 203.0.113.0/24 and their DNS server exist (see `ClusterHandle.world`). */
  world: boolean;
}

/** A node by its 1-based index, the index scenarios write as `node: N` and `node:N:port`. */
export interface ClusterNode {
  index: number;
  name: string;
  /** InternalIP: what `host:` and `node:N` targets probe. */
  address: string;
}

export interface ClusterVersions {
  /** gitVersion from the API server's /version. */
  kubernetes: string;
  /** uname -r of the nodes (status.nodeInfo.kernelVersion of node 1). */
  kernel: string;
  /** The conform agent's version, when one runs in the cluster. */
  agent?: string;
}

/** The hosts outside the cluster that `world:` targets name. */
export interface WorldInfo {
  /** `ip:port` of the DNS server that answers for `zone`; world names are resolved with it. */
  dnsServer: string;
  /** A name the DNS server answers, queried by DNS probes (`world:<dns>:53`). */
  dnsProbeName: string;
}

export interface ClusterHandle {
  readonly provider: ClusterProviderName;
  /** Cluster name (local/kind) or kubeconfig context (existing). */
  readonly name: string;
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
  /** Nodes in index order: nodes[0] is node 1. */
  readonly nodes: readonly ClusterNode[];
  readonly capabilities: RunnerCapabilities;
  readonly versions: ClusterVersions;
  readonly probeExecutor: ProbeExecutor;
  readonly world?: WorldInfo;
  /** The datapath's flow log; absent when nothing in the cluster records flows. */
  readonly flowSource?: FlowSource;
  /** Absent when no agent computes policy: `wait: policy-converged` is then a reported no-op. */
  readonly convergence?: ConvergenceWaiter;
  /** Policies are loaded in audit mode (would-be drops reported, never applied). */
  readonly audit: boolean;
  /** The provider created this cluster during acquire (release removes it unless `keep`). */
  readonly created: boolean;
  readonly keep: boolean;
}

export interface AcquireOptions {
  /** Cluster name; for `existing` the kubeconfig context (default: its current context). */
  name?: string;
  /** Reuse a running cluster of that name (or create it) and leave it running at the end. */
  keep: boolean;
  /** Provider-specific cluster file: clusters/local/*.yaml or clusters/kind/*.yaml. */
  config?: string;
  /** For `existing`: the kubeconfig file (default $KUBECONFIG, then ~/.kube/config). */
  kubeconfig?: string;
  /** Passed through to the provider/agent; recorded in the report. */
  audit?: boolean;
  signal?: AbortSignal;
  /** Progress lines for the terminal. */
  log?: (line: string) => void;
}

export interface ClusterProvider {
  readonly name: ClusterProviderName;
  acquire(options: AcquireOptions): Promise<ClusterHandle>;
  /** Removes what acquire created, unless `keep`; never touches a cluster it did not create. */
  release(handle: ClusterHandle): Promise<void>;
}

/** A cluster problem the user has to fix (missing tool, name taken, unhealthy cluster): exit 2. */
export class ClusterProviderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClusterProviderError";
  }
}

// ---------------------------------------------------------------------------------------------
// Flows

/**
 * One filter of a flow query, Hubble FlowFilter style: every field given must match (AND); a
 * field's list matches when any entry matches (OR). Ports and protocols compare on the flow's
 * `l4`, addresses on `IP`.
 */
export interface FlowFilter {
  sourceIp?: string[];
  sourcePort?: number[];
  destinationIp?: string[];
  destinationPort?: number[];
  /** `TCP`, `UDP`, `ICMPv4`. */
  protocol?: string[];
  /** FORWARDED, DROPPED, AUDIT, REDIRECTED, ERROR. */
  verdict?: string[];
}

export interface FlowQuery {
  since: Date;
  until: Date;
  /** A flow is returned when it matches any filter (OR); none or empty: every flow in the window. */
  filters?: FlowFilter[];
}

/**
 * The datapath's flow log: Hubble-shaped JSON records (bare Flow or `{flow, node_name, time}`).
 * The agent's `/v1/flows` API implements it. Implementations must return every flow whose `time`
 * lies in [since, until] from every node, including flows that reached the agent up to the moment
 * `query` is called.
 */
export interface FlowSource {
  query(query: FlowQuery): Promise<FlowRecord[]>;
  /**
   * Optional live view: every flow from `since` on that matches `filters`, as the agents record
   * it, until `signal` aborts (the promise then resolves). The runner uses it to end a probe as
   * soon as its packet is dropped by policy; without it probes wait out their timeouts.
   */
  follow?(query: Omit<FlowQuery, "until">, onFlow: (flow: FlowRecord) => void, signal: AbortSignal): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Policy convergence

/**
 * "Has every endpoint realized the policy the API server holds?" The agent fulfils it with its
 * policy revisions, as `cilium policy wait` does: revisions only grow, an endpoint has realized
 * revision R once its datapath enforces the policy computed at R.
 */
/** The policies a scenario wrote: what "converged" means for it. */
export interface ConvergenceScope {
  /** `Kind/namespace/name` → the resourceVersion the API server returned for the apply ("" unknown). */
  readonly present: ReadonlyMap<string, string>;
  /** `Kind/namespace/name` of policies the scenario deleted. */
  readonly absent: readonly string[];
}

export interface ConvergenceWaiter {
  /**
   * The revision that accounts for the scenario's policies (`scope`: applied at those
   * resourceVersions, deleted ones gone) or, without a scope, for every policy object the API
   * server held when this was called; the highest across agents. Scenarios running in parallel
   * keep changing the cluster's policy set, so the runner always passes its scope.
   */
  desiredRevision(signal?: AbortSignal, scope?: ConvergenceScope): Promise<number>;
  /** Endpoints (`namespace/pod`, or `node/<name>` for host endpoints) that have not realized revision ≥ R; empty once converged. */
  pendingEndpoints(revision: number, signal?: AbortSignal): Promise<string[]>;
}
