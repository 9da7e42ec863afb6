/**
 * A task that many watch events trigger but that must run one at a time: triggers within the
 * delay coalesce into one run; a trigger during a run schedules exactly one more run after it.
 * `flush()` runs now (after any run in progress) — for start-up and for a new endpoint, whose
 * policy must be in place before its CNI ADD returns.
 */
export class DebouncedTask {
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly run: () => Promise<void> | void,
    private readonly delayMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  trigger(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.delayMs);
  }

  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const next = this.#chain.then(async () => {
      if (!this.#stopped) await this.run();
    });
    this.#chain = next.catch((err: unknown) => this.onError(err));
    return this.#chain;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#chain;
  }
}
