/**
 * EndpointManager: the CNI verbs on the node side.
 *
 * ADD  resolve the pod's identity → reserve an address (IPAM) and an endpoint id (record on disk,
 *      state not-ready) → veth pair, pod and node addressing → datapath attach → record ready →
 *      publish the CiliumEndpoint → CNI result. Any failure rolls back what was done.
 * DEL  the reverse; idempotent: DEL of an unknown attachment removes leftovers by name and
 *      succeeds.
 * CHECK verifies the record, the veth, the address and both routes.
 * restore() on agent start re-reads the records, drops those whose pod or veth is gone (and
 *      half-made ones from a crash), re-attaches and re-publishes the rest, and releases
 *      addresses no record owns.
 *
 * Operations on one attachment are serialised; different attachments proceed in parallel (IPAM
 * and id claims are atomic on disk, so they need no lock).
 */
import { existsSync } from "node:fs";
import type { Logger } from "../k8s/log.js";
import { errorMessage, silentLogger } from "../k8s/log.js";
import { IpamExhaustedError } from "../ipam/host-scope.js";
import type { HostScopeIpam } from "../ipam/host-scope.js";
import { canonicalKey } from "../identity/labels.js";
import { EndpointError } from "./errors.js";
import {
  attachmentProblems,
  configurePodSide,
  createHostSide,
  deleteLink,
  ensureRouterDevice,
  hostVethName,
  linkInfo,
  randomMac,
  writeSysctl,
} from "./link-ops.js";
import type { AddressingSpec } from "./link-ops.js";
import { EndpointIdsExhaustedError, EndpointRecordStore } from "./record-store.js";
import type { DatapathHook, Endpoint, EndpointPublisher, EndpointRecord, IdentityResolver, PodRef, ResolvedIdentity } from "./types.js";

export interface EndpointManagerOptions {
  /** This node's name (logs; the publisher knows the node address). */
  readonly nodeName: string;
  readonly ipam: HostScopeIpam;
  /** Directory of the endpoint records (`ep-<id>.json`). */
  readonly stateDir: string;
  readonly resolver: IdentityResolver;
  readonly datapath: DatapathHook;
  readonly publisher: EndpointPublisher;
  /** Device holding the router address (default `cf_host`, a veth whose peer is `cf_net`). */
  readonly routerDevice?: string;
  readonly mtu?: number;
  readonly log?: Logger;
}

export interface AddRequest {
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  readonly pod: PodRef;
}

export interface DelRequest {
  readonly containerId: string;
  readonly ifName: string;
  /** May be empty: the runtime already removed the netns. */
  readonly netns?: string;
}

/** The CNI 1.0 result of an ADD (agent/cni converts it for older spec versions). */
export interface AddResult {
  readonly cniVersion: "1.0.0";
  readonly interfaces: readonly { name: string; mac: string; sandbox?: string }[];
  readonly ips: readonly { address: string; gateway: string; interface: number }[];
  readonly routes: readonly { dst: string; gw?: string }[];
  readonly dns: Record<string, never>;
}

export interface RestoreReport {
  readonly restored: number[];
  readonly dropped: { id: number; reason: string }[];
  readonly releasedAddresses: string[];
}

const IFNAME_RE = /^[^\s/:]{1,15}$/;

export class EndpointManager {
  private readonly store: EndpointRecordStore;
  private readonly log: Logger;
  private readonly routerDevice: string;
  private readonly mtu: number;
  private readonly locks = new Map<string, Promise<unknown>>();
  /** attachment key (containerId/ifName) → endpoint id. */
  private readonly byAttachment = new Map<string, number>();
  private readonly records = new Map<number, EndpointRecord>();
  private initialised = false;

  constructor(private readonly opts: EndpointManagerOptions) {
    this.log = opts.log ?? silentLogger;
    this.routerDevice = opts.routerDevice ?? "cf_host";
    this.mtu = opts.mtu ?? 1500;
    this.store = new EndpointRecordStore(opts.stateDir, this.log);
  }

