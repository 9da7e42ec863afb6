// Cluster-wide identity allocation against a real kube-apiserver (local cluster, CiliumIdentity
// CRD installed): racing allocators converge, collisions are probed past through real 409s, a
// restarted allocator finds its numbers again, the watch feeds the cache, a referenced identity
// deleted behind the allocator's back is put back, and the GC deletes only unreferenced ones.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import { loadKubeConfig } from "../../harness/kube/client.js";
import { defaultLocalConfig } from "../../harness/cluster/local/config.js";
import { downCluster } from "../../harness/cluster/local/down.js";
import { upCluster } from "../../harness/cluster/local/up.js";
import { waitFor } from "../../harness/util/wait.js";
import { ciliumEndpointCache, ciliumIdentityCache } from "../k8s/caches.js";
import { CILIUM_GROUP, CILIUM_VERSION } from "../k8s/cilium-types.js";
import type { CiliumIdentity } from "../k8s/cilium-types.js";
import type { ResourceCache } from "../k8s/resource-cache.js";
import { IdentityAllocator, UNUSED_SINCE_ANNOTATION, identityHash } from "./allocator.js";
import { collectIdentities, referencedIdentities } from "./allocator-gc.js";
import { KubeIdentityStore, connectIdentityCache } from "./allocator-kube.js";
import type { Labels } from "./labels.js";
import { canonicalKey } from "./labels.js";

const name = `ag-id${process.pid}`;
const API = { group: CILIUM_GROUP, version: CILIUM_VERSION, plural: "ciliumidentities" } as const;

const labelsFor = (app: string, ns = "shop"): Labels => ({
  "k8s:app": app,
  "k8s:io.kubernetes.pod.namespace": ns,
  "k8s:io.cilium.k8s.policy.serviceaccount": "default",
  "k8s:io.cilium.k8s.policy.cluster": "default",
});

