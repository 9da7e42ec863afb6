// Ring buffer consumption. A native thread drains the ring and delivers batches of records
// to JS; each batch is one Buffer of `u32 length, u32 0, bytes` records padded to 8.
import { nativeAddon, type RingbufHandle } from "./addon.js";
import type { BpfMap } from "./bpf-map.js";
import { nativeCall } from "./errors.js";
import { MapType } from "./kernel.js";

/** Records delivered together. Iterating yields views into the batch (no copies). */
export class RecordBatch implements Iterable<Buffer> {
  constructor(
    readonly buffer: Buffer,
    readonly count: number,
  ) {}

  /** Calls fn with the batch buffer and each record's offset and length: the fastest walk. */
  forEachRecord(fn: (buf: Buffer, offset: number, length: number) => void): void {
    const buf = this.buffer;
    let off = 0;
    for (let i = 0; i < this.count; i++) {
      const len = buf.readUInt32LE(off);
      fn(buf, off + 8, len);
      off += (8 + len + 7) & ~7;
    }
  }

  *[Symbol.iterator](): Iterator<Buffer> {
    const buf = this.buffer;
    let off = 0;
    for (let i = 0; i < this.count; i++) {
      const len = buf.readUInt32LE(off);
      yield buf.subarray(off + 8, off + 8 + len);
      off += (8 + len + 7) & ~7;
    }
  }
}

export interface RingBufferOptions {
  /** Deliver at most this many records per batch (default 4096). */
  maxBatchRecords?: number;
  /** ...or this many bytes (default 1 MiB). */
  maxBatchBytes?: number;
  /**
   * Drain the ring at least this often (default 10 ms). Producers that submit without a
   * wakeup (bpf/lib/events.h below cfg_event_wakeup_bytes) are seen within this interval.
   */
  intervalMs?: number;
  /** Keep the event loop alive while open (default true). */
  keepAlive?: boolean;
  /** Called when onBatch throws; default rethrows (an uncaught exception). */
  onError?: (err: unknown) => void;
}

export interface RingBufferStats {
  /** Records read from the ring. */
  records: number;
  /** Batches handed to JS. */
  batches: number;
  bytes: number;
  /** Times the reader thread waited because JS had not taken earlier batches yet. */
  queueFullWaits: number;
}

export class RingBufferReader {
  #handle: RingbufHandle | undefined;

  private constructor(handle: RingbufHandle) {
    this.#handle = handle;
  }

  /**
   * Start consuming a BPF_MAP_TYPE_RINGBUF map. Records lost because the ring was full are
   * not visible here: the BPF side counts them (cf_metrics_v1, MetricCode.lostEvents).
   */
  static open(map: BpfMap, onBatch: (batch: RecordBatch) => void, opts: RingBufferOptions = {}): RingBufferReader {
    if (map.type !== MapType.ringbuf) throw new TypeError(`map ${map.name} is not a ring buffer (type ${map.typeName})`);
    const onError =
      opts.onError ??
      ((e: unknown) => {
        throw e;
      });
    const handle = nativeCall(
      () =>
        nativeAddon().ringbufOpen(
          map.fd,
          (buf, count) => {
            try {
              onBatch(new RecordBatch(buf, count));
            } catch (e) {
              onError(e);
            }
          },
          opts.maxBatchRecords ?? 4096,
          opts.maxBatchBytes ?? 1 << 20,
          opts.intervalMs ?? 10,
        ),
      "ring buffer",
    );
    const reader = new RingBufferReader(handle);
    if (opts.keepAlive === false) nativeAddon().ringbufRef(handle, false);
    return reader;
  }

  stats(): RingBufferStats {
    if (!this.#handle) throw new Error("ring buffer reader is closed");
    return nativeAddon().ringbufStats(this.#handle);
  }

  /** Stop reading. Batches already handed over may still arrive in later ticks. */
  close(): void {
    if (!this.#handle) return;
    nativeAddon().ringbufClose(this.#handle);
    this.#handle = undefined;
  }
}
