/**
 * Cluster-wide numeric identities for label sets.
 *
 * The identity key is the canonical label set (`canonicalKey`). Numbers are shared through a store
 * of objects named by the number (CiliumIdentity `metadata.name`), so creating a name is the
 * atomic "claim" every agent races on:
 *
 *   1. hash the key into [256, 65535] — every agent starts at the same number;
 *   2. try to create that name with the labels;
 *   3. on "name taken", read it: same labels → that is our identity (another agent won the race);
 *      different labels → try the next number (linear probing, wrapping around).
 *
 * Two agents allocating the same key concurrently therefore walk the same sequence and converge on
 * the same number, and an agent restarted with an empty cache finds its old number again. A local
 * cache (fed by a CiliumIdentity watch, plus our own results) answers lookups by key and by number
 * in O(1) and lets the probe skip numbers already known to be taken.
 *
 * Duplicates: after garbage collection frees a number in the middle of a probe sequence, an agent
 * whose cache does not yet show a later slot holding the key could claim the freed one. Both
 * numbers then carry the same labels; selectors match labels, so policy is unaffected, and the
 * unused duplicate is collected later. Lookups by key answer the lowest number.
 *
 * Lifetime: `allocate` takes a local reference, `release` drops it; nothing is deleted here.
 * Deletion is the garbage collector's job (allocator-gc.ts), driven by CiliumEndpoint references.
 * When the watch reports the deletion of a number this agent still references, the allocator puts
 * it back (same number, same labels), so endpoints never silently lose their identity.
 */
import { createHash } from "node:crypto";
import type { Logger } from "../k8s/log.js";
import { errorMessage, silentLogger } from "../k8s/log.js";
import type { Labels } from "./labels.js";
import { canonicalKey } from "./labels.js";
import { FIRST_ALLOCATED_IDENTITY, MAX_CLUSTER_IDENTITY } from "./reserved.js";

/** One identity as the store holds it. */
export interface StoredIdentity {
  readonly id: number;
  readonly labels: Labels;
  /** Store bookkeeping (optimistic concurrency, GC marks); absent in purely local entries. */
  readonly resourceVersion?: string;
  readonly uid?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** What the allocator needs from the shared store. */
export interface IdentityStore {
  /** Claims `id` for `labels`; undefined when the name is already taken (HTTP 409). */
  create(id: number, labels: Labels): Promise<StoredIdentity | undefined>;
  /** The identity stored under `id`, or undefined. */
  get(id: number): Promise<StoredIdentity | undefined>;
  /** Clears the GC's "unused since" mark; optional (stores without GC marks skip it). */
  clearUnusedMark?(identity: StoredIdentity): Promise<void>;
}

export interface IdentityRange {
  readonly min: number;
  readonly max: number;
}

export const CLUSTER_IDENTITY_RANGE: IdentityRange = { min: FIRST_ALLOCATED_IDENTITY, max: MAX_CLUSTER_IDENTITY };

/** Annotation the GC puts on identities no endpoint references (RFC 3339 time). */
export const UNUSED_SINCE_ANNOTATION = "conform.dev/identity-unused-since";

/** First number tried for a key: the top 32 bits of its SHA-256, folded into the range. */
export function identityHash(key: string, range: IdentityRange = CLUSTER_IDENTITY_RANGE): number {
  const size = range.max - range.min + 1;
  return range.min + (createHash("sha256").update(key).digest().readUInt32BE(0) % size);
}

/** The numbers a key probes, in order: its hash, then upwards, wrapping at the end of the range. */
export function* probeSequence(key: string, range: IdentityRange = CLUSTER_IDENTITY_RANGE): Generator<number> {
  const size = range.max - range.min + 1;
  const start = identityHash(key, range) - range.min;
  for (let i = 0; i < size; i++) yield range.min + ((start + i) % size);
}

export interface AllocatedIdentity {
  readonly id: number;
  readonly labels: Labels;
  /** canonicalKey(labels). */
  readonly key: string;
}

export class IdentityExhaustedError extends Error {
  override name = "IdentityExhaustedError";
}

export type IdentityEvent =
  | { readonly type: "upsert"; readonly identity: AllocatedIdentity }
  | { readonly type: "delete"; readonly identity: AllocatedIdentity }
  /** A referenced identity was deleted and its number re-used by other labels: re-resolve. */
  | { readonly type: "lost"; readonly identity: AllocatedIdentity };

export interface IdentityAllocatorOptions {
  readonly range?: IdentityRange;
  readonly log?: Logger;
  /** Awaited before the first probe (the identity watch's first list), to avoid duplicates. */
  readonly ready?: Promise<void>;
  /** Upper bound of re-reads when a number vanishes between "taken" and "read" (default 8). */
  readonly maxRetries?: number;
}

interface Entry extends AllocatedIdentity {
  readonly stored: StoredIdentity;
}

export class IdentityAllocator {
  private readonly byId = new Map<number, Entry>();
  /** key → ids carrying it (normally one), lowest first. */
  private readonly byKey = new Map<string, number[]>();
  private readonly refs = new Map<number, number>();
  private readonly inflight = new Map<string, Promise<AllocatedIdentity>>();
  private readonly listeners = new Set<(e: IdentityEvent) => void>();
  private readonly recreating = new Set<number>();
  private readonly range: IdentityRange;
  private readonly log: Logger;

  constructor(
    private readonly store: IdentityStore,
    private readonly opts: IdentityAllocatorOptions = {},
  ) {
    this.range = opts.range ?? CLUSTER_IDENTITY_RANGE;
    this.log = opts.log ?? silentLogger;
  }

