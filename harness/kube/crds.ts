import { ApiextensionsV1Api } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { waitFor } from "../util/wait.js";
import { applyObjects } from "./apply.js";

/** Applies CRDs and waits until every one reports Established, so custom objects can be created. */
export async function installCrds(kc: KubeConfig, crds: readonly KubernetesObject[], timeoutMs = 30_000): Promise<void> {
  await applyObjects(kc, crds);
  const api = kc.makeApiClient(ApiextensionsV1Api);
  for (const crd of crds) {
    const name = crd.metadata?.name ?? "";
    await waitFor(
      `CRD ${name} to be Established`,
      async () => {
        const got = await api.readCustomResourceDefinition({ name });
        return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }
}
