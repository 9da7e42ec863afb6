/**
 * The DatapathHook of agent/endpoint: puts bpf/endpoint.c on a pod's host-side veth (tc
 * clsact, in the calling process's netns — the agent runs inside the node netns) and keeps
 * `cf_endpoints_v1[ifindex]` = {ep_id, identity, ipv4, modes, flags, revision}.
 *
 * The entry is written only when its content changes, so a restore after an agent restart
 * (attachEndpoint on every live endpoint) rewrites nothing that is already right.
 */
import { BpfError, ENDPOINT_PROGRAMS, HOST_ENDPOINT_KEY, ReservedIdentity, ifIndex, tcAttach, tcDetach, type BpfObject, type TcHook, type TypedMap } from "../../native/index.js";
import type { CfEndpoint } from "../../native/codecs.js";
import type { DatapathHook, Endpoint } from "../endpoint/types.js";
import type { Logger } from "../k8s/log.js";
import { errorMessage } from "../k8s/log.js";
import type { DatapathCounters, EndpointPolicyView } from "./writers.js";

/** Fixed tc position, so a re-attach (restart, upgrade) swaps the program atomically in place. */
export const TC_PRIORITY = 1;
export const TC_HANDLE = 1;

const HOOKS: ReadonlyArray<{ hook: TcHook; program: string }> = [
  { hook: ENDPOINT_PROGRAMS.fromEndpoint.hook, program: ENDPOINT_PROGRAMS.fromEndpoint.name },
  { hook: ENDPOINT_PROGRAMS.toEndpoint.hook, program: ENDPOINT_PROGRAMS.toEndpoint.name },
];

export interface AttachedEndpoint {
  readonly epId: number;
  readonly ifindex: number;
  readonly ifName: string;
  readonly identity: number;
  readonly ipv4: string;
}

function sameEndpoint(a: CfEndpoint, b: CfEndpoint): boolean {
  return (
    a.epId === b.epId &&
    a.identity === b.identity &&
    a.ipv4 === b.ipv4 &&
    a.ingressMode === b.ingressMode &&
    a.egressMode === b.egressMode &&
    a.flags === b.flags &&
    a.policyRevision === b.policyRevision
  );
}

function isGone(err: unknown): boolean {
  return err instanceof BpfError && (err.code === "ENODEV" || err.code === "ENOENT" || err.code === "ENXIO");
}

export interface EndpointAttacherDeps {
  readonly obj: BpfObject;
  readonly endpoints: TypedMap<number, CfEndpoint>;
  readonly policyView: (epId: number) => EndpointPolicyView;
  readonly revision: (epId: number) => bigint;
  readonly counters: DatapathCounters;
  readonly log: Logger;
  /** netns of the host-side veths; default the calling thread's (the agent's own). */
  readonly netns?: string;
}

export class EndpointAttacher implements DatapathHook {
  /** ifindex → what cf_endpoints_v1 holds (read back at start). */
  readonly mirror = new Map<number, CfEndpoint>();
  /** epId → the device it is attached to. */
  readonly attached = new Map<number, AttachedEndpoint>();

  constructor(private readonly d: EndpointAttacherDeps) {}

  loadRealized(): CfEndpoint[] {
    this.mirror.clear();
    for (const [ifindex, v] of this.d.endpoints.entries()) this.mirror.set(ifindex, v);
    return [...this.mirror.values()];
  }

  /** ifindex of the endpoint's host veth, looked up live: the recorded one may predate a re-create. */
  resolveIfindex(ep: Endpoint): number {
    let live: number;
    try {
      live = ifIndex(ep.hostIfName, this.d.netns);
    } catch (err) {
      throw new Error(`endpoint ${ep.id} (${ep.pod.namespace}/${ep.pod.name}): host veth ${ep.hostIfName} not found: ${errorMessage(err)}`);
    }
    if (ep.hostIfIndex !== 0 && ep.hostIfIndex !== live) {
      this.d.log.warn("host veth ifindex differs from the record; using the live one", { ep: ep.id, dev: ep.hostIfName, recorded: ep.hostIfIndex, live });
    }
    return live;
  }

