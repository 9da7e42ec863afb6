// A cell's destination → the probe the source pod runs. Pure: the addresses come from the
// cluster (pod IPs, ClusterIPs, node addresses) through a lookup the scenario runner fills.
//
// Port 53 (tcp or udp, not http) means "talk DNS": the probe sends a real query and expects an
// answer, since a DNS server ignores the echo payload a plain UDP probe would send.
import { isIP } from "node:net";
import type { WorldInfo } from "../cluster/provider.js";
import type { ProbeInput } from "../probe/schema.js";
import type { Cell } from "../spec/cells.js";

export const DNS_PORT = 53;
/** What a DNS probe asks an in-cluster DNS server (every cluster DNS answers it). */
export const CLUSTER_DNS_PROBE_NAME = "kubernetes.default.svc.cluster.local";

export interface AddressBook {
  podIP(namespace: string, name: string): string | undefined;
  serviceIP(namespace: string, name: string): string | undefined;
  /** Address of the node the pod runs on (for `host:` targets). */
  nodeAddressOfPod(namespace: string, name: string): string | undefined;
  nodeAddress(index: number): string | undefined;
  /** The kube-apiserver as pods reach it (`apiserver:` targets). */
  apiServerAddress?(): string | undefined;
  /** Node `index`'s health endpoint (`health:` targets). */
  healthAddress?(index: number): string | undefined;
  world?: WorldInfo;
}

export type ProbePlan = { ok: true; probe: ProbeInput } | { ok: false; error: string };

/** The address a cell's destination resolves to (an IP, or a world host name). */
export function destinationHost(cell: Cell, book: AddressBook): { ok: true; host: string } | { ok: false; error: string } {
  const t = cell.target;
  switch (t.kind) {
    case "pod": {
      const ip = book.podIP(t.namespace, t.name);
      return ip ? { ok: true, host: ip } : { ok: false, error: `pod ${t.namespace}/${t.name} has no IP` };
    }
    case "service": {
      const ip = book.serviceIP(t.namespace, t.name);
      if (!ip) return { ok: false, error: `service ${t.namespace}/${t.name} has no ClusterIP` };
      if (ip === "None") return { ok: false, error: `service ${t.namespace}/${t.name} is headless (clusterIP: None); probe its pods instead` };
      return { ok: true, host: ip };
    }
    case "world":
      return { ok: true, host: t.host };
    case "cidr":
      return { ok: true, host: t.address };
    case "host": {
      const ip = book.nodeAddressOfPod(cell.source.namespace, cell.source.name);
      return ip ? { ok: true, host: ip } : { ok: false, error: `the node of ${cell.from} has no address` };
    }
    case "node": {
      const ip = book.nodeAddress(t.index);
      return ip ? { ok: true, host: ip } : { ok: false, error: `node ${t.index} does not exist in this cluster` };
    }
    case "apiserver": {
      const ip = book.apiServerAddress?.();
      return ip ? { ok: true, host: ip } : { ok: false, error: "the kube-apiserver has no address pods can reach (no IPv4 endpoint in the default/kubernetes EndpointSlice, and the kubeconfig server is not an IP)" };
    }
    case "health": {
      if (!book.nodeAddress(t.index)) return { ok: false, error: `node ${t.index} does not exist in this cluster` };
      const ip = book.healthAddress?.(t.index);
      return ip ? { ok: true, host: ip } : { ok: false, error: `node ${t.index} has no health endpoint (no CiliumEndpoint kube-system/cilium-health-<node>: is the conform agent running with health enabled?)` };
    }
  }
}

export function planProbe(cell: Cell, id: string, timeoutMs: number, book: AddressBook): ProbePlan {
  const dest = destinationHost(cell, book);
  if (!dest.ok) return dest;
  const { host } = dest;
  const t = cell.target;
  const byName = isIP(host) === 0;
  if (byName && !book.world) return { ok: false, error: `${cell.to}: world host names need the world DNS server, and this cluster has no world hosts` };
  const resolver = byName && book.world ? { dnsServer: book.world.dnsServer } : {};

  if (t.port === DNS_PORT && t.protocol !== "http") {
    if (byName) return { ok: false, error: `${cell.to}: a DNS server target needs an IP address, not a name` };
    const worldTarget = t.kind === "world" || t.kind === "cidr";
    if (worldTarget && !book.world) return { ok: false, error: `${cell.to}: no world DNS name to ask (this cluster has no world hosts)` };
    return {
      ok: true,
      probe: {
        kind: "dns",
        id,
        timeoutMs,
        name: worldTarget ? book.world!.dnsProbeName : CLUSTER_DNS_PROBE_NAME,
        type: "A",
        server: `${host}:${DNS_PORT}`,
        transport: t.protocol === "tcp" ? "tcp" : "udp",
      },
    };
  }
  switch (t.protocol) {
    case "tcp":
      return { ok: true, probe: { kind: "tcp", id, timeoutMs, host, port: t.port, ...resolver } };
    case "udp":
      return { ok: true, probe: { kind: "udp", id, timeoutMs, host, port: t.port, ...resolver } };
    case "http":
      return {
        ok: true,
        probe: { kind: "http", id, timeoutMs, host, port: t.port, method: t.http?.method ?? "GET", path: t.http?.path ?? "/", ...resolver },
      };
  }
}
