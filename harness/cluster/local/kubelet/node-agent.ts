// Node registration and liveness: creates the Node (or adopts the existing one), renews its Lease
// in kube-node-lease and reports node status with the Ready heartbeat. Without these the
// controller-manager's node-lifecycle controller taints the node and evicts its pods.
import type { CoordinationV1Api, CoreV1Api, V1NodeCondition } from "@kubernetes/client-node";
import { loadNetworkConfig } from "./cni/config.js";
import type { NetworkConfigStatus } from "./cni/config.js";
import type { KubeletConfig } from "./config.js";
import type { EventRecorder } from "./events.js";
import { apiMessage, apiStatus, mergePatch, microTime, strategicMerge } from "./kube.js";
import type { Logger } from "./log.js";
import { nodeLabels, nodeObject, nodeStatus, statusFingerprint } from "./node-status.js";
import type { NodeFacts } from "./node-status.js";

const LEASE_NAMESPACE = "kube-node-lease";
/** How often the CNI config dir is looked at, so Ready flips soon after a conflist appears. */
const NETWORK_POLL_MS = 1000;

export class NodeAgent {
  private nodeUid = "";
  private podCIDRs: string[] = [];
  private reportedConditions: V1NodeCondition[] | undefined;
  private reportedFingerprint = "";
  private reportedAt = 0;
  private network: NetworkConfigStatus;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly networkListeners: (() => void)[] = [];
  private reporting: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly cfg: KubeletConfig,
    private readonly core: CoreV1Api,
    private readonly coord: CoordinationV1Api,
    private readonly events: EventRecorder,
    private readonly log: Logger,
    private readonly facts: NodeFacts,
  ) {
    this.network = loadNetworkConfig(cfg.cniConfDir);
  }

  /** The CNI config in force, as of the last poll. */
  networkStatus(): NetworkConfigStatus {
    return this.network;
  }

  /** Called when the network becomes ready or its config file changes (pods waiting on it retry). */
  onNetworkChange(cb: () => void): void {
    this.networkListeners.push(cb);
  }

  get podCIDR(): string | undefined {
    return this.podCIDRs[0];
  }

  /** Registers the Node, retrying until the API server accepts it. */
  async register(): Promise<void> {
    let delay = 500;
    for (;;) {
      try {
        await this.registerOnce();
        return;
      } catch (err) {
        if (this.stopped) throw err;
        this.log.warn("node registration failed, retrying", { error: apiMessage(err), retryInMs: delay });
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  private async registerOnce(): Promise<void> {
    const body = nodeObject(this.facts);
    try {
      const created = await this.core.createNode({ body });
      this.nodeUid = created.metadata?.uid ?? "";
      this.log.info("registered node", { node: this.cfg.nodeName, uid: this.nodeUid });
    } catch (err) {
      if (apiStatus(err) !== 409) throw err;
      const existing = await this.core.readNode({ name: this.cfg.nodeName });
      this.nodeUid = existing.metadata?.uid ?? "";
      this.podCIDRs = existing.spec?.podCIDRs ?? (existing.spec?.podCIDR ? [existing.spec.podCIDR] : []);
      this.reportedConditions = existing.status?.conditions;
      const want = nodeLabels(this.facts);
      const have = existing.metadata?.labels ?? {};
      const drift = Object.fromEntries(Object.entries(want).filter(([k, v]) => have[k] !== v));
      if (Object.keys(drift).length > 0) await this.core.patchNode({ name: this.cfg.nodeName, body: { metadata: { labels: drift } } }, mergePatch);
      this.log.info("node already registered; adopted it", { node: this.cfg.nodeName, uid: this.nodeUid });
    }
    this.events.emit({ kind: "Node", name: this.cfg.nodeName, uid: this.cfg.nodeName }, "Normal", "Starting", "Starting kubelet.");
    // Not through reportStatus(): this also runs from inside a report (the 404 path below).
    await this.doReport(true);
    await this.renewLease();
  }

  start(): void {
    this.timers.push(setInterval(() => this.pollNetwork(), NETWORK_POLL_MS));
    this.timers.push(
      setInterval(() => {
        void this.renewLease().catch((err: unknown) => this.log.warn("lease renewal failed", { error: apiMessage(err) }));
        void this.reportStatus(false).catch((err: unknown) => this.log.warn("node status report failed", { error: apiMessage(err) }));
      }, this.cfg.nodeStatusUpdateSeconds * 1000),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
  }

  private pollNetwork(): void {
    const next = loadNetworkConfig(this.cfg.cniConfDir);
    const before = this.network;
    this.network = next;
    const key = (s: NetworkConfigStatus) => (s.ok ? `ok:${s.config.file}:${JSON.stringify(s.config.plugins)}` : `not:${s.message}`);
    if (key(before) === key(next)) return;
    this.log.info(next.ok ? "network config in force" : "network not ready", next.ok ? { file: next.config.file, network: next.config.name } : { reason: next.message });
    if (before.ok !== next.ok) {
      this.events.emit({ kind: "Node", name: this.cfg.nodeName, uid: this.cfg.nodeName }, "Normal", next.ok ? "NodeReady" : "NodeNotReady", `Node ${this.cfg.nodeName} status is now: ${next.ok ? "NodeReady" : "NodeNotReady"}`);
      void this.reportStatus(true).catch((err: unknown) => this.log.warn("node status report failed", { error: apiMessage(err) }));
    }
    for (const cb of this.networkListeners) cb();
  }

  /** Sends the node status if it changed, or if the last report is older than the report period. */
  async reportStatus(force: boolean): Promise<void> {
    // One report at a time: overlapping patches would race on transition times.
    while (this.reporting) await this.reporting;
    this.reporting = this.doReport(force).finally(() => (this.reporting = undefined));
    return this.reporting;
  }

  private async doReport(force: boolean): Promise<void> {
    const net = this.network;
    const status = nodeStatus(this.facts, net.ok ? { ready: true } : { ready: false, reason: net.reason, message: net.message }, this.reportedConditions, new Date());
    const fp = statusFingerprint(status);
    const due = Date.now() - this.reportedAt >= this.cfg.nodeStatusReportSeconds * 1000;
    if (!force && !due && fp === this.reportedFingerprint) return;
    try {
      const node = await this.core.patchNodeStatus({ name: this.cfg.nodeName, body: { status } }, strategicMerge);
      this.podCIDRs = node.spec?.podCIDRs ?? (node.spec?.podCIDR ? [node.spec.podCIDR] : this.podCIDRs);
    } catch (err) {
      if (apiStatus(err) === 404 && !this.stopped) {
        // Someone deleted our Node: register again, as a restarted kubelet would.
        this.log.warn("node object disappeared; registering again");
        this.reportedConditions = undefined;
        await this.registerOnce();
        return;
      }
      throw err;
    }
    this.reportedConditions = status.conditions as unknown as V1NodeCondition[];
    this.reportedFingerprint = fp;
    this.reportedAt = Date.now();
  }

  async renewLease(): Promise<void> {
    const spec = { holderIdentity: this.cfg.nodeName, leaseDurationSeconds: this.cfg.leaseDurationSeconds, renewTime: microTime(new Date()) };
    try {
      await this.coord.patchNamespacedLease({ name: this.cfg.nodeName, namespace: LEASE_NAMESPACE, body: { spec } }, mergePatch);
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
      await this.coord.createNamespacedLease({
        namespace: LEASE_NAMESPACE,
        body: {
          metadata: {
            name: this.cfg.nodeName,
            namespace: LEASE_NAMESPACE,
            // Owned by the Node, so deleting the Node garbage-collects its Lease.
            ...(this.nodeUid ? { ownerReferences: [{ apiVersion: "v1", kind: "Node", name: this.cfg.nodeName, uid: this.nodeUid }] } : {}),
          },
          spec: spec as unknown as { holderIdentity: string },
        },
      });
    }
  }
}
