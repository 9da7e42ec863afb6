/**
 * The typed caches the agent runs: Pods (all, or those bound to this node), Namespaces, Nodes,
 * CiliumIdentities and CiliumEndpoints (cluster-wide: the ipcache is built from them). Core
 * objects come as the client's V1 types; the cilium.io objects are validated (cilium-types.ts).
 */
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api } from "@kubernetes/client-node";
import type { KubeConfig, V1EndpointSlice, V1Namespace, V1Node, V1Pod } from "@kubernetes/client-node";
import type { ZodType } from "zod";
import { CILIUM_GROUP, CILIUM_RESOURCES, CILIUM_VERSION, ciliumEndpointSchema, ciliumIdentitySchema, parseWith } from "./cilium-types.js";
import type { CiliumEndpoint, CiliumIdentity } from "./cilium-types.js";
import type { Logger } from "./log.js";
import { silentLogger } from "./log.js";
import { ResourceCache } from "./resource-cache.js";
import type { ListOptions } from "./resource-cache.js";

export interface CacheFactoryOptions {
  readonly log?: Logger;
}

/** Pods; with `nodeName` only those bound to that node (field selector spec.nodeName). */
export function podCache(kc: KubeConfig, opts: CacheFactoryOptions & { nodeName?: string } = {}): ResourceCache<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  return new ResourceCache<V1Pod>(kc, {
    resource: opts.nodeName ? `pods on ${opts.nodeName}` : "pods",
    path: "/api/v1/pods",
    list: (o: ListOptions) => core.listPodForAllNamespaces(o),
    ...(opts.nodeName ? { fieldSelector: `spec.nodeName=${opts.nodeName}` } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

export function namespaceCache(kc: KubeConfig, opts: CacheFactoryOptions = {}): ResourceCache<V1Namespace> {
  const core = kc.makeApiClient(CoreV1Api);
  return new ResourceCache<V1Namespace>(kc, {
    resource: "namespaces",
    path: "/api/v1/namespaces",
    list: (o: ListOptions) => core.listNamespace(o),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

export function nodeCache(kc: KubeConfig, opts: CacheFactoryOptions = {}): ResourceCache<V1Node> {
  const core = kc.makeApiClient(CoreV1Api);
  return new ResourceCache<V1Node>(kc, {
    resource: "nodes",
    path: "/api/v1/nodes",
    list: (o: ListOptions) => core.listNode(o),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

function ciliumCache<T extends CiliumIdentity | CiliumEndpoint>(kc: KubeConfig, plural: string, schema: ZodType<T>, opts: CacheFactoryOptions): ResourceCache<T> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const log = opts.log ?? silentLogger;
  return new ResourceCache<T>(kc, {
    resource: plural,
    path: `/apis/${CILIUM_GROUP}/${CILIUM_VERSION}/${plural}`,
    list: async (o: ListOptions) =>
      (await custom.listClusterCustomObject({ group: CILIUM_GROUP, version: CILIUM_VERSION, plural, ...o })) as {
        items?: unknown[];
        metadata?: { resourceVersion?: string };
      },
    parse: (raw: unknown) => {
      const r = parseWith(schema, raw);
      if (r.ok) return r.value;
      const meta = (raw as { metadata?: { name?: string; namespace?: string } }).metadata;
      log.warn("skipping an invalid object", { resource: plural, name: meta?.name, namespace: meta?.namespace, problem: r.problem });
      return undefined;
    },
    ...(opts.log ? { log: opts.log } : {}),
  });
}

/** All CiliumIdentities (cluster-scoped). */
export function ciliumIdentityCache(kc: KubeConfig, opts: CacheFactoryOptions = {}): ResourceCache<CiliumIdentity> {
  return ciliumCache<CiliumIdentity>(kc, CILIUM_RESOURCES.identity.plural, ciliumIdentitySchema, opts);
}

/** All CiliumEndpoints of every namespace (the ipcache needs every node's pods). */
export function ciliumEndpointCache(kc: KubeConfig, opts: CacheFactoryOptions = {}): ResourceCache<CiliumEndpoint> {
  return ciliumCache<CiliumEndpoint>(kc, CILIUM_RESOURCES.endpoint.plural, ciliumEndpointSchema, opts);
}

/** Waits until every cache has its first full list (or the signal aborts). */
export async function waitForSync(caches: readonly { readonly synced: Promise<void> }[], signal?: AbortSignal): Promise<void> {
  const all = Promise.all(caches.map((c) => c.synced));
  if (!signal) {
    await all;
    return;
  }
  await Promise.race([
    all,
    new Promise<never>((_, reject) => {
      if (signal.aborted) reject(new Error("aborted while waiting for caches to sync"));
      signal.addEventListener("abort", () => reject(new Error("aborted while waiting for caches to sync")), { once: true });
    }),
  ]);
}

/**
 * The `default/kubernetes` EndpointSlices: where the API server really listens. In-cluster config
 * only names the `kubernetes` Service's ClusterIP, which policy never sees (it runs after service
 * translation), so the kube-apiserver identity is keyed on these addresses, as Cilium does.
 */
export function apiServerEndpointSliceCache(kc: KubeConfig, opts: CacheFactoryOptions = {}): ResourceCache<V1EndpointSlice> {
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  return new ResourceCache<V1EndpointSlice>(kc, {
    resource: "endpointslices of default/kubernetes",
    path: "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
    list: (o: ListOptions) => discovery.listNamespacedEndpointSlice({ namespace: "default", ...o }),
    labelSelector: "kubernetes.io/service-name=kubernetes",
    ...(opts.log ? { log: opts.log } : {}),
  });
}
