// Capped exponential back-off, shared by container restarts (CrashLoopBackOff) and sandbox
// (netns + CNI) retries. Pure: callers supply elapsed times, so tests need no clock.

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Like the kubelet: the first retry after a success streak happens at once, later ones wait. */
  readonly immediateFirst?: boolean;
  /** A run at least this long counts as healthy and restarts the sequence (default 2 × maxMs). */
  readonly resetAfterMs?: number;
}

export class Backoff {
  private failures = 0;
  private readonly resetAfterMs: number;

  constructor(private readonly opts: BackoffOptions) {
    this.resetAfterMs = opts.resetAfterMs ?? 2 * opts.maxMs;
  }

  /**
   * The delay before the next attempt, given how long the previous attempt ran (a container's
   * uptime; omit for attempts that fail outright).
   */
  next(ranForMs = 0): number {
    if (ranForMs >= this.resetAfterMs) this.failures = 0;
    const step = this.opts.immediateFirst ? this.failures - 1 : this.failures;
    this.failures++;
    if (step < 0) return 0;
    // 2^step overflows to Infinity long before it matters; min() caps it anyway.
    return Math.min(this.opts.initialMs * 2 ** step, this.opts.maxMs);
  }

  reset(): void {
    this.failures = 0;
  }

  /** Consecutive failures counted since the last reset. */
  get count(): number {
    return this.failures;
  }
}