  /** The pods' gateway: first usable address of the pod CIDR, on the router device. */
  get routerIp(): string {
    return this.opts.ipam.routerIp;
  }

  /**
   * Node-wide set-up (router device, forwarding), then restore. Call once before serving CNI.
   */
  async start(): Promise<RestoreReport> {
    await ensureRouterDevice(this.routerDevice, this.routerIp, this.routerDevice === "cf_host" ? "cf_net" : `${this.routerDevice.slice(0, 14)}p`);
    writeSysctl("net/ipv4/ip_forward", "1");
    this.initialised = true;
    return this.restore();
  }

  endpoints(): Endpoint[] {
    return [...this.records.values()];
  }

  endpoint(id: number): Endpoint | undefined {
    return this.records.get(id);
  }

  findByAttachment(containerId: string, ifName: string): Endpoint | undefined {
    const id = this.byAttachment.get(attachmentKey(containerId, ifName));
    return id === undefined ? undefined : this.records.get(id);
  }

  findByPod(pod: { namespace: string; name: string }): Endpoint[] {
    return this.endpoints().filter((e) => e.pod.namespace === pod.namespace && e.pod.name === pod.name);
  }

  async add(req: AddRequest): Promise<AddResult> {
    this.assertStarted();
    if (!IFNAME_RE.test(req.ifName)) throw new EndpointError("invalid-argument", `interface name "${req.ifName}" is not a valid Linux interface name`);
    if (!req.netns || !existsSync(req.netns)) throw new EndpointError("invalid-argument", `network namespace "${req.netns}" does not exist`);
    return this.locked(attachmentKey(req.containerId, req.ifName), () => this.addLocked(req));
  }

  async del(req: DelRequest): Promise<void> {
    this.assertStarted();
    await this.locked(attachmentKey(req.containerId, req.ifName), () => this.delLocked(req));
  }

  async check(req: { containerId: string; ifName: string; netns: string }): Promise<void> {
    this.assertStarted();
    await this.locked(attachmentKey(req.containerId, req.ifName), async () => {
      const ep = this.findByAttachment(req.containerId, req.ifName);
      if (!ep) throw new EndpointError("not-found", `no endpoint for container ${req.containerId} interface ${req.ifName}`);
      if (ep.state !== "ready") throw new EndpointError("check-failed", `endpoint ${ep.id} is ${ep.state}`);
      const problems = await attachmentProblems(this.addressing(ep, req.netns || ep.netns));
      const lease = this.opts.ipam.leaseOf(ep.ipv4);
      if (lease?.owner !== ep.containerId) problems.push(`address ${ep.ipv4} is not reserved for container ${ep.containerId} in IPAM`);
      if (problems.length > 0) throw new EndpointError("check-failed", `endpoint ${ep.id} (${ep.pod.namespace}/${ep.pod.name}) is broken: ${problems[0]}`, problems.length > 1 ? problems.join("; ") : undefined);
    });
  }

  /**
   * Re-resolves the identity of a pod's endpoints (its labels or its namespace's labels changed);
   * on a new identity the record is updated, the datapath re-attached and the CEP re-published.
   */
  async refreshIdentity(pod: { namespace: string; name: string }): Promise<void> {
    for (const ep of this.findByPod(pod)) {
      await this.locked(attachmentKey(ep.containerId, ep.ifName), async () => {
        const current = this.records.get(ep.id);
        if (!current || current.state !== "ready") return;
        const resolved = await this.resolve(current.pod);
        if (resolved.id === current.identity.id && canonicalKey(resolved.labels) === canonicalKey(current.identity.labels)) {
          this.opts.resolver.release(resolved.id);
          return;
        }
        const updated = this.save({ ...current, ...identityFields(resolved) });
        this.opts.resolver.release(current.identity.id);
        this.log.info("endpoint identity changed", { ep: ep.id, pod: `${pod.namespace}/${pod.name}`, from: current.identity.id, to: resolved.id });
        await this.opts.datapath.attachEndpoint(updated);
        await this.publish(updated);
      });
    }
  }

