/**
 * The pod → identity step of CNI ADD against the API: reads the Pod and its Namespace (fresh GETs:
 * an informer may lag behind a pod that was created a moment ago), builds the identity label set
 * with the policy engine's pure helper and allocates its number cluster-wide.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { apiStatus, isNotFound } from "../k8s/api-errors.js";
import type { IdentityAllocator } from "../identity/allocator.js";
import { identityLabels } from "../identity/pod-identity.js";
import { NAMED_PORT_PROTOCOLS } from "../deploy/crds/vocabulary.js";
import { EndpointError } from "./errors.js";
import type { IdentityResolver, NamedPort, PodPresence, PodRef, ResolvedIdentity } from "./types.js";

export interface KubeIdentityResolverOptions {
  readonly kc: KubeConfig;
  readonly allocator: IdentityAllocator;
  /** `io.cilium.k8s.policy.cluster` (default "default", as in Cilium). */
  readonly clusterName?: string;
}

export function namedPortsOf(pod: V1Pod): NamedPort[] {
  const out: NamedPort[] = [];
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (!p.name) continue;
      const protocol = (NAMED_PORT_PROTOCOLS as readonly string[]).includes(p.protocol ?? "TCP") ? (p.protocol ?? "TCP") : "TCP";
      out.push({ name: p.name, port: p.containerPort, protocol: protocol as NamedPort["protocol"] });
    }
  }
  return out;
}

export class KubeIdentityResolver implements IdentityResolver {
  private readonly core: CoreV1Api;

  constructor(private readonly opts: KubeIdentityResolverOptions) {
    this.core = opts.kc.makeApiClient(CoreV1Api);
  }

  async resolve(ref: PodRef): Promise<ResolvedIdentity> {
    let pod: V1Pod;
    try {
      pod = await this.core.readNamespacedPod({ name: ref.name, namespace: ref.namespace });
    } catch (err) {
      if (isNotFound(err)) throw new EndpointError("not-found", `pod ${ref.namespace}/${ref.name} does not exist in the API`);
      throw new EndpointError("try-again", `cannot read pod ${ref.namespace}/${ref.name}: HTTP ${apiStatus(err) ?? "?"} ${(err as Error).message}`);
    }
    if (ref.uid && pod.metadata?.uid && pod.metadata.uid !== ref.uid) {
      throw new EndpointError("not-found", `pod ${ref.namespace}/${ref.name} has UID ${pod.metadata.uid}, the runtime asked for ${ref.uid} (the pod was re-created)`);
    }
    let namespace;
    try {
      namespace = await this.core.readNamespace({ name: ref.namespace });
    } catch (err) {
      throw new EndpointError("try-again", `cannot read namespace ${ref.namespace}: HTTP ${apiStatus(err) ?? "?"} ${(err as Error).message}`);
    }
    const labels = identityLabels(pod, namespace, this.opts.clusterName ? { clusterName: this.opts.clusterName } : {});
    const identity = await this.opts.allocator.allocate(labels);
    return {
      id: identity.id,
      labels: identity.labels,
      serviceAccount: pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount ?? "default",
      ...(pod.metadata?.uid ? { podUid: pod.metadata.uid } : {}),
      namedPorts: namedPortsOf(pod),
    };
  }

  release(identityId: number): void {
    this.opts.allocator.release(identityId);
  }

  async podPresence(ref: PodRef): Promise<PodPresence> {
    try {
      const pod = await this.core.readNamespacedPod({ name: ref.name, namespace: ref.namespace });
      if (ref.uid && pod.metadata?.uid && pod.metadata.uid !== ref.uid) return "gone";
      return "present";
    } catch (err) {
      return isNotFound(err) ? "gone" : "unknown";
    }
  }
}
