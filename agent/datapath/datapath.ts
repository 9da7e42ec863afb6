/**
 * The agent's datapath: the one object that owns the loaded bpf/endpoint.c and its pinned
 * maps. The control side calls it with plain data (Endpoint records, desired ipcache entries,
 * compiled policy states or diffs); it turns them into map writes in a safe order.
 *
 * Restart: `start()` reuses the pinned maps and reads their content back; the next
 * `applyPolicy(state)` / `syncIpcache(desired)` then writes only what differs and deletes only
 * entries the desired state lacks, so established connections (conntrack is pinned too) and
 * correct entries are never disturbed.
 */
import { MAP_NAMES, PerCpuTypedMap, TypedMap, endpointCodec, ipcacheKeyCodec, ipcacheValueCodec, metricsValueCodec, policyKeyCodec, policyValueCodec, u32Codec, type BpfMap, type BpfObject } from "../../native/index.js";
import type { CfEndpoint, CfMetricsValue } from "../../native/codecs.js";
import type { DatapathHook, Endpoint } from "../endpoint/types.js";
import { createLogger, type Logger } from "../k8s/log.js";
import type { PolicyDiff, PolicyState } from "../policy/index.js";
import { EndpointAttacher } from "./endpoint-attach.js";
import { attachHostPrograms, detachHostPrograms } from "./host-attach.js";
import { normalizeIpcache, type IpcacheEntry } from "./ipcache-plan.js";
import { loadDatapathObject, parseDatapathConfig, type DatapathConfig, type DatapathConfigInput } from "./loader.js";
import { desiredFromState, patchDesired, planPolicyWrites } from "./policy-plan.js";
import { IpcacheWriter, PolicyWriter, emptyCounters, type DatapathCounters, type IpcacheSyncStats, type PolicyApplyStats } from "./writers.js";

export interface DatapathOptions {
  readonly config: DatapathConfigInput;
  readonly log?: Logger;
  /**
   * netns (name or path) of the host-side veths, for tc and ifindex lookups. Default: the
   * calling thread's namespace, which is right for the agent (it runs inside the node netns);
   * tests running in the root netns pass the node netns here.
   */
  readonly netns?: string;
}

export interface DatapathStartReport {
  readonly pinDir: string;
  /** Maps that were already pinned (a restart): their entries were read back, not cleared. */
  readonly reusedMaps: readonly string[];
  readonly endpointEntries: number;
  readonly policyEntries: number;
  readonly ipcacheEntries: number;
}

/** The node's host endpoint as attachHost() takes it. */
export interface HostAttachOptions {
  /** Underlay device carrying the node's address (eth0 of a local node). */
  readonly device: string;
  /** The node's IPv4 (InternalIP), for cf_endpoints_v1.ipv4. */
  readonly ipv4: string;
  /** The host endpoint id its policy entries carry (agent: HOST_ENDPOINT_ID of agent/policy). */
  readonly epId: number;
}

export interface PolicyApplyReport extends PolicyApplyStats {
  /** The revision written to every endpoint whose policy is now fully realized. */
  readonly revision: number;
}

function isPolicyDiff(input: PolicyDiff | PolicyState): input is PolicyDiff {
  return !(input instanceof Map) && Array.isArray((input as PolicyDiff).upserts);
}

export class Datapath implements DatapathHook {
  readonly config: DatapathConfig;
  readonly counters: DatapathCounters = emptyCounters();
  readonly #log: Logger;
  readonly #netns: string | undefined;
  #obj: BpfObject | undefined;
  #attacher: EndpointAttacher | undefined;
  #policy: PolicyWriter | undefined;
  #ipcache: IpcacheWriter | undefined;
  #metrics: PerCpuTypedMap<number, CfMetricsValue> | undefined;
  /** epId → revision cf_endpoints_v1 should carry (seeded from the pinned map). */
  readonly #revisions = new Map<number, bigint>();
  #lastRevision = 0;
  #haveFullState = false;
  #hostObj: BpfObject | undefined;
  #host: { epId: number; ifindex: number; device: string } | undefined;

  constructor(opts: DatapathOptions) {
    this.config = parseDatapathConfig(opts.config);
    this.#log = opts.log ?? createLogger("datapath");
    this.#netns = opts.netns;
  }