  /**
   * The identity of `labels`, allocating it cluster-wide if needed, and one local reference to
   * it (drop it with `release`). Concurrent calls for one key share a single probe.
   */
  async allocate(labels: Labels): Promise<AllocatedIdentity> {
    const key = canonicalKey(labels);
    const known = this.lookupByKey(key);
    if (known) {
      this.acquire(known.id);
      await this.touch(known.id);
      return known;
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.probe(key, labels).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const got = await pending;
    this.acquire(got.id);
    return got;
  }

  /** Drops one local reference (never deletes: the GC does, once no endpoint refers to it). */
  release(id: number): void {
    const n = this.refs.get(id) ?? 0;
    if (n <= 1) this.refs.delete(id);
    else this.refs.set(id, n - 1);
  }

  references(id: number): number {
    return this.refs.get(id) ?? 0;
  }

  lookupById(id: number): AllocatedIdentity | undefined {
    return this.byId.get(id);
  }

  lookupByKey(key: string): AllocatedIdentity | undefined {
    const ids = this.byKey.get(key);
    return ids && ids.length > 0 ? this.byId.get(ids[0]!) : undefined;
  }

  lookupByLabels(labels: Labels): AllocatedIdentity | undefined {
    return this.lookupByKey(canonicalKey(labels));
  }

  /** Every identity the cache knows (watched or allocated here). */
  *identities(): IterableIterator<AllocatedIdentity> {
    yield* this.byId.values();
  }

  subscribe(listener: (e: IdentityEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Feed from the CiliumIdentity watch (add/update) and from our own claims. */
  observe(identity: StoredIdentity): void {
    const key = canonicalKey(identity.labels);
    const old = this.byId.get(identity.id);
    if (old && old.key !== key) this.unindex(old);
    const entry: Entry = { id: identity.id, labels: identity.labels, key, stored: identity };
    this.byId.set(identity.id, entry);
    const ids = this.byKey.get(key) ?? [];
    if (!ids.includes(identity.id)) {
      ids.push(identity.id);
      ids.sort((a, b) => a - b);
      this.byKey.set(key, ids);
    }
    if (!old || old.key !== key) this.emit({ type: "upsert", identity: entry });
  }

  /**
   * Feed from the watch: `id` was deleted. If this agent still references it, it is created again
   * with the same labels; if meanwhile another label set took the number, listeners get "lost".
   */
  forget(id: number): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    if (this.references(id) > 0) {
      void this.recreate(entry);
      return;
    }
    this.unindex(entry);
    this.emit({ type: "delete", identity: entry });
  }

  private async recreate(entry: Entry): Promise<void> {
    if (this.recreating.has(entry.id)) return;
    this.recreating.add(entry.id);
    try {
      this.log.warn("identity in use was deleted; creating it again", { id: entry.id, key: entry.key });
      const created = await this.store.create(entry.id, entry.labels);
      if (created) {
        this.observe(created);
        return;
      }
      const current = await this.store.get(entry.id);
      if (current && canonicalKey(current.labels) === entry.key) {
        this.observe(current);
        return;
      }
      this.log.error("identity number was taken by other labels while in use", { id: entry.id, key: entry.key });
      this.unindex(entry);
      if (current) this.observe(current);
      this.emit({ type: "lost", identity: entry });
    } catch (err) {
      this.log.error("could not re-create a deleted identity", { id: entry.id, error: errorMessage(err) });
    } finally {
      this.recreating.delete(entry.id);
    }
  }

  private async probe(key: string, labels: Labels): Promise<AllocatedIdentity> {
    if (this.opts.ready) await this.opts.ready;
    // The cache may have learnt the key while we waited for it to sync.
    const cached = this.lookupByKey(key);
    if (cached) return cached;
    const maxRetries = this.opts.maxRetries ?? 8;
    for (const id of probeSequence(key, this.range)) {
      const known = this.byId.get(id);
      if (known) {
        if (known.key === key) return known;
        continue;
      }
      for (let attempt = 0; ; attempt++) {
        const created = await this.store.create(id, labels);
        if (created) {
          this.observe(created);
          this.log.info("allocated identity", { id, key });
          return this.byId.get(id)!;
        }
        const existing = await this.store.get(id);
        if (existing) {
          this.observe(existing);
          if (canonicalKey(existing.labels) === key) return this.byId.get(id)!;
          break;
        }
        // Taken, then gone before we could read it (GC): claim it again.
        if (attempt >= maxRetries) throw new Error(`identity ${id} keeps vanishing between create and read; giving up on ${key}`);
      }
    }
    throw new IdentityExhaustedError(`no free identity in ${this.range.min}..${this.range.max} for ${key}`);
  }

  private acquire(id: number): void {
    this.refs.set(id, (this.refs.get(id) ?? 0) + 1);
  }

  /** Using an identity the GC has marked as unused: clear the mark so it cannot be deleted. */
  private async touch(id: number): Promise<void> {
    const entry = this.byId.get(id);
    if (!entry?.stored.annotations?.[UNUSED_SINCE_ANNOTATION] || !this.store.clearUnusedMark) return;
    try {
      await this.store.clearUnusedMark(entry.stored);
    } catch (err) {
      // The re-create-on-delete path covers a GC that wins this race.
      this.log.warn("could not clear the unused mark of an identity", { id, error: errorMessage(err) });
    }
  }

  private unindex(entry: Entry): void {
    this.byId.delete(entry.id);
    const ids = this.byKey.get(entry.key)?.filter((i) => i !== entry.id) ?? [];
    if (ids.length > 0) this.byKey.set(entry.key, ids);
    else this.byKey.delete(entry.key);
  }

  private emit(e: IdentityEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error("identity listener threw", { error: errorMessage(err) });
      }
    }
  }
}
