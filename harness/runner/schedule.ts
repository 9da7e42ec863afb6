// --parallel N: up to N scenarios at once, each in its own namespaces. Two scenarios that touch a
// common namespace never overlap, and a scenario that applies cluster-scoped objects (a
// clusterwide policy changes what every pod may do) runs alone.
import { fixtureObjects } from "../spec/loader.js";
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

export interface ScenarioLocks {
  namespaces: Set<string>;
  /** Touches cluster-scoped state other than its own namespaces: runs alone. */
  exclusive: boolean;
}

export function scenarioLocks(scenario: LoadedScenario): ScenarioLocks {
  const objects: KubeObject[] = [...fixtureObjects(scenario), ...scenarioManifests(scenario)];
  const namespaces = new Set<string>();
  let exclusive = false;
  for (const o of objects) {
    if (o.kind === "Namespace") namespaces.add(o.metadata.name);
    else if (CLUSTER_SCOPED.has(o.kind)) exclusive = true;
    else namespaces.add(typeof o.metadata.namespace === "string" ? o.metadata.namespace : "default");
  }
  return { namespaces, exclusive };
}

function conflicts(a: ScenarioLocks, b: ScenarioLocks): boolean {
  if (a.exclusive || b.exclusive) return true;
  for (const ns of a.namespaces) if (b.namespaces.has(ns)) return true;
  return false;
}

/**
 * Runs `work` over `items` with at most `parallel` at once, never two whose locks conflict;
 * among runnable items the earliest goes first. Once `stop()` returns true no new item starts
 * and `onNotStarted` gets each remaining one. Results come back in input order.
 */
export async function runScheduled<T, R>(
  items: readonly T[],
  options: {
    parallel: number;
    locks: (item: T) => ScenarioLocks;
    work: (item: T) => Promise<R>;
    stop?: () => boolean;
    onNotStarted: (item: T) => R;
    /** The result for an item whose work threw (work is expected to report its own errors). */
    onError: (item: T, error: unknown) => R;
  },
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const locks = items.map(options.locks);
  const waiting = items.map((_, i) => i);
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
