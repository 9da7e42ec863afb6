// --parallel N: up to N scenarios at once, each in its own namespaces. Two scenarios that touch a
// common namespace never overlap. Cluster-scoped objects reach further, so a scenario applying them
// is held apart from what they can reach:
// - a CiliumClusterwideNetworkPolicy with an endpointSelector changes what the pods it selects may
//   do: it never overlaps a scenario owning a pod it selects (or pods it cannot know the labels of).
//   A rule that only denies, without default deny, reaches only the peers it names;
// - one with a nodeSelector (a host policy) changes what may reach the nodes: it never overlaps a
//   scenario that probes node addresses or runs host-network pods; with egress rules it also
//   restricts the nodes' own connections, and runs alone;
// - any other cluster-scoped object (CRDs, RBAC, Nodes, …) makes the scenario run alone.
import { identityLabels } from "../../agent/identity/pod-identity.js";
import type { Labels } from "../../agent/identity/labels.js";
import { matchesSelector } from "../../agent/identity/selector.js";
import type { Selector } from "../../agent/identity/selector.js";
import { parsePolicy } from "../../agent/policy/parse-policy.js";
import type { RuleElement } from "../../agent/policy/types.js";
import { batchBySource } from "../spec/cells.js";
import { fixtureObjects, scenarioCells } from "../spec/loader.js";
import type { LoadedScenario } from "../spec/loader.js";
import type { KubeObject } from "../spec/manifests.js";
import { scenarioManifests } from "./requirements.js";

/** Kinds without a namespace. Anything else without metadata.namespace lands in "default". */
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "Node",
  "CiliumClusterwideNetworkPolicy",
  "CiliumIdentity",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "PersistentVolume",
  "StorageClass",
  "PriorityClass",
  "IngressClass",
  "RuntimeClass",
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
  "APIService",
]);

/** Controllers whose pods' labels are only known once they exist. */
const WORKLOAD_KINDS = new Set(["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController"]);

/** Label set of every namespace, which the API server adds itself (Kubernetes ≥ 1.21). */
const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

export interface ScenarioLocks {
  namespaces: Set<string>;
  /** Touches cluster-scoped state other than its own namespaces and clusterwide policies: runs alone. */
  exclusive: boolean;
  /** endpointSelectors of the clusterwide policies it applies. */
  podSelectors: Selector[];
  /** Peer selectors of its clusterwide rules that only deny without default deny (they reach only those peers). */
  denyPeers: Selector[];
  /** Applies a host policy (CCNP nodeSelector). */
  hostPolicy: boolean;
  /** Identity labels of the pods it creates (each namespace version it applies); undefined when some cannot be known. */
  podLabels: Labels[] | undefined;
  /** Probes node addresses (`host:`, `node:`) or runs host-network pods. */
  usesHosts: boolean;
}

interface PodShape {
  metadata: { name: string; namespace?: unknown; labels?: Record<string, string> };
  spec?: { hostNetwork?: boolean; serviceAccountName?: string; serviceAccount?: string };
}

export function scenarioLocks(scenario: LoadedScenario): ScenarioLocks {
  const objects: KubeObject[] = [...fixtureObjects(scenario), ...scenarioManifests(scenario)];
  const locks: ScenarioLocks = { namespaces: new Set(), exclusive: false, podSelectors: [], denyPeers: [], hostPolicy: false, podLabels: [], usesHosts: false };
  const namespaceVersions = new Map<string, Record<string, string>[]>();
  const pods: PodShape[] = [];
  for (const o of objects) {
    if (o.kind === "Namespace") {
      locks.namespaces.add(o.metadata.name);
      const labels = (o.metadata.labels ?? {}) as Record<string, string>;
      namespaceVersions.set(o.metadata.name, [...(namespaceVersions.get(o.metadata.name) ?? []), labels]);
    } else if (o.kind === "CiliumClusterwideNetworkPolicy") {
      addClusterwidePolicy(locks, o);
    } else if (CLUSTER_SCOPED.has(o.kind)) {
      locks.exclusive = true;
    } else {
      locks.namespaces.add(typeof o.metadata.namespace === "string" ? o.metadata.namespace : "default");
      if (o.apiVersion === "v1" && o.kind === "Pod") pods.push(o as unknown as PodShape);
      else if (WORKLOAD_KINDS.has(o.kind)) locks.podLabels = undefined;
    }
  }
  for (const pod of pods) {
    if (pod.spec?.hostNetwork) {
      locks.usesHosts = true;
      continue;
    }
    const ns = typeof pod.metadata.namespace === "string" ? pod.metadata.namespace : "default";
    const versions = namespaceVersions.get(ns);
    // A namespace the scenario does not create has labels it cannot know.
    if (!versions) locks.podLabels = undefined;
    for (const labels of versions ?? []) {
      locks.podLabels?.push(identityLabels({ ...pod, metadata: { ...pod.metadata, namespace: ns } }, { metadata: { name: ns, labels: { ...labels, [NAMESPACE_NAME_LABEL]: ns } } }));
    }
  }
  if (scenarioCells(scenario).some((c) => c.target.kind === "host" || c.target.kind === "node")) locks.usesHosts = true;
  return locks;
}

