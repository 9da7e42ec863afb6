/**
 * The flow observer: turns datapath events into flows, keeps the newest in a ring and fans new
 * flows out to followers (API streams, metrics). The datapath layer owns the ring buffer
 * reader and hands events over through an EventSource.
 */
import { describeEvent, type CfEvent } from "../../native/index.js";
import type { ObserverContext } from "./context.js";
import { eventToFlow, type StoredFlow } from "./decode.js";
import { FlowRing } from "./ring.js";
import { systemFlowClock, type FlowClock } from "./time.js";

/** Where events come from (the datapath layer's reader of cf_events_v1, or a test feed). */
export interface EventSource {
  /** Registers a batch consumer; returns the unsubscribe function. */
  onEvents(cb: (events: CfEvent[]) => void): () => void;
  /** `lost`: events the datapath could not write (ring full); `received`: events delivered. */
  stats(): { lost: number; received: number };
}

export const DEFAULT_FLOW_CAPACITY = 4096;

export interface FlowObserverOptions {
  readonly context: ObserverContext;
  readonly capacity?: number;
  readonly clock?: FlowClock;
  readonly uuid?: () => string;
  /** Called for an event that could not be decoded (the flow is skipped, never the batch). */
  readonly onDecodeError?: (err: unknown, event: CfEvent) => void;
}

export interface ObserverStats {
  readonly capacity: number;
  readonly stored: number;
  /** Flows decoded since start, including those the ring has overwritten. */
  readonly seen: number;
  readonly decodeErrors: number;
}

export class FlowObserver {
  private readonly ring: FlowRing<StoredFlow>;
  private readonly followers = new Set<(flow: StoredFlow) => void>();
  private readonly sources = new Set<EventSource>();
  private readonly clock: FlowClock;
  private decodeErrors = 0;

  constructor(private readonly opts: FlowObserverOptions) {
    this.ring = new FlowRing(opts.capacity ?? DEFAULT_FLOW_CAPACITY);
    this.clock = opts.clock ?? systemFlowClock();
  }

  /** Starts consuming a source; the returned function stops. */
  attach(source: EventSource): () => void {
    this.sources.add(source);
    const off = source.onEvents((events) => this.ingest(events));
    return () => {
      off();
      this.sources.delete(source);
    };
  }

  ingest(events: readonly CfEvent[]): void {
    for (const e of events) {
      let stored: StoredFlow;
      try {
        stored = eventToFlow(e, this.opts.context, { clock: this.clock, ...(this.opts.uuid ? { uuid: this.opts.uuid } : {}) });
      } catch (err) {
        this.decodeErrors++;
        this.opts.onDecodeError?.(new Error(`cannot decode event ${describeEvent(e)}: ${(err as Error).message}`), e);
        continue;
      }
      this.ring.push(stored);
      for (const f of this.followers) f(stored);
    }
  }

  /** Stored flows, oldest first. */
  flows(): Iterable<StoredFlow> {
    return this.ring;
  }

  /** Every flow decoded from now on; returns the unsubscribe function. */
  follow(cb: (flow: StoredFlow) => void): () => void {
    this.followers.add(cb);
    return () => this.followers.delete(cb);
  }

  /** Lost events summed over the attached sources. */
  lostEvents(): number {
    let lost = 0;
    for (const s of this.sources) lost += s.stats().lost;
    return lost;
  }

  stats(): ObserverStats {
    return { capacity: this.ring.capacity, stored: this.ring.size, seen: this.ring.pushed, decodeErrors: this.decodeErrors };
  }
}
