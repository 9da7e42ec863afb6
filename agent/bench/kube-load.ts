/**
 * The API-server side of the scale bench: applying hundreds of objects with a few requests in
 * flight, listing policies as the agents name them, and counting the bench's pods by phase.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { apiErrorMessage, applyObjects } from "../../harness/kube/apply.js";
import { BENCH_LABEL, BENCH_LABEL_VALUE } from "./scale-workload.js";

/**
 * Server-side applies `objects` with `concurrency` requests in flight (in order within a worker).
 * Checks `signal` between objects so Ctrl-C stops a long apply promptly.
 */
export async function applyAll(
  kc: KubeConfig,
  objects: readonly KubernetesObject[],
  opts: { concurrency: number; signal?: AbortSignal },
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < objects.length) {
      if (opts.signal?.aborted) throw new Error("interrupted");
      const obj = objects[next++]!;
      try {
        await applyObjects(kc, [obj]);
      } catch (err) {
        throw new Error(`apply ${obj.kind} ${obj.metadata?.namespace ?? ""}/${obj.metadata?.name}: ${apiErrorMessage(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
}

export { kubePolicyLister as policyLister } from "../../harness/cluster/local/agent-flows.js";

export interface PodCensus {
  readonly total: number;
  readonly ready: number;
  /** Pods not Ready, by the first waiting reason or phase: what a stuck run is stuck on. */
  readonly notReady: ReadonlyMap<string, number>;
}

export async function benchPods(kc: KubeConfig): Promise<PodCensus> {
  const list = await kc.makeApiClient(CoreV1Api).listPodForAllNamespaces({ labelSelector: `${BENCH_LABEL}=${BENCH_LABEL_VALUE}` });
  let ready = 0;
  const notReady = new Map<string, number>();
  for (const pod of list.items) {
    if (pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) {
      ready++;
      continue;
    }
    const unschedulable = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False")?.reason;
    const why = unschedulable ?? pod.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? pod.status?.phase ?? "Unknown";
    notReady.set(why, (notReady.get(why) ?? 0) + 1);
  }
  return { total: list.items.length, ready, notReady };
}
