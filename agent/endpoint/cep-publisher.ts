/**
 * Publishes endpoints as CiliumEndpoint objects (namespaced, named like the pod, owned by the pod
 * so the API's garbage collector removes them with it). Writes are server-side apply with the
 * agent's field manager: creating and updating are one idempotent call, and a re-published
 * endpoint (restore, identity change) converges to the same object. The realized policy revision
 * is not published: every policy change bumps it on every endpoint, and a write per endpoint per
 * change was most of the API server's load (the agent API serves it: /v1/endpoints, /v1/policy).
 */
import { CustomObjectsApi, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { isConflict, isNotFound } from "../k8s/api-errors.js";
import { CILIUM_API_VERSION, CILIUM_GROUP, CILIUM_RESOURCES, CILIUM_VERSION, ciliumEndpointSchema, parseWith } from "../k8s/cilium-types.js";
import type { CiliumEndpoint } from "../k8s/cilium-types.js";
import type { Endpoint, EndpointPublisher } from "./types.js";

export const AGENT_FIELD_MANAGER = "conform-agent";

/** Identity labels as the CEP lists them: "source:key=value", sorted. */
export function cepIdentityLabels(labels: Readonly<Record<string, string>>): string[] {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`);
}

/** The CiliumEndpoint for an endpoint; `nodeIP` is the address other nodes reach this node on. */
export function ciliumEndpointObject(ep: Endpoint, nodeIP: string): CiliumEndpoint {
  return {
    apiVersion: CILIUM_API_VERSION,
    kind: CILIUM_RESOURCES.endpoint.kind,
    metadata: {
      name: ep.pod.name,
      namespace: ep.pod.namespace,
      ...(ep.pod.uid ? { ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: ep.pod.name, uid: ep.pod.uid }] } : {}),
    },
    status: {
      id: ep.id,
      identity: { id: ep.identity.id, labels: cepIdentityLabels(ep.identity.labels) },
      networking: { addressing: [{ ipv4: ep.ipv4 }], node: nodeIP },
      state: ep.state,
      "named-ports": ep.namedPorts.map((p) => ({ ...p })),
      "external-identifiers": {
        "container-id": ep.containerId,
        "cni-attachment-id": `${ep.containerId}:${ep.ifName}`,
        "k8s-namespace": ep.pod.namespace,
        "k8s-pod-name": ep.pod.name,
        "pod-name": `${ep.pod.namespace}/${ep.pod.name}`,
      },
      encryption: { key: 0 },
      ...(ep.serviceAccount ? { "service-account": ep.serviceAccount } : {}),
    },
  };
}

export class CiliumEndpointPublisher implements EndpointPublisher {
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;

  constructor(
    kc: KubeConfig,
    private readonly nodeIP: string,
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async publish(ep: Endpoint): Promise<void> {
    const obj = ciliumEndpointObject(ep, this.nodeIP) as unknown as KubernetesObject;
    await this.objects.patch(obj, undefined, undefined, AGENT_FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  /**
   * Deletes the CEP only if it is this endpoint's (same container id): a pod re-created under the
   * same name on another node publishes its own CEP, which an old DEL here must not remove.
   */
  async unpublish(ep: Endpoint): Promise<void> {
    const api = { group: CILIUM_GROUP, version: CILIUM_VERSION, plural: CILIUM_RESOURCES.endpoint.plural, namespace: ep.pod.namespace, name: ep.pod.name };
    let current: CiliumEndpoint;
    try {
      const parsed = parseWith(ciliumEndpointSchema, await this.custom.getNamespacedCustomObject(api));
      if (!parsed.ok) throw new Error(`CiliumEndpoint ${ep.pod.namespace}/${ep.pod.name} does not validate: ${parsed.problem}`);
      current = parsed.value;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (current.status?.["external-identifiers"]?.["container-id"] !== ep.containerId) return;
    try {
      await this.custom.deleteNamespacedCustomObject({ ...api, body: { preconditions: { ...(current.metadata.uid ? { uid: current.metadata.uid } : {}) } } });
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      throw err;
    }
  }
}