  /** Records the policy revision the datapath realised (served by the agent API, not published in the CEP). */
  async setPolicyRevision(id: number, revision: number): Promise<void> {
    const ep = this.records.get(id);
    if (!ep) throw new EndpointError("not-found", `no endpoint ${id}`);
    await this.locked(attachmentKey(ep.containerId, ep.ifName), async () => {
      const current = this.records.get(id);
      if (current) this.save({ ...current, policyRevision: revision });
    });
  }

  // --- ADD / DEL ------------------------------------------------------------------------------

  private async addLocked(req: AddRequest): Promise<AddResult> {
    const existing = this.findByAttachment(req.containerId, req.ifName);
    if (existing) {
      // A repeated ADD (runtime retry after a crash): keep a healthy attachment, redo a broken one.
      const problems = existing.state === "ready" && existing.netns === req.netns ? await attachmentProblems(this.addressing(existing, req.netns)) : ["not ready"];
      if (problems.length === 0) return this.result(existing);
      this.log.warn("ADD for an existing but broken attachment; re-creating it", { ep: existing.id, problem: problems[0] });
      await this.teardown(existing, "re-ADD");
    }

    const resolved = await this.resolve(req.pod);
    const hostIfName = hostVethName(req.containerId, req.ifName);
    let lease;
    try {
      lease = this.opts.ipam.allocate(req.containerId, req.ifName);
    } catch (err) {
      this.opts.resolver.release(resolved.id);
      if (err instanceof IpamExhaustedError) throw new EndpointError("exhausted", err.message);
      throw err;
    }
    let record: EndpointRecord;
    try {
      record = this.store.create((id) => ({
        version: 1,
        id,
        containerId: req.containerId,
        ifName: req.ifName,
        netns: req.netns,
        hostIfName,
        hostIfIndex: 0,
        hostMac: randomMac(),
        podMac: randomMac(),
        ipv4: lease.ip,
        gateway: this.routerIp,
        pod: { ...req.pod, ...(resolved.podUid && !req.pod.uid ? { uid: resolved.podUid } : {}) },
        ...identityFields(resolved),
        state: "not-ready",
        policyRevision: 0,
        createdAt: new Date().toISOString(),
      }));
    } catch (err) {
      this.opts.ipam.release(req.containerId, req.ifName);
      this.opts.resolver.release(resolved.id);
      if (err instanceof EndpointIdsExhaustedError) throw new EndpointError("exhausted", err.message);
      throw err;
    }
    this.index(record);

    try {
      const spec = this.addressing(record, req.netns);
      const host = await createHostSide({ ...spec, mtu: this.mtu });
      await configurePodSide(spec);
      // Kept in memory only until the endpoint is ready: a crash before that leaves a not-ready
      // record, which restore removes by the recorded veth name.
      record = { ...record, hostIfIndex: host.ifindex };
      this.records.set(record.id, record);
      await this.opts.datapath.attachEndpoint(record);
      record = this.save({ ...record, state: "ready" });
    } catch (err) {
      this.log.error("ADD failed; rolling back", { container: req.containerId, pod: `${req.pod.namespace}/${req.pod.name}`, error: errorMessage(err) });
      await this.teardown(record, "failed ADD").catch((e: unknown) => this.log.error("rollback incomplete", { error: errorMessage(e) }));
      throw err;
    }
    this.log.info("endpoint added", { ep: record.id, pod: `${req.pod.namespace}/${req.pod.name}`, ip: record.ipv4, identity: record.identity.id, dev: hostIfName, ifindex: record.hostIfIndex });
    await this.publish(record);
    return this.result(record);
  }

