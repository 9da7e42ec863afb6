// Where a batch's running probes meet the drop notices the harness sends on stdin (schema.ts,
// DropNoticeSchema). A probe watches its own 5-tuple once its socket is bound; a notice for it
// ends its wait. A notice can overtake the watch (the probe binds, sends, and only registers
// after its connect call returns), so unmatched notices are kept for the batch's lifetime.
import type { DropNotice } from "./schema.js";

export type Transport = DropNotice["dropped"]["protocol"];

export interface FiveTuple {
  protocol: Transport;
  source: { address: string; port: number };
  destination: { address: string; port: number };
}

const keyOf = (t: FiveTuple) => `${t.protocol} ${t.source.address}:${t.source.port} ${t.destination.address}:${t.destination.port}`;

/** Bounds what a misbehaving harness can make a batch hold. */
const MAX_UNCLAIMED = 10_000;

export class DropBoard {
  private readonly watchers = new Map<string, (reason: string) => void>();
  private readonly unclaimed = new Map<string, string>();

  notify(notice: DropNotice): void {
    const key = keyOf(notice.dropped);
    const watcher = this.watchers.get(key);
    if (watcher) watcher(notice.dropped.reason);
    else if (this.unclaimed.size < MAX_UNCLAIMED) this.unclaimed.set(key, notice.dropped.reason);
  }

  /** Resolves with the drop reason when a notice names `tuple`; never otherwise. `stop()` forgets the watch. */
  watch(tuple: FiveTuple): { dropped: Promise<string>; stop: () => void } {
    const key = keyOf(tuple);
    let stop = () => undefined as void;
    const dropped = new Promise<string>((resolve) => {
      const early = this.unclaimed.get(key);
      if (early !== undefined) {
        this.unclaimed.delete(key);
        resolve(early);
        return;
      }
      this.watchers.set(key, resolve);
      stop = () => void this.watchers.delete(key);
    });
    return { dropped, stop };
  }
}
