/**
 * Which addresses carry the kube-apiserver identity (7). Cilium keys it on the backends of the
 * `default/kubernetes` Service; a kubeconfig's server address is only a fallback, because an agent
 * running as a pod is given the Service's ClusterIP, which the policy lookup never sees (policy runs
 * after service translation, policy-semantics.md §4.2).
 */
import type { KubeConfig, V1EndpointSlice } from "@kubernetes/client-node";

const IPV4_RE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** The kubeconfig server's host when it is an IPv4 address other pods could reach (not loopback). */
export function kubeconfigServerIp(kc: KubeConfig): string | undefined {
  const server = kc.getCurrentCluster()?.server;
  if (!server) return undefined;
  const host = new URL(server).hostname;
  return IPV4_RE.test(host) && !host.startsWith("127.") ? host : undefined;
}

/** IPv4 addresses of the ready endpoints of the given EndpointSlices, sorted and unique. */
export function endpointSliceAddresses(slices: readonly V1EndpointSlice[]): string[] {
  const out = new Set<string>();
  for (const s of slices) {
    if (s.addressType !== "IPv4") continue;
    for (const ep of s.endpoints ?? []) {
      // Absent `ready` means ready (discovery.k8s.io/v1).
      if (ep.conditions?.ready === false) continue;
      for (const a of ep.addresses ?? []) if (IPV4_RE.test(a)) out.add(a);
    }
  }
  return [...out].sort();
}

/**
 * Configured addresses win; otherwise the Service's endpoints; while those are unknown (no
 * EndpointSlice yet, or an API without them), the kubeconfig server address.
 */
export function apiServerAddresses(input: { configured?: readonly string[] | undefined; slices: readonly V1EndpointSlice[]; kubeconfigIp?: string | undefined }): string[] {
  if (input.configured) return [...input.configured];
  const fromSlices = endpointSliceAddresses(input.slices);
  if (fromSlices.length > 0) return fromSlices;
  return input.kubeconfigIp ? [input.kubeconfigIp] : [];
}