  private async delLocked(req: DelRequest): Promise<void> {
    const ep = this.findByAttachment(req.containerId, req.ifName);
    if (ep) {
      await this.teardown(ep, "DEL");
      this.log.info("endpoint deleted", { ep: ep.id, pod: `${ep.pod.namespace}/${ep.pod.name}`, ip: ep.ipv4 });
      return;
    }
    // Unknown attachment: the spec wants success; still remove what a crashed ADD may have left.
    const leftover = await deleteLink(hostVethName(req.containerId, req.ifName));
    const released = this.opts.ipam.release(req.containerId, req.ifName);
    if (leftover || released.length > 0) this.log.warn("DEL removed leftovers of an unrecorded attachment", { container: req.containerId, veth: leftover, released: released.join(",") });
  }

  /**
   * Removes everything of an endpoint, tolerating parts that are already gone. The veth and the
   * record are removed even when the datapath or the API fail; a kernel failure is re-thrown
   * after the rest is done.
   */
  private async teardown(ep: EndpointRecord, why: string): Promise<void> {
    let kernelError: unknown;
    if (ep.hostIfIndex !== 0) {
      await this.opts.datapath.detachEndpoint(ep).catch((err: unknown) => this.log.error("datapath detach failed", { ep: ep.id, why, error: errorMessage(err) }));
    }
    if (ep.state === "ready") {
      await this.opts.publisher.unpublish(ep).catch((err: unknown) => this.log.warn("could not remove the CiliumEndpoint", { ep: ep.id, why, error: errorMessage(err) }));
    }
    try {
      await deleteLink(ep.hostIfName);
    } catch (err) {
      kernelError = err;
    }
    this.opts.ipam.release(ep.containerId, ep.ifName);
    this.opts.resolver.release(ep.identity.id);
    this.store.remove(ep.id);
    this.unindex(ep);
    if (kernelError !== undefined) throw kernelError;
  }

  // --- restore --------------------------------------------------------------------------------

  private async restore(): Promise<RestoreReport> {
    const restored: number[] = [];
    const dropped: { id: number; reason: string }[] = [];
    for (const rec of this.store.list()) {
      this.index(rec);
      const reason = await this.dropReason(rec);
      if (reason) {
        await this.teardown(rec, `restore: ${reason}`).catch((err: unknown) => this.log.error("could not remove a stale endpoint", { ep: rec.id, error: errorMessage(err) }));
        dropped.push({ id: rec.id, reason });
        this.log.info("dropped endpoint on restore", { ep: rec.id, pod: `${rec.pod.namespace}/${rec.pod.name}`, reason });
        continue;
      }
      let current = rec;
      const host = await linkInfo(rec.hostIfName);
      if (host && host.ifindex !== rec.hostIfIndex) current = this.save({ ...current, hostIfIndex: host.ifindex });
      current = await this.reacquireIdentity(current);
      await this.opts.datapath.attachEndpoint(current).catch((err: unknown) => this.log.error("datapath re-attach failed on restore", { ep: rec.id, error: errorMessage(err) }));
      await this.publish(current);
      restored.push(rec.id);
    }
    // Addresses no endpoint owns: reserved by an ADD that crashed before its record was written.
    const owners = new Set(this.endpoints().map((e) => attachmentKey(e.containerId, e.ifName)));
    const releasedAddresses: string[] = [];
    for (const lease of this.opts.ipam.leases()) {
      if (!owners.has(attachmentKey(lease.owner, lease.ifName))) {
        this.opts.ipam.releaseIp(lease.ip);
        releasedAddresses.push(lease.ip);
      }
    }
    if (releasedAddresses.length > 0) this.log.warn("released addresses no endpoint owns", { ips: releasedAddresses.join(",") });
    return { restored, dropped, releasedAddresses };
  }

  private async dropReason(rec: EndpointRecord): Promise<string | undefined> {
    if (rec.state !== "ready") return `left ${rec.state} by an interrupted ADD`;
    if (!(await linkInfo(rec.hostIfName))) return `veth ${rec.hostIfName} is gone`;
    if (!existsSync(rec.netns)) return `network namespace ${rec.netns} is gone`;
    const presence = await this.opts.resolver.podPresence(rec.pod).catch(() => "unknown" as const);
    if (presence === "gone") return `pod ${rec.pod.namespace}/${rec.pod.name} no longer exists`;
    return undefined;
  }

