// A pod's sandbox: its network namespace and CNI attachment. The record in the pod dir is written
// before anything is created, so a kubelet that crashed at any point can find and undo it; it
// keeps the network config and ADD result, as libcni's cache does, because DEL must be given
// the same config and the ADD result even if the config dir changed meanwhile.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { cniArgs } from "./cni/config.js";
import type { NetworkConfigList } from "./cni/config.js";
import type { CniInvoker, CniRuntimeParams } from "./cni/invoker.js";
import { parseCniResult, podIPsFromResult } from "./cni/result.js";
import { errorMessage } from "./log.js";
import type { Logger } from "./log.js";
import { netnsNames } from "../names.js";
import { netnsPath } from "./netns.js";
import type { NetnsOps } from "./netns.js";
import { podPaths } from "./paths.js";
import type { PodKey } from "./paths.js";

export interface SandboxRecord {
  readonly version: 1;
  readonly pod: PodKey;
  readonly netns: string;
  /** CNI_CONTAINERID (the pod UID). */
  readonly containerId: string;
  readonly ifName: string;
  network?: { readonly config: NetworkConfigList; readonly result: Record<string, unknown> } | undefined;
  tornDown?: boolean;
}

export interface SandboxUp {
  readonly podIPs: string[];
  /** True when an existing attachment (from a previous kubelet run) passed CHECK and was kept. */
  readonly adopted: boolean;
}

export const POD_IFNAME = "eth0";

export class SandboxManager {
  constructor(
    private readonly cluster: string,
    private readonly stateDir: string,
    private readonly netns: NetnsOps,
    private readonly cni: CniInvoker,
    private readonly log: Logger,
  ) {}

  netnsName(pod: PodKey): string {
    return netnsNames.pod(this.cluster, pod.uid);
  }

  read(podDir: string): SandboxRecord | undefined {
    try {
      return JSON.parse(readFileSync(podPaths.sandboxRecord(podDir), "utf8")) as SandboxRecord;
    } catch {
      return undefined;
    }
  }

  private write(podDir: string, rec: SandboxRecord): void {
    const file = podPaths.sandboxRecord(podDir);
    writeFileSync(`${file}.tmp`, JSON.stringify(rec, null, 2));
    renameSync(`${file}.tmp`, file);
  }

  private runtime(rec: SandboxRecord): CniRuntimeParams {
    return { containerId: rec.containerId, netnsPath: netnsPath(rec.netns), ifName: rec.ifName, args: cniArgs(rec.pod, rec.containerId) };
  }

  /** Creates (or adopts) the netns and attaches it with `network`; returns the pod IPs. */
  async setUp(pod: PodKey, network: NetworkConfigList): Promise<SandboxUp> {
    const podDir = podPaths.dir(this.stateDir, pod);
    mkdirSync(podDir, { recursive: true });
    const name = this.netnsName(pod);
    const previous = this.read(podDir);
    const rec: SandboxRecord = { version: 1, pod, netns: name, containerId: pod.uid, ifName: POD_IFNAME, network: previous?.tornDown ? undefined : previous?.network };
    this.write(podDir, rec);
    const wasLive = await this.netns.isLive(name);
    await this.netns.ensure(name);
    const rt = this.runtime(rec);

    if (rec.network) {
      const cached = parseCniResult(JSON.stringify(rec.network.result));
      if (wasLive) {
        try {
          await this.cni.check(rec.network.config, rt, cached);
          const ips = podIPsFromResult(cached);
          if (ips.length > 0) return { podIPs: ips, adopted: true };
        } catch (err) {
          this.log.warn("CNI CHECK failed on an existing sandbox; re-attaching", { pod: `${pod.namespace}/${pod.name}`, error: errorMessage(err) });
        }
      }
      // Release what the old attachment holds (IPAM lease, host veth) before attaching again.
      await this.cni.del(rec.network.config, rt, cached).catch((err: unknown) => this.log.warn("CNI DEL of a stale attachment failed", { error: errorMessage(err) }));
      rec.network = undefined;
      this.write(podDir, rec);
    }

    let result;
    try {
      result = await this.cni.add(network, rt);
    } catch (err) {
      // The spec asks runtimes to DEL after a failed ADD so plugins can release partial state.
      await this.cni.del(network, rt).catch(() => undefined);
      throw err;
    }
    rec.network = { config: network, result: result.raw };
    this.write(podDir, rec);
    const ips = podIPsFromResult(result);
    if (ips.length === 0) throw new Error(`CNI network "${network.name}" (${network.file}) returned no IP address for the pod: ${JSON.stringify(result.raw)}`);
    return { podIPs: ips, adopted: false };
  }

  /** CNI DEL, then the netns; idempotent, and a no-op for pods without a sandbox record. */
  async tearDown(pod: PodKey): Promise<void> {
    const podDir = podPaths.dir(this.stateDir, pod);
    const rec = this.read(podDir);
    if (!rec || rec.tornDown) return;
    const rt = this.runtime(rec);
    let delError: unknown;
    if (rec.network) {
      const cached = parseCniResult(JSON.stringify(rec.network.result));
      try {
        await this.cni.del(rec.network.config, rt, cached);
      } catch (err) {
        delError = err;
      }
    }
    await this.netns.remove(rec.netns);
    if (rec.network && delError !== undefined) {
      // With the netns gone, a second DEL (empty CNI_NETNS) lets IPAM release the address.
      try {
        await this.cni.del(rec.network.config, rt, parseCniResult(JSON.stringify(rec.network.result)));
      } catch (err) {
        this.log.warn("CNI DEL failed; the pod's IP may stay allocated", { pod: `${pod.namespace}/${pod.name}`, error: errorMessage(err), first: errorMessage(delError) });
      }
    }
    rec.tornDown = true;
    rec.network = undefined;
    this.write(podDir, rec);
  }
}
