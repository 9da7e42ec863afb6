// Server-side apply of plain manifests, as `kubectl apply --server-side` does.
import { HttpMethod, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";

export const FIELD_MANAGER = "conform";

/**
 * Server-side apply that sends each manifest exactly as written. KubernetesObjectApi.patch
 * serializes built-in kinds through client-node's typed models first, which drops every field the
 * model does not know: a NetworkPolicy with `podSelecter:` would reach the API server as `{}` and
 * select every pod. Here the bytes go as they are, with strict field validation as kubectl asks
 * for, so a misspelt field is refused by the API server, naming the field.
 */
class ExactApplyApi extends KubernetesObjectApi {
  static forConfig(kc: KubeConfig): ExactApplyApi {
    const api = kc.makeApiClient(ExactApplyApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  async applyExactly(object: KubernetesObject): Promise<KubernetesObject> {
    const path = await this.specUriPath(object, "patch");
    const request = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    request.setHeaderParam("Accept", "application/json");
    request.setHeaderParam("Content-Type", PatchStrategy.ServerSideApply);
    request.setQueryParam("fieldManager", FIELD_MANAGER);
    request.setQueryParam("force", "true");
    request.setQueryParam("fieldValidation", "Strict");
    request.setBody(JSON.stringify(object));
    return this.requestPromise(request);
  }
}

export async function applyObjects(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<KubernetesObject[]> {
  const api = ExactApplyApi.forConfig(kc);
  const applied: KubernetesObject[] = [];
  for (const obj of objects) applied.push(await api.applyExactly(obj));
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