  /** After a restart the resolver holds no references: take them again (labels may have changed). */
  private async reacquireIdentity(rec: EndpointRecord): Promise<EndpointRecord> {
    try {
      const resolved = await this.opts.resolver.resolve(rec.pod);
      if (resolved.id === rec.identity.id) return rec;
      this.log.info("endpoint identity changed while the agent was down", { ep: rec.id, from: rec.identity.id, to: resolved.id });
      return this.save({ ...rec, ...identityFields(resolved) });
    } catch (err) {
      // Keep the recorded identity; the datapath goes on enforcing it until the API is back.
      this.log.warn("could not re-resolve the identity on restore; keeping the recorded one", { ep: rec.id, error: errorMessage(err) });
      return rec;
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  private async resolve(pod: PodRef): Promise<ResolvedIdentity> {
    try {
      return await this.opts.resolver.resolve(pod);
    } catch (err) {
      if (err instanceof EndpointError) throw err;
      throw new EndpointError("try-again", `cannot resolve the identity of pod ${pod.namespace}/${pod.name}: ${errorMessage(err)}`);
    }
  }

  private async publish(ep: EndpointRecord): Promise<void> {
    try {
      await this.opts.publisher.publish(ep);
    } catch (err) {
      // The pod works without its CEP; other nodes only miss its identity until the next
      // publication (identity change or restore), so this is not fatal.
      this.log.error("could not publish the CiliumEndpoint", { ep: ep.id, pod: `${ep.pod.namespace}/${ep.pod.name}`, error: errorMessage(err) });
    }
  }

  private result(ep: Endpoint): AddResult {
    return {
      cniVersion: "1.0.0",
      interfaces: [
        { name: ep.hostIfName, mac: ep.hostMac },
        { name: ep.ifName, mac: ep.podMac, sandbox: ep.netns },
      ],
      ips: [{ address: `${ep.ipv4}/32`, gateway: ep.gateway, interface: 1 }],
      routes: [{ dst: "0.0.0.0/0", gw: ep.gateway }],
      dns: {},
    };
  }

  private addressing(ep: Endpoint, netnsPath: string): AddressingSpec & { hostIfIndex: number } {
    return { hostIfName: ep.hostIfName, hostMac: ep.hostMac, podIfName: ep.ifName, podMac: ep.podMac, netnsPath, ip: ep.ipv4, gateway: ep.gateway, hostIfIndex: ep.hostIfIndex };
  }

  private save(rec: EndpointRecord): EndpointRecord {
    this.store.update(rec);
    this.records.set(rec.id, rec);
    return rec;
  }

  private index(rec: EndpointRecord): void {
    this.records.set(rec.id, rec);
    this.byAttachment.set(attachmentKey(rec.containerId, rec.ifName), rec.id);
  }

  private unindex(rec: EndpointRecord): void {
    this.records.delete(rec.id);
    const key = attachmentKey(rec.containerId, rec.ifName);
    if (this.byAttachment.get(key) === rec.id) this.byAttachment.delete(key);
  }

  private assertStarted(): void {
    if (!this.initialised) throw new EndpointError("try-again", "endpoint manager not started yet");
  }

  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

function attachmentKey(containerId: string, ifName: string): string {
  return `${containerId}/${ifName}`;
}

function identityFields(r: ResolvedIdentity): Pick<EndpointRecord, "identity" | "serviceAccount" | "namedPorts"> {
  return {
    identity: { id: r.id, labels: { ...r.labels } },
    ...(r.serviceAccount !== undefined ? { serviceAccount: r.serviceAccount } : {}),
    namedPorts: [...(r.namedPorts ?? [])],
  };
}
