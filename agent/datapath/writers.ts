/**
 * Kernel half of the writers: apply planned changes to cf_policy_v1 and cf_ipcache_v1, keep a
 * mirror of what the maps hold (read back from the pinned maps at start, so a restarted agent
 * rewrites nothing that is already right and deletes only stale entries), and fail closed when
 * a map is full.
 */
import { BpfError, Direction, EnforcementMode, PolicyAction, type TypedMap } from "../../native/index.js";
import type { CfIpcacheKey, CfIpcacheValue, CfPolicyKey, CfPolicyValue } from "../../native/codecs.js";
import type { Logger } from "../k8s/log.js";
import { errorMessage } from "../k8s/log.js";
import { ipcacheKeyString, planIpcacheWrites, type IpcacheMapEntry } from "./ipcache-plan.js";
import {
  denyBitsOf,
  entryKeyString,
  noDenyBit,
  noDenyFlags,
  POLICY_DIRECTIONS,
  type DesiredPolicy,
  type PolicyMapEntry,
  type PolicyWriteGroup,
  type PolicyWritePlan,
  type RealizedPolicy,
} from "./policy-plan.js";

/** errnos of a full map: hash maps say E2BIG, the LPM trie ENOSPC. */
export function isMapFull(err: unknown): boolean {
  return err instanceof BpfError && (err.code === "E2BIG" || err.code === "ENOSPC");
}

/** Monotonic counters, shaped for a metrics exporter. */
export interface DatapathCounters {
  /** Policy batches (one endpoint and direction) that did not fit and were failed closed. */
  policyMapFull: number;
  /** ipcache entries that did not fit (their prefixes resolve to world). */
  ipcacheMapFull: number;
  policyEntriesWritten: number;
  policyEntriesDeleted: number;
  ipcacheEntriesWritten: number;
  ipcacheEntriesDeleted: number;
  endpointWrites: number;
}

export function emptyCounters(): DatapathCounters {
  return { policyMapFull: 0, ipcacheMapFull: 0, policyEntriesWritten: 0, policyEntriesDeleted: 0, ipcacheEntriesWritten: 0, ipcacheEntriesDeleted: 0, endpointWrites: 0 };
}

/** What cf_endpoints_v1 should say about an endpoint's policy right now. */
export interface EndpointPolicyView {
  readonly ingressMode: number;
  readonly egressMode: number;
  readonly flags: number;
}

export interface PolicyApplyStats {
  upserted: number;
  deleted: number;
  /** Endpoint directions that were failed closed in this apply. */
  failedClosed: Array<{ epId: number; direction: "ingress" | "egress" }>;
}

const DIRECTION_NAME = { [Direction.ingress]: "ingress", [Direction.egress]: "egress" } as const;

export class PolicyWriter {
  readonly desired: DesiredPolicy = new Map();
  readonly realized: RealizedPolicy = new Map();
  /** Modes as last handed to cf_endpoints_v1 (seeded from the pinned map after a restart). */
  readonly modes = new Map<number, { ingressMode: number; egressMode: number }>();
  /** epId → NO_DENY bits of directions that were failed closed (enforced, no allow entries). */
  readonly failed = new Map<number, number>();
  /** epId → NO_DENY bits held clear while denies are being written. */
  readonly #denyHold = new Map<number, number>();

  constructor(
    private readonly map: TypedMap<CfPolicyKey, CfPolicyValue>,
    private readonly writeEndpoint: (epId: number) => void,
    private readonly counters: DatapathCounters,
    private readonly log: Logger,
  ) {}

  /** Read the map's content into the mirror (start/restart). */
  loadRealized(): number {
    this.realized.clear();
    let n = 0;
    for (const [key, value] of this.map.entries()) {
      this.#mirrorSet({ key, value });
      n++;
    }
    return n;
  }