  /** Load endpoint.o (maps pinned per node) and read back what a previous run left in the maps. */
  async start(): Promise<DatapathStartReport> {
    if (this.#obj) throw new Error("datapath already started");
    const loaded = loadDatapathObject(this.config);
    const obj = loaded.obj;
    try {
      const endpoints = new TypedMap(obj.map(MAP_NAMES.endpoints), u32Codec, endpointCodec);
      const policy = new PolicyWriter(new TypedMap(obj.map(MAP_NAMES.policy), policyKeyCodec, policyValueCodec), (epId) => this.#attacher?.sync(epId), this.counters, this.#log);
      const attacher = new EndpointAttacher({
        obj,
        endpoints,
        policyView: (epId) => policy.view(epId),
        revision: (epId) => this.#revisions.get(epId) ?? 0n,
        counters: this.counters,
        log: this.#log,
        ...(this.#netns ? { netns: this.#netns } : {}),
      });
      const ipcache = new IpcacheWriter(new TypedMap(obj.map(MAP_NAMES.ipcache), ipcacheKeyCodec, ipcacheValueCodec), this.counters, this.#log);
      const eps = attacher.loadRealized();
      // Until the policy is resynced, endpoints keep the modes and revision they had: a restart
      // must not open an enforced direction.
      for (const e of eps) {
        policy.modes.set(e.epId, { ingressMode: e.ingressMode, egressMode: e.egressMode });
        this.#revisions.set(e.epId, e.policyRevision);
        if (e.policyRevision > BigInt(this.#lastRevision)) this.#lastRevision = Number(e.policyRevision);
      }
      const policyEntries = policy.loadRealized();
      const ipcacheEntries = ipcache.loadRealized();
      this.#metrics = new PerCpuTypedMap(obj.map(MAP_NAMES.metrics), u32Codec, metricsValueCodec);
      this.#obj = obj;
      this.#attacher = attacher;
      this.#policy = policy;
      this.#ipcache = ipcache;
      const report = { pinDir: loaded.pinDir, reusedMaps: loaded.reusedMaps, endpointEntries: eps.length, policyEntries, ipcacheEntries };
      this.#log.info("datapath started", { pinDir: report.pinDir, reused: report.reusedMaps.length, endpoints: eps.length, policyEntries, ipcacheEntries });
      return report;
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  #started(): { obj: BpfObject; attacher: EndpointAttacher; policy: PolicyWriter; ipcache: IpcacheWriter } {
    if (!this.#obj || !this.#attacher || !this.#policy || !this.#ipcache) throw new Error("datapath not started (call start())");
    return { obj: this.#obj, attacher: this.#attacher, policy: this.#policy, ipcache: this.#ipcache };
  }

  // --- DatapathHook ---------------------------------------------------------------------------

  /** Attach both tc programs to the endpoint's host veth and (re)write its cf_endpoints_v1 entry. */
  async attachEndpoint(ep: Endpoint): Promise<void> {
    await this.#started().attacher.attachEndpoint(ep);
  }

  /** Remove the endpoint's entry and detach; tolerates a vanished veth. */
  async detachEndpoint(ep: Endpoint): Promise<void> {
    await this.#started().attacher.detachEndpoint(ep);
  }

  /** After a restart's restore: drop endpoint entries (and tc filters) of ids not in `live`. */
  pruneEndpoints(live: Iterable<number>): number[] {
    return this.#started().attacher.prune(new Set(live));
  }

  // --- host endpoint (host firewall) ---------------------------------------------------------

  /**
   * Load bpf/host.o (once; it shares the pinned maps) and put it on `device`, then register the
   * host endpoint under cf_endpoints_v1[HOST_ENDPOINT_KEY]. Until a policy state names the host
   * its modes are 0: the node's traffic is tracked, never enforced. Idempotent (re-attach =
   * in-place replace, entry rewritten only when it changes).
   */
  attachHost(opts: HostAttachOptions): void {
    const { attacher } = this.#started();
    if (!this.#hostObj) this.#hostObj = loadDatapathObject(this.config, "host").obj;
    const ifindex = attachHostPrograms(this.#hostObj, opts.device, this.#netns);
    if (this.#host && this.#host.ifindex !== ifindex) detachHostPrograms(this.#host.ifindex, this.#netns);
    if (this.#host && this.#host.epId !== opts.epId) attacher.unregisterHost(this.#host.epId);
    this.#host = { epId: opts.epId, ifindex, device: opts.device };
    attacher.registerHost(opts.epId, opts.ipv4);
    this.#log.info("host firewall attached", { device: opts.device, ifindex, ep: opts.epId });
  }

  /** Remove the host programs and the host endpoint's entry (its policy entries follow the state). */
  detachHost(): void {
    const { attacher } = this.#started();
    if (!this.#host) return;
    detachHostPrograms(this.#host.ifindex, this.#netns);
    attacher.unregisterHost(this.#host.epId);
    this.#host = undefined;
  }

  /** Where the host firewall is attached, if it is. */
  get host(): { readonly epId: number; readonly ifindex: number; readonly device: string } | undefined {
    return this.#host;
  }

  // --- desired state --------------------------------------------------------------------------

  /** Make cf_ipcache_v1 hold exactly `desired` (only differences are written). */
  syncIpcache(desired: Iterable<IpcacheEntry>): IpcacheSyncStats {
    return this.#started().ipcache.sync(normalizeIpcache(desired));
  }

  /**
   * Apply a compiled policy: a full `PolicyState` (resync: compared with what the map holds,
   * stale entries deleted) or a `PolicyDiff` from diffPolicyStates (only its endpoints, plus
   * any endpoint left failed closed by a full map, are revisited). `revision` defaults to the
   * last one + 1; it is written to every endpoint whose policy is fully realized.
   */
  applyPolicy(input: PolicyDiff | PolicyState, opts: { revision?: number } = {}): PolicyApplyReport {
    const { policy, attacher } = this.#started();
    let epIds: Set<number>;
    if (isPolicyDiff(input)) {
      // A diff is relative to a state this instance knows; after a (re)start the maps hold
      // what a previous run wrote, so the first apply must be a full state.
      if (!this.#haveFullState) throw new Error("applyPolicy: the first apply after start() must be a full PolicyState, not a diff");
      epIds = patchDesired(policy.desired, input);
    } else {
      const next = desiredFromState(input);
      // A full state is authoritative: an attached endpoint it does not name is not enforced.
      epIds = new Set([...policy.desired.keys(), ...policy.realized.keys(), ...next.keys(), ...attacher.attached.keys()]);
      policy.desired.clear();
      for (const [k, v] of next) policy.desired.set(k, v);
      this.#haveFullState = true;
    }
    for (const epId of policy.failedEndpoints()) epIds.add(epId);
    const plan = planPolicyWrites(policy.realized, policy.desired, epIds);
    const changes = plan.upserts.length > 0 || plan.deletes.length > 0 || plan.modes.some((m) => {
      const cur = policy.modes.get(m.epId);
      return !cur || cur.ingressMode !== m.ingressMode || cur.egressMode !== m.egressMode;
    });
    // Unchanged content keeps its revision, so a resync after a restart rewrites nothing.
    const revision = opts.revision ?? (changes || this.#lastRevision === 0 ? this.#lastRevision + 1 : this.#lastRevision);
    if (revision > this.#lastRevision) this.#lastRevision = revision;
    const stats = policy.apply(plan);
    // Every endpoint with a policy (and every attached one) has now realized this revision,
    // except directions that did not fit.
    for (const epId of new Set([...policy.desired.keys(), ...attacher.attached.keys()])) {
      if (policy.failed.has(epId)) continue;
      this.#revisions.set(epId, BigInt(revision));
      attacher.sync(epId);
    }
    return { ...stats, revision };
  }

  /** The policy revision cf_endpoints_v1 holds for an attached endpoint (read from the map). */
  realizedRevision(epId: number): number | undefined {
    const e = this.#started().attacher.read(epId);
    return e ? Number(e.policyRevision) : undefined;
  }

  /** cf_endpoints_v1 entry of an attached endpoint, as the kernel holds it. */
  endpointEntry(epId: number): CfEndpoint | undefined {
    return this.#started().attacher.read(epId);
  }

  /** Directions of an endpoint failed closed by a full policy map. */
  failedClosed(epId: number): Array<"ingress" | "egress"> {
    return this.#started().policy.failedDirections(epId);
  }

  // --- for the observer and metrics -----------------------------------------------------------

  /** cf_events_v1 (ring buffer): hand to native's openEventReader. Owned by the datapath. */
  get eventsMap(): BpfMap {
    return this.#started().obj.map(MAP_NAMES.events);
  }

  /** cf_metrics_v1 (per-CPU array, index metricsIndex(direction, code)). Owned by the datapath. */
  get metricsMap(): BpfMap {
    return this.#started().obj.map(MAP_NAMES.metrics);
  }

  /** A cf_metrics_v1 counter summed over CPUs. */
  metric(index: number): CfMetricsValue {
    this.#started();
    const slots = this.#metrics?.get(index) ?? [];
    return slots.reduce((a, s) => ({ packets: a.packets + s.packets, bytes: a.bytes + s.bytes }), { packets: 0n, bytes: 0n });
  }

  /** Release the object; programs stay attached and maps pinned, so traffic keeps flowing. */
  close(): void {
    this.#obj?.close();
    this.#obj = undefined;
    this.#hostObj?.close();
    this.#hostObj = undefined;
    this.#host = undefined;
    this.#attacher = undefined;
    this.#policy = undefined;
    this.#ipcache = undefined;
    this.#metrics = undefined;
  }
}