function addClusterwidePolicy(locks: ScenarioLocks, policy: KubeObject): void {
  const parsed = parsePolicy(policy);
  // A policy the agent would refuse changes nothing; one that cannot be read is kept apart from everything.
  if (!parsed.ok) {
    locks.exclusive = true;
    return;
  }
  for (const rule of parsed.policy.rules) {
    const denyOnlyPeers = denyOnlyPeerSelectors(rule.elements);
    if (!rule.host && denyOnlyPeers) locks.denyPeers.push(...denyOnlyPeers);
    else if (!rule.host) locks.podSelectors.push(rule.subject);
    // Host egress rules restrict the node's own connections (the kubelet's, the agent's), which
    // every scenario's pods depend on.
    else if (rule.elements.some((e) => e.direction === "egress")) locks.exclusive = true;
    else locks.hostPolicy = true;
  }
}

/**
 * A rule that only denies, asks for no default deny, and names its peers by label changes nothing
 * for a pod it selects except traffic with those peers: the peer selectors are what it reaches.
 * Undefined for any other rule.
 */
function denyOnlyPeerSelectors(elements: readonly RuleElement[]): Selector[] | undefined {
  const peers: Selector[] = [];
  for (const e of elements) {
    if (e.verdict !== "deny" || e.defaultDeny) return undefined;
    for (const p of e.peers) {
      if (p.kind !== "selector") return undefined;
      peers.push(p.selector);
    }
  }
  return peers;
}

function reaches(a: ScenarioLocks, b: ScenarioLocks): boolean {
  if (a.hostPolicy && b.usesHosts) return true;
  const selectors = [...a.podSelectors, ...a.denyPeers];
  if (selectors.length === 0) return false;
  if (b.podLabels === undefined) return true;
  return b.podLabels.some((labels) => selectors.some((s) => matchesSelector(s, labels)));
}

export function conflicts(a: ScenarioLocks, b: ScenarioLocks): boolean {
  if (a.exclusive || b.exclusive) return true;
  for (const ns of a.namespaces) if (b.namespaces.has(ns)) return true;
  return reaches(a, b) || reaches(b, a);
}

/** Rough seconds for pods to start and go, and for a step's apply, wait or flow query. */
const FIXTURE_COST_S = 5;
const STEP_COST_S = 1;

/**
 * A guess at a scenario's running time, to start the long ones first (the run then ends when
 * the longest chain does, not with a long scenario started last). Cells that should not connect
 * wait for their probe timeout, in waves of `concurrency` per source pod.
 */
export function scenarioCost(scenario: LoadedScenario, concurrency: number): number {
  let seconds = FIXTURE_COST_S;
  for (const step of scenario.steps) {
    seconds += STEP_COST_S;
    if (step.kind !== "expect") continue;
    // Source pods probe at the same time: the step lasts as long as its slowest one.
    const waves = batchBySource(step.cells).map((b) => Math.ceil(b.cells.filter((c) => c.expected.outcome !== "ALLOWED").length / concurrency));
    seconds += (Math.max(0, ...waves) * scenario.timeouts.probe) / 1000;
  }
  return seconds;
}

/**
 * Runs `work` over `items` with at most `parallel` at once, never two whose locks conflict;
 * among runnable items the costliest goes first, counting the cost of the items it conflicts with
 * (the earliest on a tie, or without `cost`). Once `stop()` returns true no new item starts
 * and `onNotStarted` gets each remaining one. Results come back in input order.
 */
export async function runScheduled<T, R>(
  items: readonly T[],
  options: {
    parallel: number;
    locks: (item: T) => ScenarioLocks;
    cost?: (item: T) => number;
    work: (item: T) => Promise<R>;
    stop?: () => boolean;
    onNotStarted: (item: T) => R;
    /** The result for an item whose work threw (work is expected to report its own errors). */
    onError: (item: T, error: unknown) => R;
  },
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const locks = items.map(options.locks);
  // A scenario that cannot overlap others heads a chain that runs one after another: its priority
  // is its own cost plus theirs, so the chain starts early instead of trailing at the end.
  const own = items.map((item) => options.cost?.(item) ?? 0);
  const costs = own.map((c, i) => c + own.reduce((sum, d, j) => (j !== i && conflicts(locks[i]!, locks[j]!) ? sum + d : sum), 0));
  // A stable sort keeps input order among equal costs.
  const waiting = items.map((_, i) => i).sort((a, b) => costs[b]! - costs[a]!);
  const running = new Map<number, Promise<void>>();
  const limit = Math.max(1, options.parallel);

  for (;;) {
    if (options.stop?.()) {
      for (const i of waiting.splice(0)) results[i] = options.onNotStarted(items[i]!);
    }
    while (running.size < limit) {
      const next = waiting.findIndex((i) => [...running.keys()].every((r) => !conflicts(locks[i]!, locks[r]!)));
      if (next === -1) break;
      const [i] = waiting.splice(next, 1) as [number];
      running.set(
        i,
        options
          .work(items[i]!)
          .catch((err: unknown) => options.onError(items[i]!, err))
          .then((r) => {
            results[i] = r;
            running.delete(i);
          }),
      );
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  return results;
}
