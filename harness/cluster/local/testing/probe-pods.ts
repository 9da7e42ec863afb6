// Probe pods for integration tests that drive a cluster directly (without scenarios): one
// `conform/probe:v1` server pod pinned to a node, and the wait until it is Ready with an IP.
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { waitFor } from "../../../util/wait.js";

/** Creates `namespace/name` on `node` running `probe <args>` (default: HTTP on 80). */
export async function createProbePod(core: CoreV1Api, o: { namespace: string; name: string; node: string; labels?: Record<string, string>; args?: string[] }): Promise<void> {
  await core.createNamespacedPod({
    namespace: o.namespace,
    body: {
      metadata: { name: o.name, namespace: o.namespace, labels: o.labels ?? { app: o.name } },
      spec: { nodeSelector: { "kubernetes.io/hostname": o.node }, containers: [{ name: "probe", image: "conform/probe:v1", args: o.args ?? ["serve"] }] },
    },
  });
}

/** The pod once it is Ready and has its IP; `onTimeout` adds context (agent logs) to the error. */
export function waitPodReady(core: CoreV1Api, namespace: string, name: string, onTimeout?: () => Promise<string>): Promise<V1Pod> {
  return waitFor(
    `pod ${namespace}/${name} Ready`,
    async () => {
      const p = await core.readNamespacedPod({ namespace, name });
      return p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") && p.status.podIP ? p : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250, ...(onTimeout ? { onTimeout } : {}) },
  );
}
