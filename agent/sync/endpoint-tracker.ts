/**
 * The DatapathHook the EndpointManager calls, wrapped: forwards to the datapath and keeps the
 * set of attached endpoints, which is what policy and ipcache sync compile for. Listeners run
 * inside attach, before the CNI ADD returns, so a new pod's policy (and its ipcache entry) is
 * in the maps before the pod runs a single process.
 */
import type { DatapathHook, Endpoint } from "../endpoint/types.js";

export type EndpointChange = { readonly type: "attached" | "detached"; readonly endpoint: Endpoint };

export class EndpointTracker implements DatapathHook {
  readonly #attached = new Map<number, Endpoint>();
  readonly #listeners = new Set<(change: EndpointChange) => Promise<void> | void>();

  constructor(private readonly inner: DatapathHook) {}

  async attachEndpoint(ep: Endpoint): Promise<void> {
    await this.inner.attachEndpoint(ep);
    this.#attached.set(ep.id, ep);
    await this.#emit({ type: "attached", endpoint: ep });
  }

  async detachEndpoint(ep: Endpoint): Promise<void> {
    await this.inner.detachEndpoint(ep);
    this.#attached.delete(ep.id);
    await this.#emit({ type: "detached", endpoint: ep });
  }

  endpoints(): Endpoint[] {
    return [...this.#attached.values()];
  }

  /** Returns the unsubscribe function. */
  onChange(listener: (change: EndpointChange) => Promise<void> | void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #emit(change: EndpointChange): Promise<void> {
    for (const l of this.#listeners) await l(change);
  }
}
