/**
 * Caches of the three policy kinds the engine reads: NetworkPolicy, CiliumNetworkPolicy and
 * CiliumClusterwideNetworkPolicy. Objects stay raw (plain JSON): the policy engine's parser is
 * the one validator, and it must see exactly what the API server stored to report problems by
 * field path. Typed list items lack `apiVersion`/`kind`, so both are stamped here.
 */
import { CustomObjectsApi, NetworkingV1Api } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import { CILIUM_API_VERSION, CILIUM_GROUP, CILIUM_VERSION } from "./cilium-types.js";
import type { Logger } from "./log.js";
import { ResourceCache } from "./resource-cache.js";
import type { ListOptions } from "./resource-cache.js";

/** A policy object as the API server returns it (only metadata is relied on here). */
export interface RawPolicyObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly uid?: string; readonly resourceVersion?: string };
  readonly [field: string]: unknown;
}

export const CILIUM_POLICY_RESOURCES = {
  cnp: { kind: "CiliumNetworkPolicy", plural: "ciliumnetworkpolicies" },
  ccnp: { kind: "CiliumClusterwideNetworkPolicy", plural: "ciliumclusterwidenetworkpolicies" },
} as const;

function stamp(apiVersion: string, kind: string): (raw: unknown) => RawPolicyObject | undefined {
  // The JSON round trip turns typed-client instances (Dates, fields set to undefined) into the
  // plain form the watch delivers, so list and watch feed the parser the same shape.
  return (raw) => (raw && typeof raw === "object" ? { ...(JSON.parse(JSON.stringify(raw)) as object), apiVersion, kind } : undefined);
}

export function networkPolicyCache(kc: KubeConfig, opts: { log?: Logger } = {}): ResourceCache<RawPolicyObject> {
  const net = kc.makeApiClient(NetworkingV1Api);
  return new ResourceCache<RawPolicyObject>(kc, {
    resource: "networkpolicies",
    path: "/apis/networking.k8s.io/v1/networkpolicies",
    list: (o: ListOptions) => net.listNetworkPolicyForAllNamespaces(o),
    parse: stamp("networking.k8s.io/v1", "NetworkPolicy"),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

function ciliumPolicyCache(kc: KubeConfig, which: keyof typeof CILIUM_POLICY_RESOURCES, opts: { log?: Logger }): ResourceCache<RawPolicyObject> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const { kind, plural } = CILIUM_POLICY_RESOURCES[which];
  return new ResourceCache<RawPolicyObject>(kc, {
    resource: plural,
    path: `/apis/${CILIUM_GROUP}/${CILIUM_VERSION}/${plural}`,
    list: async (o: ListOptions) =>
      (await custom.listClusterCustomObject({ group: CILIUM_GROUP, version: CILIUM_VERSION, plural, ...o })) as { items?: unknown[]; metadata?: { resourceVersion?: string } },
    parse: stamp(CILIUM_API_VERSION, kind),
    ...(opts.log ? { log: opts.log } : {}),
  });
}

/** All CiliumNetworkPolicies of every namespace. */
export function ciliumNetworkPolicyCache(kc: KubeConfig, opts: { log?: Logger } = {}): ResourceCache<RawPolicyObject> {
  return ciliumPolicyCache(kc, "cnp", opts);
}

/** All CiliumClusterwideNetworkPolicies. */
export function ciliumClusterwideNetworkPolicyCache(kc: KubeConfig, opts: { log?: Logger } = {}): ResourceCache<RawPolicyObject> {
  return ciliumPolicyCache(kc, "ccnp", opts);
}
