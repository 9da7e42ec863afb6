/**
 * The identity store on the Kubernetes API: one cluster-scoped CiliumIdentity per number,
 * `metadata.name` = the number, `security-labels` = the label set. Creating the name is the
 * atomic claim (409 when taken); deletes and mark updates carry the resourceVersion they were
 * decided on, so a GC never deletes an identity that changed under it.
 */
import { CustomObjectsApi } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import { isConflict, isNotFound } from "../k8s/api-errors.js";
import { CILIUM_API_VERSION, CILIUM_GROUP, CILIUM_RESOURCES, CILIUM_VERSION, ciliumIdentitySchema, parseWith } from "../k8s/cilium-types.js";
import type { CiliumIdentity } from "../k8s/cilium-types.js";
import type { ResourceCache } from "../k8s/resource-cache.js";
import { UNUSED_SINCE_ANNOTATION } from "./allocator.js";
import type { IdentityAllocator, IdentityStore, StoredIdentity } from "./allocator.js";
import type { IdentityGcStore } from "./allocator-gc.js";
import type { Labels } from "./labels.js";
import { K8S_LABEL } from "./pod-identity.js";

const PLURAL = CILIUM_RESOURCES.identity.plural;
const API = { group: CILIUM_GROUP, version: CILIUM_VERSION, plural: PLURAL } as const;
/** A valid Kubernetes label value: ≤ 63 characters, alphanumeric at both ends. */
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** The CiliumIdentity object for a number and label set. */
export function identityObject(id: number, labels: Labels): CiliumIdentity {
  const ns = labels[`k8s:${K8S_LABEL.podNamespace}`];
  // The namespace also goes to metadata.labels, where `kubectl get ciliumid` shows it and
  // label selectors can find a namespace's identities.
  const metaLabels = ns !== undefined && ns.length <= 63 && LABEL_VALUE_RE.test(ns) ? { [K8S_LABEL.podNamespace]: ns } : undefined;
  return {
    apiVersion: CILIUM_API_VERSION,
    kind: CILIUM_RESOURCES.identity.kind,
    metadata: { name: String(id), ...(metaLabels ? { labels: metaLabels } : {}) },
    "security-labels": { ...labels },
  };
}

/** The stored identity behind an object, or undefined when its name is not a number. */
export function identityFromObject(obj: CiliumIdentity): StoredIdentity | undefined {
  const name = obj.metadata.name ?? "";
  if (!/^[1-9][0-9]*$/.test(name)) return undefined;
  return {
    id: Number(name),
    labels: obj["security-labels"],
    ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
    ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
    ...(obj.metadata.annotations ? { annotations: obj.metadata.annotations } : {}),
  };
}

function parseIdentity(raw: unknown): StoredIdentity | undefined {
  const r = parseWith(ciliumIdentitySchema, raw);
  if (!r.ok) throw new Error(`CiliumIdentity from the API does not validate: ${r.problem}`);
  return identityFromObject(r.value);
}

export class KubeIdentityStore implements IdentityStore, IdentityGcStore {
  private readonly api: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async create(id: number, labels: Labels): Promise<StoredIdentity | undefined> {
    try {
      return parseIdentity(await this.api.createClusterCustomObject({ ...API, body: identityObject(id, labels) }));
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  async get(id: number): Promise<StoredIdentity | undefined> {
    try {
      return parseIdentity(await this.api.getClusterCustomObject({ ...API, name: String(id) }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(): Promise<StoredIdentity[]> {
    const list = (await this.api.listClusterCustomObject({ ...API })) as { items?: unknown[] };
    const out: StoredIdentity[] = [];
    for (const raw of list.items ?? []) {
      const r = parseWith(ciliumIdentitySchema, raw);
      const id = r.ok ? identityFromObject(r.value) : undefined;
      if (id) out.push(id);
    }
    return out;
  }

  async delete(identity: StoredIdentity): Promise<"deleted" | "gone" | "conflict"> {
    try {
      await this.api.deleteClusterCustomObject({
        ...API,
        name: String(identity.id),
        body: { preconditions: { ...(identity.uid ? { uid: identity.uid } : {}), ...(identity.resourceVersion ? { resourceVersion: identity.resourceVersion } : {}) } },
      });
      return "deleted";
    } catch (err) {
      if (isNotFound(err)) return "gone";
      if (isConflict(err)) return "conflict";
      throw err;
    }
  }

  async setUnusedSince(identity: StoredIdentity, since: string | null): Promise<"ok" | "gone" | "conflict"> {
    const annotations: Record<string, string> = { ...(identity.annotations ?? {}) };
    if (since === null) delete annotations[UNUSED_SINCE_ANNOTATION];
    else annotations[UNUSED_SINCE_ANNOTATION] = since;
    const body = identityObject(identity.id, identity.labels);
    // A PUT with the resourceVersion we decided on: if an agent touched the identity meanwhile
    // the API answers 409 and the GC looks again next round.
    body.metadata = {
      ...body.metadata,
      ...(identity.resourceVersion ? { resourceVersion: identity.resourceVersion } : {}),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    };
    try {
      await this.api.replaceClusterCustomObject({ ...API, name: String(identity.id), body });
      return "ok";
    } catch (err) {
      if (isNotFound(err)) return "gone";
      if (isConflict(err)) return "conflict";
      throw err;
    }
  }

  async clearUnusedMark(identity: StoredIdentity): Promise<void> {
    const fresh = await this.get(identity.id);
    if (!fresh?.annotations?.[UNUSED_SINCE_ANNOTATION]) return;
    await this.setUnusedSince(fresh, null);
  }
}

/**
 * Feeds an allocator from a CiliumIdentity cache (agent/k8s caches.ts): adds and updates are
 * observed, deletes forgotten. Returns the unsubscribe function.
 */
export function connectIdentityCache(allocator: IdentityAllocator, cache: ResourceCache<CiliumIdentity>): () => void {
  const upsert = (obj: CiliumIdentity) => {
    const id = identityFromObject(obj);
    if (id) allocator.observe(id);
  };
  return cache.on({
    add: upsert,
    update: upsert,
    delete: (obj) => {
      const id = identityFromObject(obj);
      if (id) allocator.forget(id.id);
    },
  });
}
