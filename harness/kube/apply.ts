// Server-side apply of plain manifests, as `kubectl apply --server-side` does.
import { createConfiguration, KubernetesObjectApi, PatchStrategy, ServerConfiguration } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject, RequestContext } from "@kubernetes/client-node";

export const FIELD_MANAGER = "conform";

/**
 * An object API that asks for strict field validation, as kubectl does: without it the server
 * only warns about unknown or duplicate fields, and a typo in a policy would be silently dropped.
 */
function strictObjectApi(kc: KubeConfig): KubernetesObjectApi {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  return new KubernetesObjectApi(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [
        {
          pre: async (ctx: RequestContext) => {
            ctx.setQueryParam("fieldValidation", "Strict");
            return ctx;
          },
          post: async (rsp) => rsp,
        },
      ],
    }),
  );
}

export async function applyObjects(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<KubernetesObject[]> {
  const api = strictObjectApi(kc);
  const applied: KubernetesObject[] = [];
  for (const obj of objects) {
    applied.push(await api.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
  }
  return applied;
}

/** Deletes objects, ignoring those already gone. */
export async function deleteObjects(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    try {
      await api.delete(obj);
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
}

/** The API server's own words from a failed request (validation messages name the field). */
export function apiErrorMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === "string") {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  if (body && typeof body === "object" && "message" in body) return String((body as { message: unknown }).message);
  return err instanceof Error ? err.message : String(err);
}
