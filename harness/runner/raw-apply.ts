// Server-side apply that sends the manifest exactly as written. @kubernetes/client-node's
// KubernetesObjectApi.patch serializes built-in kinds through its typed models first, which drops
// every field the model does not know: a NetworkPolicy with `podSelecter:` would reach the API
// server as `{}` and select every pod, and strict field validation would never see the typo.
// Scenarios are conformance tests, so a misspelt field must be refused by the API server.
import { HttpMethod, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { FIELD_MANAGER } from "../kube/apply.js";

class RawApplyApi extends KubernetesObjectApi {
  static forConfig(kc: KubeConfig): RawApplyApi {
    const api = kc.makeApiClient(RawApplyApi);
    api.setDefaultNamespace(kc);
    return api;
  }

  async applyRaw(object: KubernetesObject): Promise<KubernetesObject> {
    const path = await this.specUriPath(object, "patch");
    const request = this.configuration.baseServer.makeRequestContext(path, HttpMethod.PATCH);
    request.setHeaderParam("Accept", "application/json");
    request.setHeaderParam("Content-Type", PatchStrategy.ServerSideApply);
    request.setQueryParam("fieldManager", FIELD_MANAGER);
    request.setQueryParam("force", "true");
    // As kubectl does: unknown or duplicate fields are errors, not warnings.
    request.setQueryParam("fieldValidation", "Strict");
    request.setBody(JSON.stringify(object));
    return this.requestPromise(request);
  }
}

export async function applyExactly(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<KubernetesObject[]> {
  const api = RawApplyApi.forConfig(kc);
  const applied: KubernetesObject[] = [];
  for (const o of objects) applied.push(await api.applyRaw(o));
  return applied;
}