describe("identity allocation on a real API server", { timeout: 180_000 }, () => {
  let kc: KubeConfig;
  let custom: CustomObjectsApi;
  const caches: { stop(): Promise<void> }[] = [];

  before(async () => {
    const base = defaultLocalConfig();
    const up = await upCluster({ name, config: { ...base, metadata: { name }, spec: { ...base.spec, cni: "ptp", nodes: 1, world: false } } });
    kc = loadKubeConfig(up.kubeconfig);
    custom = kc.makeApiClient(CustomObjectsApi);
  });

  after(async () => {
    for (const c of caches) await c.stop();
    await downCluster(name);
  });

  const watchedAllocator = async (): Promise<{ allocator: IdentityAllocator; cache: ResourceCache<CiliumIdentity> }> => {
    const cache = ciliumIdentityCache(kc).start();
    caches.push(cache);
    const allocator = new IdentityAllocator(new KubeIdentityStore(kc), { ready: cache.synced });
    connectIdentityCache(allocator, cache);
    await cache.synced;
    return { allocator, cache };
  };

  const stored = async (id: number): Promise<CiliumIdentity> => (await custom.getClusterCustomObject({ ...API, name: String(id) })) as CiliumIdentity;

  test("two agents racing on the same label sets get the same numbers; different sets get different ones", async () => {
    const a = new IdentityAllocator(new KubeIdentityStore(kc));
    const b = new IdentityAllocator(new KubeIdentityStore(kc));
    const sets = Array.from({ length: 12 }, (_, i) => labelsFor(`race${i}`));
    const [ra, rb] = await Promise.all([Promise.all(sets.map((l) => a.allocate(l))), Promise.all(sets.map((l) => b.allocate(l)))]);
    assert.deepEqual(ra.map((r) => r.id), rb.map((r) => r.id));
    assert.equal(new Set(ra.map((r) => r.id)).size, sets.length);
    for (const [i, r] of ra.entries()) {
      const obj = await stored(r.id);
      assert.deepEqual(obj["security-labels"], sets[i]);
      assert.equal(obj.metadata.labels?.["io.kubernetes.pod.namespace"], "shop");
    }
  });

  test("a number held by other labels is probed past (real 409), and a restarted allocator gets the same number", async () => {
    const wanted = labelsFor("collide");
    const home = identityHash(canonicalKey(wanted));
    await custom.createClusterCustomObject({
      ...API,
      body: { apiVersion: "cilium.io/v2", kind: "CiliumIdentity", metadata: { name: String(home) }, "security-labels": labelsFor("squatter") },
    });
    const first = await new IdentityAllocator(new KubeIdentityStore(kc)).allocate(wanted);
    assert.equal(first.id, home === 65535 ? 256 : home + 1);
    const restarted = await new IdentityAllocator(new KubeIdentityStore(kc)).allocate(wanted);
    assert.equal(restarted.id, first.id);
    const { allocator: watched } = await watchedAllocator();
    assert.equal(watched.lookupByLabels(wanted)?.id, first.id, "the watch-fed cache knows it before any allocation");
    assert.equal((await watched.allocate(wanted)).id, first.id);
  });

  test("identities created by another agent reach the cache through the watch", async () => {
    const { allocator } = await watchedAllocator();
    const other = new IdentityAllocator(new KubeIdentityStore(kc));
    const got = await other.allocate(labelsFor("late"));
    const seen = await waitFor("the watch to deliver the new identity", async () => allocator.lookupById(got.id), { timeoutMs: 10_000, intervalMs: 50 });
    assert.equal(seen.key, canonicalKey(labelsFor("late")));
  });

  test("a referenced identity deleted behind the allocator's back is created again", async () => {
    const { allocator } = await watchedAllocator();
    const held = await allocator.allocate(labelsFor("held"));
    await custom.deleteClusterCustomObject({ ...API, name: String(held.id) });
    const back = await waitFor(
      "the allocator to re-create the identity",
      async () => {
        const obj = await stored(held.id).catch(() => undefined);
        return obj?.metadata.uid ? obj : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    assert.deepEqual(back["security-labels"], labelsFor("held"));
  });

  test("GC deletes an identity no CiliumEndpoint references (after marking it) and keeps a referenced one", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "gc-test" } } });
    const a = new IdentityAllocator(new KubeIdentityStore(kc));
    const used = await a.allocate(labelsFor("used", "gc-test"));
    const unused = await a.allocate(labelsFor("unused", "gc-test"));
    await custom.createNamespacedCustomObject({
      group: CILIUM_GROUP,
      version: CILIUM_VERSION,
      plural: "ciliumendpoints",
      namespace: "gc-test",
      body: {
        apiVersion: "cilium.io/v2",
        kind: "CiliumEndpoint",
        metadata: { name: "used-pod", namespace: "gc-test" },
        status: { id: 7, identity: { id: used.id, labels: ["k8s:app=used"] }, networking: { addressing: [{ ipv4: "10.244.9.9" }] }, state: "ready" },
      },
    });
    const endpoints = ciliumEndpointCache(kc).start();
    caches.push(endpoints);
    await endpoints.synced;
    const referenced = referencedIdentities(endpoints.list());
    assert.ok(referenced.has(used.id));
    const store = new KubeIdentityStore(kc);
    const t0 = new Date();

    const round1 = await collectIdentities({ store, referenced, graceMs: 60_000, now: t0 });
    assert.ok(round1.marked.includes(unused.id));
    assert.ok(!round1.marked.includes(used.id));
    assert.ok((await stored(unused.id)).metadata.annotations?.[UNUSED_SINCE_ANNOTATION]);

    const round2 = await collectIdentities({ store, referenced, graceMs: 60_000, now: new Date(t0.getTime() + 10_000) });
    assert.ok(round2.pending.includes(unused.id), "inside the grace period it stays");

    const round3 = await collectIdentities({ store, referenced, graceMs: 60_000, now: new Date(t0.getTime() + 61_000) });
    assert.ok(round3.deleted.includes(unused.id));
    assert.ok(!round3.deleted.includes(used.id));
    await assert.rejects(stored(unused.id), (err: { code?: number }) => err.code === 404);
    assert.deepEqual((await stored(used.id))["security-labels"], labelsFor("used", "gc-test"));
  });
});
