/**
 * Garbage collection of cluster-wide identities.
 *
 * An identity is in use while some CiliumEndpoint's `status.identity.id` names it. The collector
 * is stateless and idempotent, so it is safe to run from every agent at once (the agent wiring
 * may still run it on one node to save API calls); all state lives on the objects:
 *
 *   - unreferenced, unmarked  → mark it: annotation `conform.dev/identity-unused-since` = now;
 *   - referenced, marked      → remove the mark;
 *   - unreferenced, marked for at least `graceMs` → delete it, with the resourceVersion the
 *     decision was made on as a precondition.
 *
 * The grace period covers the window between an agent allocating an identity and its
 * CiliumEndpoint appearing. An allocator that starts using a marked identity clears the mark,
 * which changes the resourceVersion and makes a concurrent delete fail with 409; if the GC still
 * wins, the allocator re-creates the identity from its watch (allocator.ts).
 */
import type { CiliumEndpoint } from "../k8s/cilium-types.js";
import type { StoredIdentity } from "./allocator.js";
import { CLUSTER_IDENTITY_RANGE, UNUSED_SINCE_ANNOTATION } from "./allocator.js";
import type { IdentityRange } from "./allocator.js";

export interface IdentityGcStore {
  list(): Promise<StoredIdentity[]>;
  /** Deletes unless the object changed since it was read (uid/resourceVersion preconditions). */
  delete(identity: StoredIdentity): Promise<"deleted" | "gone" | "conflict">;
  /** Sets (or with null removes) the unused-since mark, conditional on the read resourceVersion. */
  setUnusedSince(identity: StoredIdentity, since: string | null): Promise<"ok" | "gone" | "conflict">;
}

export interface IdentityGcOptions {
  readonly store: IdentityGcStore;
  /** Identity numbers some endpoint references right now. */
  readonly referenced: ReadonlySet<number>;
  /** How long an identity must stay unreferenced before it is deleted. */
  readonly graceMs: number;
  readonly now?: Date;
  /** Only numbers in this range are collected (default 256..65535); reserved ones never are. */
  readonly range?: IdentityRange;
}

export interface IdentityGcReport {
  /** Newly marked unused. */
  readonly marked: number[];
  /** Referenced again: mark removed. */
  readonly unmarked: number[];
  readonly deleted: number[];
  /** Unreferenced, still inside the grace period. */
  readonly pending: number[];
  /** Changed under us (409) or already gone: looked at again next round. */
  readonly skipped: number[];
}

/** The identity numbers CiliumEndpoints refer to. */
export function referencedIdentities(endpoints: Iterable<CiliumEndpoint>): Set<number> {
  const out = new Set<number>();
  for (const ep of endpoints) {
    const id = ep.status?.identity?.id;
    if (typeof id === "number") out.add(id);
  }
  return out;
}

/** One collection round. */
export async function collectIdentities(opts: IdentityGcOptions): Promise<IdentityGcReport> {
  const now = opts.now ?? new Date();
  const range = opts.range ?? CLUSTER_IDENTITY_RANGE;
  const report = { marked: [] as number[], unmarked: [] as number[], deleted: [] as number[], pending: [] as number[], skipped: [] as number[] };
  for (const identity of await opts.store.list()) {
    if (identity.id < range.min || identity.id > range.max) continue;
    const mark = identity.annotations?.[UNUSED_SINCE_ANNOTATION];
    if (opts.referenced.has(identity.id)) {
      if (mark === undefined) continue;
      const r = await opts.store.setUnusedSince(identity, null);
      (r === "ok" ? report.unmarked : report.skipped).push(identity.id);
      continue;
    }
    const since = mark === undefined ? NaN : Date.parse(mark);
    if (Number.isNaN(since)) {
      // Unmarked, or a mark we cannot read: the grace period starts now.
      const r = await opts.store.setUnusedSince(identity, now.toISOString());
      (r === "ok" ? report.marked : report.skipped).push(identity.id);
      continue;
    }
    if (now.getTime() - since < opts.graceMs) {
      report.pending.push(identity.id);
      continue;
    }
    const r = await opts.store.delete(identity);
    (r === "deleted" ? report.deleted : report.skipped).push(identity.id);
  }
  return report;
}

/**
 * Runs `collectIdentities` every `intervalMs` with the references `endpoints()` yields at that
 * moment (typically a CiliumEndpoint cache's list, once it has synced). Returns a stop function.
 */
export function startIdentityGc(opts: {
  readonly store: IdentityGcStore;
  readonly endpoints: () => Iterable<CiliumEndpoint>;
  readonly graceMs: number;
  readonly intervalMs: number;
  readonly ready?: Promise<void>;
  readonly onReport?: (r: IdentityGcReport) => void;
  readonly onError?: (err: unknown) => void;
}): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const round = async () => {
    if (stopped) return;
    try {
      if (opts.ready) await opts.ready;
      const report = await collectIdentities({ store: opts.store, referenced: referencedIdentities(opts.endpoints()), graceMs: opts.graceMs });
      opts.onReport?.(report);
    } catch (err) {
      opts.onError?.(err);
    }
    if (!stopped) timer = setTimeout(() => void round(), opts.intervalMs);
  };
  timer = setTimeout(() => void round(), opts.intervalMs);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
