/**
 * The agent's host firewall wiring (Cilium's host policies): which device carries the node's
 * address, the host endpoint the policy engine compiles CCNP nodeSelector rules for, and the
 * attach at start. Kept out of agent.ts so the agent only calls two functions.
 */
import { networkInterfaces } from "node:os";
import type { V1Node } from "@kubernetes/client-node";
import { z } from "zod";
import type { Datapath } from "../datapath/index.js";
import type { Logger } from "../k8s/log.js";
import { errorMessage } from "../k8s/log.js";
import { HOST_ENDPOINT_ID } from "../policy/index.js";
import type { HostEndpointInput } from "../policy/index.js";
import { nodeInternalIp } from "../sync/ipcache-build.js";

export const hostFirewallConfigSchema = z
  .strictObject({
    /** Enforce CCNP nodeSelector rules on this node (off: they select nothing here). */
    enabled: z.boolean().default(true),
    /** Underlay device; default: the one holding the node's InternalIP. */
    device: z.string().min(1).optional(),
  })
  .prefault({});
export type HostFirewallConfig = z.infer<typeof hostFirewallConfigSchema>;

/** The interface of this network namespace that holds `ip` (the agent runs in the node netns). */
export function deviceOfAddress(ip: string): string | undefined {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (addrs?.some((a) => a.address === ip)) return name;
  }
  return undefined;
}

/** The engine's view of this node's host endpoint: its labels are the Node's. */
export function hostEndpointInput(nodeName: string, node: V1Node | undefined): HostEndpointInput {
  return { epId: HOST_ENDPOINT_ID, nodeName, nodeLabels: { ...(node?.metadata?.labels ?? {}) } };
}

/**
 * Attach bpf/host.o to the node's device and register the host endpoint. Returns whether the
 * host firewall is on; a node whose device cannot be found runs without it (logged), since
 * pods must keep working either way.
 */
export function startHostFirewall(datapath: Datapath, cfg: HostFirewallConfig, node: V1Node | undefined, nodeIP: string | undefined, log: Logger): boolean {
  if (!cfg.enabled) return false;
  const ip = nodeIP ?? (node ? nodeInternalIp(node) : undefined);
  const device = cfg.device ?? (ip ? deviceOfAddress(ip) : undefined);
  if (!ip || !device) {
    log.warn("host firewall off: no node address or device found; nodeSelector policies select nothing on this node", { nodeIP: ip ?? "", device: device ?? "" });
    return false;
  }
  try {
    datapath.attachHost({ device, ipv4: ip, epId: HOST_ENDPOINT_ID });
    return true;
  } catch (err) {
    log.error("host firewall could not be attached; nodeSelector policies select nothing on this node", { device, error: errorMessage(err) });
    return false;
  }
}
