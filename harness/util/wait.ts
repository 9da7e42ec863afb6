/** Thrown inside a `waitFor` check to stop waiting at once (other errors are retried). */
export class StopWaiting extends Error {}

/** Polls `check` until it returns a non-undefined value or `timeoutMs` passes; never sleeps blindly. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; onTimeout?: () => Promise<string> },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const extra = opts.onTimeout ? await opts.onTimeout().catch(() => "") : "";
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for ${what}${cause}${extra ? `\n${extra}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}
