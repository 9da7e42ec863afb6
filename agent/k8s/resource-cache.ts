/**
 * A typed, self-healing cache of one Kubernetes resource: list + watch through the client
 * library's ListWatch, plus what the agent needs on top of it:
 *
 * - `synced`: resolves once the first list has landed, so consumers (ipcache, policy) can wait
 *   for a complete view before acting on "absence";
 * - update events carry the previous object, so a consumer can diff labels or addresses;
 * - restarts with back-off after errors (ListWatch stops on the first error; an agent must not);
 * - optional validation of custom objects: an invalid object is logged and skipped instead of
 *   crashing a consumer that trusts the type.
 */
import { ListWatch, Watch } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "./log.js";
import { errorMessage, silentLogger } from "./log.js";

/** The minimum every cached object has. */
export interface CachedObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string };
}

export interface ListOptions {
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
}

export interface ResourceCacheOptions<T extends CachedObject> {
  /** For logs and errors, e.g. "pods" or "ciliumidentities". */
  readonly resource: string;
  /** Collection path the watch uses, e.g. `/api/v1/pods`. */
  readonly path: string;
  /** Lists the collection with the same selectors (the generated client call). */
  readonly list: (opts: ListOptions) => Promise<{ items?: readonly unknown[]; metadata?: { resourceVersion?: string } }>;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
  /** Validates a raw object; undefined = skip it (the reason is logged by the parser). */
  readonly parse?: (raw: unknown) => T | undefined;
  readonly log?: Logger;
  /** First retry delay after an error; doubles up to 5 s. */
  readonly retryDelayMs?: number;
}

export interface CacheHandlers<T> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  delete?(obj: T): void;
}

const MAX_RETRY_MS = 5000;

export function objectKey(obj: CachedObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name ?? ""}` : (obj.metadata?.name ?? "");
}

export class ResourceCache<T extends CachedObject> {
  readonly synced: Promise<void>;
  private readonly items = new Map<string, T>();
  private readonly handlers = new Set<CacheHandlers<T>>();
  private readonly log: Logger;
  private lw: ListWatch<KubernetesObject> | undefined;
  private markSynced!: () => void;
  private isSyncedFlag = false;
  private listedOnce = false;
  private stopped = true;
  private retryMs: number;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly kc: KubeConfig,
    private readonly opts: ResourceCacheOptions<T>,
  ) {
    this.log = opts.log ?? silentLogger;
    this.retryMs = opts.retryDelayMs ?? 200;
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  get resource(): string {
    return this.opts.resource;
  }

  isSynced(): boolean {
    return this.isSyncedFlag;
  }

  /** Starts listing and watching; returns at once (await `synced` for the first full view). */
  start(): this {
    if (!this.stopped) return this;
    this.stopped = false;
    const selectors: ListOptions = {
      ...(this.opts.fieldSelector !== undefined ? { fieldSelector: this.opts.fieldSelector } : {}),
      ...(this.opts.labelSelector !== undefined ? { labelSelector: this.opts.labelSelector } : {}),
    };
    const listFn = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const list = await this.opts.list(selectors);
      this.listedOnce = true;
      return { apiVersion: "v1", kind: "List", items: (list.items ?? []) as KubernetesObject[], metadata: list.metadata ?? {} };
    };
    const lw = new ListWatch<KubernetesObject>(this.opts.path, new Watch(this.kc), listFn, false, this.opts.labelSelector, this.opts.fieldSelector);
    lw.on("add", (o) => this.upsert(o));
    lw.on("update", (o) => this.upsert(o));
    lw.on("delete", (o) => this.remove(o));
    lw.on("error", (err: unknown) => this.onError(err));
    this.lw = lw;
    void this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.lw?.stop();
  }

  /**
   * Subscribes to changes. With `replay` (default) the objects already cached are delivered as
   * adds first, so a late subscriber sees the same world as an early one. Returns an unsubscribe.
   */
  on(handlers: CacheHandlers<T>, opts: { replay?: boolean } = {}): () => void {
    this.handlers.add(handlers);
    if (opts.replay ?? true) for (const obj of this.items.values()) this.call(() => handlers.add?.(obj));
    return () => this.handlers.delete(handlers);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): T[] {
    const all = [...this.items.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  get size(): number {
    return this.items.size;
  }

  private async run(): Promise<void> {
    const lw = this.lw;
    if (!lw || this.stopped) return;
    // ListWatch.start() resolves once the list is applied and the watch is open; a failed list
    // reports through the error callback instead, so listedOnce tells the two apart.
    await lw.start().catch((err: unknown) => this.onError(err));
    if (this.listedOnce && !this.isSyncedFlag && !this.stopped) {
      this.isSyncedFlag = true;
      this.retryMs = this.opts.retryDelayMs ?? 200;
      this.markSynced();
    }
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    this.log.warn("watch failed; retrying", { resource: this.opts.resource, error: errorMessage(err), retryMs: this.retryMs });
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.run();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  private parse(raw: unknown): T | undefined {
    return this.opts.parse ? this.opts.parse(raw) : (raw as T);
  }

  private upsert(raw: KubernetesObject): void {
    const key = objectKey(raw as CachedObject);
    const old = this.items.get(key);
    const obj = this.parse(raw);
    if (obj === undefined) {
      // An object that no longer validates is gone as far as consumers are concerned.
      if (old) {
        this.items.delete(key);
        for (const h of this.handlers) this.call(() => h.delete?.(old));
      }
      return;
    }
    this.items.set(key, obj);
    for (const h of this.handlers) this.call(() => (old ? h.update?.(obj, old) : h.add?.(obj)));
  }

  private remove(raw: KubernetesObject): void {
    const key = objectKey(raw as CachedObject);
    const old = this.items.get(key);
    if (!old) return;
    this.items.delete(key);
    const last = this.parse(raw) ?? old;
    for (const h of this.handlers) this.call(() => h.delete?.(last));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error("cache event handler threw", { resource: this.opts.resource, error: errorMessage(err) });
    }
  }
}