  async attachEndpoint(ep: Endpoint): Promise<void> {
    const ifindex = this.resolveIfindex(ep);
    const prev = this.attached.get(ep.id);
    for (const h of HOOKS) {
      tcAttach({ ifindex, hook: h.hook, program: this.d.obj.program(h.program), priority: TC_PRIORITY, handle: TC_HANDLE, replace: true, ...(this.d.netns ? { netns: this.d.netns } : {}) });
    }
    const ipv4 = ep.ipv4.split("/")[0] ?? ep.ipv4;
    this.attached.set(ep.id, { epId: ep.id, ifindex, ifName: ep.hostIfName, identity: ep.identity.id, ipv4 });
    // Another device of this endpoint id (veth re-created) or another endpoint on this device
    // (ifindex entry left by a previous owner): neither may keep classifying packets.
    if (prev && prev.ifindex !== ifindex) this.#deleteEntry(prev.ifindex);
    this.sync(ep.id);
  }

  async detachEndpoint(ep: Endpoint): Promise<void> {
    const a = this.attached.get(ep.id);
    const ifindexes = new Set<number>();
    if (a) ifindexes.add(a.ifindex);
    if (ep.hostIfIndex !== 0) ifindexes.add(ep.hostIfIndex);
    for (const [ifindex, v] of this.mirror) if (v.epId === ep.id) ifindexes.add(ifindex);
    this.attached.delete(ep.id);
    for (const ifindex of ifindexes) {
      const entry = this.mirror.get(ifindex);
      if (entry && entry.epId !== ep.id) continue; // the ifindex now belongs to someone else
      this.#deleteEntry(ifindex);
      this.#detachPrograms(ifindex, ep);
    }
  }

  #detachPrograms(ifindex: number, ep: Endpoint): void {
    for (const h of HOOKS) {
      try {
        tcDetach({ ifindex, hook: h.hook, priority: TC_PRIORITY, handle: TC_HANDLE, ...(this.d.netns ? { netns: this.d.netns } : {}) });
      } catch (err) {
        if (!isGone(err)) throw err;
        this.d.log.info("host veth already gone on detach", { ep: ep.id, ifindex, hook: h.hook });
      }
    }
  }

  #deleteEntry(ifindex: number): void {
    this.d.endpoints.delete(ifindex);
    this.mirror.delete(ifindex);
  }

  /** Rewrite the endpoint's entry if its desired content changed; no-op for unattached ids. */
  sync(epId: number): void {
    const a = this.attached.get(epId);
    if (!a) return;
    const p = this.d.policyView(epId);
    const want: CfEndpoint = {
      epId,
      identity: a.identity,
      ipv4: a.ipv4,
      ingressMode: p.ingressMode,
      egressMode: p.egressMode,
      flags: p.flags,
      policyRevision: this.d.revision(epId),
    };
    const have = this.mirror.get(a.ifindex);
    if (have && sameEndpoint(have, want)) return;
    this.d.endpoints.set(a.ifindex, want);
    this.mirror.set(a.ifindex, want);
    this.d.counters.endpointWrites++;
  }

  /**
   * The node's host endpoint: its entry lives under HOST_ENDPOINT_KEY (no device), and sync()
   * keeps it like a pod's. The programs on the underlay device are host-attach.ts's business.
   */
  registerHost(epId: number, ipv4: string): void {
    this.attached.set(epId, { epId, ifindex: HOST_ENDPOINT_KEY, ifName: "(host)", identity: ReservedIdentity.host, ipv4 });
    this.sync(epId);
  }

  unregisterHost(epId: number): void {
    const a = this.attached.get(epId);
    if (a?.ifindex !== HOST_ENDPOINT_KEY) return;
    this.attached.delete(epId);
    this.#deleteEntry(HOST_ENDPOINT_KEY);
  }

  /** The entry as the kernel holds it. */
  read(epId: number): CfEndpoint | undefined {
    const a = this.attached.get(epId);
    return a ? this.d.endpoints.get(a.ifindex) : undefined;
  }

  /** Entries of endpoints not in `live` (left by a previous run): deleted, programs detached. */
  prune(live: ReadonlySet<number>): number[] {
    const removed: number[] = [];
    for (const [ifindex, v] of [...this.mirror]) {
      // The host endpoint is no pod: attachHost re-registers it, detachHost removes it.
      if (live.has(v.epId) || ifindex === HOST_ENDPOINT_KEY) continue;
      this.#deleteEntry(ifindex);
      try {
        for (const h of HOOKS) tcDetach({ ifindex, hook: h.hook, priority: TC_PRIORITY, handle: TC_HANDLE, ...(this.d.netns ? { netns: this.d.netns } : {}) });
      } catch (err) {
        if (!isGone(err)) this.d.log.warn("detach of a stale endpoint failed", { ep: v.epId, ifindex, error: errorMessage(err) });
      }
      this.attached.delete(v.epId);
      removed.push(v.epId);
    }
    return removed;
  }
}
