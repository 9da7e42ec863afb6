/**
 * Node-local identities for the prefixes CIDR rules name (policy-semantics.md §4, §12). They
 * live only in this agent (ipcache + compile input), never in the API, so numbering is local:
 * `LOCAL_IDENTITY_SCOPE | n`, stable while a prefix stays referenced, never reused in one run
 * (a freed number reused at once could let a stale map entry match the new prefix).
 */
import { cidrIdentityLabels } from "../identity/local-identity.js";
import type { Labels } from "../identity/labels.js";
import { LOCAL_IDENTITY_SCOPE } from "../identity/reserved.js";

export interface CidrIdentity {
  readonly prefix: string;
  readonly id: number;
  readonly labels: Labels;
}

const MAX_LOCAL = 0xffffff;

export class CidrIdentityAllocator {
  readonly #byPrefix = new Map<string, CidrIdentity>();
  #next = 1;

  constructor(private readonly options: { dualStack?: boolean } = {}) {}

  /** Make the allocated set exactly `prefixes`; true when it changed. */
  sync(prefixes: readonly string[]): boolean {
    const wanted = new Set(prefixes);
    let changed = false;
    for (const p of [...this.#byPrefix.keys()]) {
      if (!wanted.has(p)) {
        this.#byPrefix.delete(p);
        changed = true;
      }
    }
    for (const p of prefixes) {
      if (this.#byPrefix.has(p)) continue;
      if (this.#next > MAX_LOCAL) throw new Error(`node-local identity space exhausted (${MAX_LOCAL} CIDR identities allocated in this run)`);
      this.#byPrefix.set(p, { prefix: p, id: (LOCAL_IDENTITY_SCOPE | this.#next++) >>> 0, labels: cidrIdentityLabels(p, this.options) });
      changed = true;
    }
    return changed;
  }

  list(): CidrIdentity[] {
    return [...this.#byPrefix.values()];
  }
}