  #mirrorSet(e: PolicyMapEntry): void {
    let m = this.realized.get(e.key.epId);
    if (!m) this.realized.set(e.key.epId, (m = new Map()));
    m.set(entryKeyString(e.key), e);
  }

  #mirrorDelete(key: CfPolicyKey): void {
    const m = this.realized.get(key.epId);
    m?.delete(entryKeyString(key));
    if (m?.size === 0) this.realized.delete(key.epId);
  }

  view(epId: number): EndpointPolicyView {
    const m = this.modes.get(epId) ?? { ingressMode: EnforcementMode.none, egressMode: EnforcementMode.none };
    const failed = this.failed.get(epId) ?? 0;
    const flags = noDenyFlags(this.realized.get(epId)?.values() ?? []) & ~failed & ~(this.#denyHold.get(epId) ?? 0);
    return {
      ingressMode: failed & noDenyBit(Direction.ingress) ? EnforcementMode.enforce : m.ingressMode,
      egressMode: failed & noDenyBit(Direction.egress) ? EnforcementMode.enforce : m.egressMode,
      flags,
    };
  }

  /**
   * Apply a plan in the order that never makes the datapath looser than both the old and the
   * new state: NO_DENY bits cleared for directions about to get a deny, upserts (old and new
   * coexist, deny wins), modes, deletes, then the final flags.
   */
  apply(plan: PolicyWritePlan): PolicyApplyStats {
    const stats: PolicyApplyStats = { upserted: 0, deleted: 0, failedClosed: [] };
    for (const [epId, bits] of denyBitsOf(plan.upserts)) {
      this.#denyHold.set(epId, bits);
      this.writeEndpoint(epId);
    }
    // A planned endpoint gets its failed directions retried; a failure below marks them again.
    for (const m of plan.modes) this.failed.delete(m.epId);
    for (const g of plan.upserts) {
      try {
        const n = this.map.setMany(g.entries.map((e) => [e.key, e.value] as const));
        for (const e of g.entries) this.#mirrorSet(e);
        stats.upserted += n;
      } catch (err) {
        if (!isMapFull(err)) throw err;
        this.#failClosed(g, err);
        stats.failedClosed.push({ epId: g.epId, direction: DIRECTION_NAME[g.direction] });
      }
    }
    for (const m of plan.modes) {
      this.modes.set(m.epId, { ingressMode: m.ingressMode, egressMode: m.egressMode });
      this.writeEndpoint(m.epId);
    }
    if (plan.deletes.length > 0) {
      stats.deleted = this.map.deleteMany(plan.deletes.map((e) => e.key));
      for (const e of plan.deletes) this.#mirrorDelete(e.key);
    }
    const held = [...this.#denyHold.keys()];
    this.#denyHold.clear();
    for (const epId of new Set([...held, ...plan.modes.map((m) => m.epId)])) this.writeEndpoint(epId);
    this.counters.policyEntriesWritten += stats.upserted;
    this.counters.policyEntriesDeleted += stats.deleted;
    return stats;
  }

  /**
   * The batch did not fit. What part of it got in is unknown, so read the attempted keys back;
   * keep the denies (stricter), remove every allow of that endpoint and direction, and enforce
   * the direction: nothing is allowed until a later apply fits.
   */
  #failClosed(g: PolicyWriteGroup, err: unknown): void {
    const bit = noDenyBit(g.direction);
    this.failed.set(g.epId, (this.failed.get(g.epId) ?? 0) | bit);
    for (const e of g.entries) {
      const got = this.map.get(e.key);
      if (got) this.#mirrorSet({ key: e.key, value: got });
    }
    const allows = [...(this.realized.get(g.epId)?.values() ?? [])].filter((e) => e.key.direction === g.direction && e.value.action === PolicyAction.allow);
    // Enforce first, then delete: during the switch the direction only gets stricter.
    this.writeEndpoint(g.epId);
    if (allows.length > 0) this.map.deleteMany(allows.map((e) => e.key));
    for (const e of allows) this.#mirrorDelete(e.key);
    this.counters.policyMapFull++;
    this.log.error("policy map full: endpoint direction failed closed (enforced, nothing allowed)", {
      ep: g.epId,
      direction: DIRECTION_NAME[g.direction],
      entries: g.entries.length,
      removedAllows: allows.length,
      error: errorMessage(err),
    });
  }

  /** Endpoints whose failed directions must be retried on the next apply. */
  failedEndpoints(): number[] {
    return [...this.failed.keys()];
  }

  /** Directions are failed closed per endpoint ("ingress"/"egress"). */
  failedDirections(epId: number): Array<"ingress" | "egress"> {
    const bits = this.failed.get(epId) ?? 0;
    return POLICY_DIRECTIONS.filter((d) => bits & noDenyBit(d)).map((d) => DIRECTION_NAME[d]);
  }
}

export interface IpcacheSyncStats {
  upserted: number;
  deleted: number;
  /** Prefixes that did not fit (counted in ipcacheMapFull). */
  failed: string[];
}

export class IpcacheWriter {
  readonly realized = new Map<string, IpcacheMapEntry>();

  constructor(
    private readonly map: TypedMap<CfIpcacheKey, CfIpcacheValue>,
    private readonly counters: DatapathCounters,
    private readonly log: Logger,
  ) {}

  loadRealized(): number {
    this.realized.clear();
    for (const [key, value] of this.map.entries()) this.realized.set(ipcacheKeyString(key), { key, value });
    return this.realized.size;
  }

  sync(desired: ReadonlyMap<string, IpcacheMapEntry>): IpcacheSyncStats {
    const plan = planIpcacheWrites(this.realized, desired);
    const stats: IpcacheSyncStats = { upserted: 0, deleted: 0, failed: [] };
    let staleDeleted = false;
    const deleteStale = () => {
      if (staleDeleted || plan.deletes.length === 0) return;
      staleDeleted = true;
      stats.deleted = this.map.deleteMany(plan.deletes.map((e) => e.key));
      for (const e of plan.deletes) this.realized.delete(ipcacheKeyString(e.key));
    };
    try {
      stats.upserted = this.map.setMany(plan.upserts.map((e) => [e.key, e.value] as const));
      for (const e of plan.upserts) this.realized.set(ipcacheKeyString(e.key), e);
    } catch (err) {
      if (!isMapFull(err)) throw err;
      // Stale prefixes go first to make room, then entries one by one so all that fit get in.
      deleteStale();
      stats.upserted = 0;
      for (const e of plan.upserts) {
        try {
          this.map.set(e.key, e.value);
          this.realized.set(ipcacheKeyString(e.key), e);
          stats.upserted++;
        } catch (e2) {
          if (!isMapFull(e2)) throw e2;
          stats.failed.push(`${e.key.addr}/${e.key.prefixlen - 32}`);
        }
      }
      this.counters.ipcacheMapFull += stats.failed.length;
      this.log.error("ipcache map full: prefixes left out resolve to world", { missing: stats.failed.length, first: stats.failed[0], error: errorMessage(err) });
    }
    deleteStale();
    this.counters.ipcacheEntriesWritten += stats.upserted;
    this.counters.ipcacheEntriesDeleted += stats.deleted;
    return stats;
  }
}
