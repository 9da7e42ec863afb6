// Identity hashing, probing and GC logic against an in-memory fake store (the real CiliumIdentity
// store is exercised in allocator.int.test.ts against a live API server).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { IdentityAllocator, IdentityExhaustedError, UNUSED_SINCE_ANNOTATION, identityHash, probeSequence } from "./allocator.js";
import type { IdentityStore, StoredIdentity } from "./allocator.js";
import { collectIdentities, referencedIdentities } from "./allocator-gc.js";
import type { IdentityGcStore } from "./allocator-gc.js";
import type { Labels } from "./labels.js";
import { canonicalKey } from "./labels.js";

/**
 * Behaves like the API server for what the allocator relies on: create is an atomic
 * check-and-claim, every write bumps a resourceVersion, deletes and updates honour it.
 * Each call yields to the event loop first, so concurrent allocators interleave.
 */
class FakeStore implements IdentityStore, IdentityGcStore {
  readonly objects = new Map<number, StoredIdentity>();
  calls = { create: 0, get: 0 };
  private rv = 1;

  private async tick(): Promise<void> {
    await new Promise((r) => setImmediate(r));
  }

  put(id: number, labels: Labels, annotations?: Record<string, string>): StoredIdentity {
    const s: StoredIdentity = { id, labels, resourceVersion: String(this.rv++), uid: `uid-${id}-${this.rv}`, ...(annotations ? { annotations } : {}) };
    this.objects.set(id, s);
    return s;
  }

  async create(id: number, labels: Labels): Promise<StoredIdentity | undefined> {
    this.calls.create++;
    await this.tick();
    if (this.objects.has(id)) return undefined;
    return this.put(id, labels);
  }

  async get(id: number): Promise<StoredIdentity | undefined> {
    this.calls.get++;
    await this.tick();
    return this.objects.get(id);
  }

  async list(): Promise<StoredIdentity[]> {
    await this.tick();
    return [...this.objects.values()];
  }

  async delete(identity: StoredIdentity): Promise<"deleted" | "gone" | "conflict"> {
    await this.tick();
    const cur = this.objects.get(identity.id);
    if (!cur) return "gone";
    if (cur.resourceVersion !== identity.resourceVersion) return "conflict";
    this.objects.delete(identity.id);
    return "deleted";
  }

  async setUnusedSince(identity: StoredIdentity, since: string | null): Promise<"ok" | "gone" | "conflict"> {
    await this.tick();
    const cur = this.objects.get(identity.id);
    if (!cur) return "gone";
    if (cur.resourceVersion !== identity.resourceVersion) return "conflict";
    const annotations = { ...(cur.annotations ?? {}) };
    if (since === null) delete annotations[UNUSED_SINCE_ANNOTATION];
    else annotations[UNUSED_SINCE_ANNOTATION] = since;
    this.objects.set(identity.id, { ...cur, annotations, resourceVersion: String(this.rv++) });
    return "ok";
  }

  async clearUnusedMark(identity: StoredIdentity): Promise<void> {
    const cur = this.objects.get(identity.id);
    if (cur) await this.setUnusedSince(cur, null);
  }
}

const web: Labels = { "k8s:app": "web", "k8s:io.kubernetes.pod.namespace": "prod" };
const db: Labels = { "k8s:app": "db", "k8s:io.kubernetes.pod.namespace": "prod" };

describe("identity hashing and probing", () => {
  test("the hash is deterministic and inside 256..65535", () => {
    for (let i = 0; i < 2000; i++) {
      const h = identityHash(`k8s:app=x${i}`);
      assert.ok(h >= 256 && h <= 65535, `hash ${h} out of range`);
      assert.equal(identityHash(`k8s:app=x${i}`), h);
    }
  });

  test("the probe sequence starts at the hash, wraps around and visits every number once", () => {
    const range = { min: 256, max: 263 };
    const key = "k8s:app=web";
    const seq = [...probeSequence(key, range)];
    assert.equal(seq[0], identityHash(key, range));
    assert.deepEqual([...seq].sort((a, b) => a - b), [256, 257, 258, 259, 260, 261, 262, 263]);
    for (let i = 1; i < seq.length; i++) assert.equal(seq[i], seq[i - 1] === 263 ? 256 : seq[i - 1]! + 1);
  });
});

