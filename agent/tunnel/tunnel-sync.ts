/**
 * Keeps this node's VXLAN overlay equal to what the Node objects say: one reconcile reads the
 * kernel, plans (plan.ts) and applies only the difference. It is level-based — every run starts
 * from the kernel's actual state — so nodes joining, leaving or changing address/CIDR, a
 * restarted agent and a hand-edited table all converge the same way.
 */
import type { V1Node } from "@kubernetes/client-node";
import type { Logger } from "../k8s/log.js";
import { isEmptyChange, planPeers, planTunnelChanges, VXLAN_DEVICE, VXLAN_OVERHEAD, vtepMac } from "./plan.js";
import type { TunnelPeer } from "./plan.js";
import { applyTunnelChanges, ensureVxlanDevice, readTunnelState, underlayDevice } from "./vxlan-device.js";

export interface TunnelSyncOptions {
  readonly nodeName: string;
  /** The cluster's Node objects (the agent's node cache). */
  readonly nodes: () => readonly V1Node[];
  /** This node's underlay address; default: its Node's InternalIP. */
  readonly nodeIP?: string;
  /** This node's router address (source of node-originated traffic into the overlay). */
  readonly routerIP: string;
  readonly device?: string;
  readonly log: Logger;
  /** Tests: act on this netns instead of the caller's. */
  readonly netnsPath?: string;
}

export interface TunnelReconcile {
  readonly peers: readonly TunnelPeer[];
  /** Commands run; 0 when the kernel already matched. */
  readonly commands: number;
}

export class TunnelSync {
  readonly device: string;
  #lastSkipped = "";

  constructor(private readonly opts: TunnelSyncOptions) {
    this.device = opts.device ?? VXLAN_DEVICE;
  }

  private localIP(nodes: readonly V1Node[]): string | undefined {
    if (this.opts.nodeIP) return this.opts.nodeIP;
    const self = nodes.find((n) => n.metadata?.name === this.opts.nodeName);
    return self?.status?.addresses?.find((a) => a.type === "InternalIP" && !a.address.includes(":"))?.address;
  }

  async reconcile(): Promise<TunnelReconcile> {
    const { log, netnsPath } = this.opts;
    const nodes = this.opts.nodes();
    const localIP = this.localIP(nodes);
    if (!localIP) throw new Error(`no underlay address for node ${this.opts.nodeName}: set nodeIP or give the Node an InternalIP`);
    const underlay = await underlayDevice(localIP, netnsPath);
    if (!underlay) throw new Error(`no device in this network namespace holds the node address ${localIP}; the VXLAN tunnel needs it as its local end`);
    const made = await ensureVxlanDevice({ name: this.device, localIP, underlay: underlay.name, mac: vtepMac(localIP), mtu: underlay.mtu - VXLAN_OVERHEAD }, netnsPath);
    if (made !== "kept") log.info("VXLAN device ready", { device: this.device, underlay: underlay.name, local: localIP, result: made });

    const { peers, skipped } = planPeers(this.opts.nodeName, nodes);
    const skippedText = skipped.map((s) => `${s.node}: ${s.reason}`).join("; ");
    if (skippedText && skippedText !== this.#lastSkipped) log.warn("nodes left out of the tunnel", { nodes: skippedText });
    this.#lastSkipped = skippedText;

    const changes = planTunnelChanges(peers, await readTunnelState(this.device, netnsPath), { device: this.device, src: this.opts.routerIP });
    if (isEmptyChange(changes)) return { peers, commands: 0 };
    await applyTunnelChanges(changes, netnsPath);
    const commands = changes.ipRemove.length + changes.bridge.length + changes.ipAdd.length;
    log.info("tunnel peers reconciled", { peers: peers.map((p) => `${p.node}=${p.podCIDR}@${p.underlayIP}`).join(","), commands });
    return { peers, commands };
  }
}