describe("IdentityAllocator (fake store)", () => {
  test("the same label set gets the same number whatever the key order; different sets differ", async () => {
    const store = new FakeStore();
    const a = new IdentityAllocator(store);
    const first = await a.allocate(web);
    const again = await a.allocate({ "k8s:io.kubernetes.pod.namespace": "prod", "k8s:app": "web" });
    const other = await a.allocate(db);
    assert.equal(first.id, identityHash(canonicalKey(web)));
    assert.equal(again.id, first.id);
    assert.notEqual(other.id, first.id);
    assert.equal(a.references(first.id), 2);
    assert.deepEqual(store.objects.get(first.id)?.labels, web);
  });

  test("two allocators racing on the same label sets converge on the same numbers", async () => {
    const store = new FakeStore();
    const a = new IdentityAllocator(store);
    const b = new IdentityAllocator(store);
    const sets: Labels[] = Array.from({ length: 40 }, (_, i) => ({ "k8s:app": `app${i % 20}`, "k8s:io.kubernetes.pod.namespace": `ns${i % 3}` }));
    const [ra, rb] = await Promise.all([Promise.all(sets.map((l) => a.allocate(l))), Promise.all(sets.map((l) => b.allocate(l)))]);
    assert.deepEqual(ra.map((r) => r.id), rb.map((r) => r.id));
    const byKey = new Map<string, number>();
    for (const r of ra) {
      const prev = byKey.get(r.key);
      if (prev !== undefined) assert.equal(r.id, prev);
      byKey.set(r.key, r.id);
    }
    assert.equal(new Set(byKey.values()).size, byKey.size, "distinct label sets must get distinct numbers");
    assert.equal(store.objects.size, byKey.size, "no duplicate objects in the store");
  });

  test("a number taken by other labels is probed past, and a restarted allocator finds the same number", async () => {
    const store = new FakeStore();
    const home = identityHash(canonicalKey(web));
    store.put(home, { "k8s:app": "squatter" });
    const a = new IdentityAllocator(store);
    const got = await a.allocate(web);
    assert.equal(got.id, home === 65535 ? 256 : home + 1);

    const restarted = new IdentityAllocator(store);
    assert.equal((await restarted.allocate(web)).id, got.id);
    assert.equal(store.objects.size, 2);
  });

  test("numbers the cache already knows to be taken cost no API call", async () => {
    const store = new FakeStore();
    const home = identityHash(canonicalKey(web));
    const squatter = store.put(home, { "k8s:app": "squatter" });
    const a = new IdentityAllocator(store);
    a.observe(squatter);
    store.calls = { create: 0, get: 0 };
    await a.allocate(web);
    assert.deepEqual(store.calls, { create: 1, get: 0 });
  });

  test("an exhausted range fails with IdentityExhaustedError", async () => {
    const store = new FakeStore();
    const range = { min: 300, max: 302 };
    const a = new IdentityAllocator(store, { range });
    for (let i = 0; i < 3; i++) await a.allocate({ "k8s:app": `a${i}` });
    await assert.rejects(a.allocate({ "k8s:app": "one-too-many" }), IdentityExhaustedError);
  });

  test("concurrent calls for one key in one allocator share a single probe", async () => {
    const store = new FakeStore();
    const a = new IdentityAllocator(store);
    const got = await Promise.all(Array.from({ length: 10 }, () => a.allocate(web)));
    assert.equal(new Set(got.map((g) => g.id)).size, 1);
    assert.equal(store.calls.create, 1);
    assert.equal(a.references(got[0]!.id), 10);
  });

  test("a referenced identity deleted from the store is created again; an unreferenced one is forgotten", async () => {
    const store = new FakeStore();
    const a = new IdentityAllocator(store);
    const used = await a.allocate(web);
    const unused = await a.allocate(db);
    a.release(unused.id);
    store.objects.delete(used.id);
    store.objects.delete(unused.id);
    a.forget(used.id);
    a.forget(unused.id);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(store.objects.get(used.id)?.labels, web);
    assert.equal(a.lookupById(used.id)?.key, canonicalKey(web));
    assert.equal(store.objects.has(unused.id), false);
    assert.equal(a.lookupById(unused.id), undefined);
    assert.equal(a.lookupByLabels(db), undefined);
  });

  test("a referenced identity whose number was re-used by other labels is reported lost", async () => {
    const store = new FakeStore();
    const a = new IdentityAllocator(store);
    const used = await a.allocate(web);
    const events: string[] = [];
    a.subscribe((e) => events.push(`${e.type}:${e.identity.id}`));
    store.objects.delete(used.id);
    store.put(used.id, { "k8s:app": "intruder" });
    a.forget(used.id);
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(events.includes(`lost:${used.id}`), events.join(","));
    assert.equal(a.lookupByLabels(web), undefined);
  });

  test("allocating an identity the GC marked unused clears the mark", async () => {
    const store = new FakeStore();
    const marked = store.put(identityHash(canonicalKey(web)), web, { [UNUSED_SINCE_ANNOTATION]: "2020-01-01T00:00:00Z" });
    const a = new IdentityAllocator(store);
    a.observe(marked);
    await a.allocate(web);
    assert.equal(store.objects.get(marked.id)?.annotations?.[UNUSED_SINCE_ANNOTATION], undefined);
  });
});

describe("identity GC (fake store)", () => {
  test("unreferenced identities are marked, kept through the grace period, then deleted; referenced ones stay", async () => {
    const store = new FakeStore();
    store.put(300, web);
    store.put(301, db);
    store.put(7, { "reserved:kube-apiserver": "" });
    const referenced = new Set([300]);
    const t0 = new Date("2026-01-01T00:00:00Z");
    const r1 = await collectIdentities({ store, referenced, graceMs: 60_000, now: t0 });
    assert.deepEqual(r1.marked, [301]);
    assert.equal(store.objects.get(300)?.annotations?.[UNUSED_SINCE_ANNOTATION], undefined);

    const r2 = await collectIdentities({ store, referenced, graceMs: 60_000, now: new Date(t0.getTime() + 30_000) });
    assert.deepEqual(r2.pending, [301]);
    assert.ok(store.objects.has(301));

    const r3 = await collectIdentities({ store, referenced, graceMs: 60_000, now: new Date(t0.getTime() + 61_000) });
    assert.deepEqual(r3.deleted, [301]);
    assert.deepEqual([...store.objects.keys()].sort((a, b) => a - b), [7, 300]);
  });

  test("an identity referenced again loses its mark and survives", async () => {
    const store = new FakeStore();
    store.put(400, web, { [UNUSED_SINCE_ANNOTATION]: "2026-01-01T00:00:00Z" });
    const r = await collectIdentities({ store, referenced: new Set([400]), graceMs: 0, now: new Date("2026-02-01T00:00:00Z") });
    assert.deepEqual(r.unmarked, [400]);
    assert.ok(store.objects.has(400));
    assert.equal(store.objects.get(400)?.annotations?.[UNUSED_SINCE_ANNOTATION], undefined);
  });

  test("a delete decided on a stale version is skipped (an allocator touched it meanwhile)", async () => {
    const store = new FakeStore();
    const stale = store.put(500, web, { [UNUSED_SINCE_ANNOTATION]: "2026-01-01T00:00:00Z" });
    const racing: IdentityGcStore = {
      list: async () => [stale],
      delete: (i) => store.delete(i),
      setUnusedSince: (i, s) => store.setUnusedSince(i, s),
    };
    await store.clearUnusedMark(stale);
    const r = await collectIdentities({ store: racing, referenced: new Set(), graceMs: 0, now: new Date("2026-03-01T00:00:00Z") });
    assert.deepEqual(r.skipped, [500]);
    assert.ok(store.objects.has(500));
  });

  test("references are read from CiliumEndpoint status", () => {
    const refs = referencedIdentities([
      { metadata: { name: "a", namespace: "x" }, status: { identity: { id: 300 } } },
      { metadata: { name: "b", namespace: "x" }, status: {} },
      { metadata: { name: "c", namespace: "y" } },
    ]);
    assert.deepEqual([...refs], [300]);
  });
});
