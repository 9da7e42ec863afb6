/**
 * The control side of a node agent, assembled: Kubernetes caches, the identity allocator (+ GC),
 * host-scope IPAM, the EndpointManager and the CNI server; optionally the plugin shim and the
 * conflist, written last so the node turns Ready only when pods can be attached.
 *
 * Without a kubeconfig it runs API-free: every pod gets the identity of the static resolver and
 * nothing is published (the CNI integration test uses this; so can a bare node).
 */
import { CoreV1Api, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import type { KubeConfig, V1Namespace, V1Node, V1Pod } from "@kubernetes/client-node";
import { dirname, join } from "node:path";
import { z } from "zod";
import { loadKubeConfig } from "../../harness/kube/client.js";
import { ciliumEndpointCache, ciliumIdentityCache, namespaceCache, podCache } from "../k8s/caches.js";
import type { CiliumEndpoint, CiliumIdentity } from "../k8s/cilium-types.js";
import type { Logger } from "../k8s/log.js";
import { createLogger, errorMessage } from "../k8s/log.js";
import type { ResourceCache } from "../k8s/resource-cache.js";
import { IdentityAllocator } from "../identity/allocator.js";
import { startIdentityGc } from "../identity/allocator-gc.js";
import { KubeIdentityStore, connectIdentityCache } from "../identity/allocator-kube.js";
import { HostScopeIpam } from "../ipam/host-scope.js";
import { CiliumEndpointPublisher } from "../endpoint/cep-publisher.js";
import { KubeIdentityResolver } from "../endpoint/kube-resolver.js";
import { EndpointManager } from "../endpoint/manager.js";
import type { RestoreReport } from "../endpoint/manager.js";
import { StaticIdentityResolver } from "../endpoint/static-resolver.js";
import { NoopDatapath, NoopPublisher } from "../endpoint/types.js";
import type { DatapathHook, EndpointPublisher, IdentityResolver } from "../endpoint/types.js";
import { withReservedEndpoints } from "../health/health-endpoint.js";
import type { ReservedEndpoint } from "../health/health-endpoint.js";
import { installCniPlugin, writeConflist } from "./install.js";
import { CniServer, replayDeleteQueue } from "./server.js";

export interface CniAgentOptions {
  readonly nodeName: string;
  /** Agent state: `<stateDir>/ipam`, `<stateDir>/endpoints`. */
  readonly stateDir: string;
  readonly socketPath: string;
  /** Default `<socket dir>/delete-queue`. */
  readonly deleteQueueDir?: string;
  /** Without it the agent reads Node.spec.podCIDR (waiting until the controller-manager sets it). */
  readonly podCIDR?: string;
  /** Without it: no API (static identity, nothing published). */
  readonly kubeconfig?: string | KubeConfig;
  /** Address other nodes reach this node on (CEP networking.node); default the Node's InternalIP. */
  readonly nodeIP?: string;
  readonly clusterName?: string;
  readonly datapath?: DatapathHook;
  readonly routerDevice?: string;
  readonly mtu?: number;
  /** Install the plugin shim here (a CNI_PATH directory of the kubelet). */
  readonly cniBinDir?: string;
  /** Write the conflist here (the kubelet's CNI config directory) once serving. */
  readonly cniConfDir?: string;
  /** Identity GC; off unless given. Safe on every node (see allocator-gc.ts). */
  readonly identityGc?: { readonly graceMs: number; readonly intervalMs: number };
  /** Endpoints without a Pod and with a fixed reserved identity (the health endpoint). */
  readonly reservedEndpoints?: readonly ReservedEndpoint[];
  readonly log?: Logger;
}

/** The plain-data part of CniAgentOptions, as read from a config file (cni-agent-main.ts). */
export const cniAgentConfigSchema = z.strictObject({
  nodeName: z.string().min(1),
  stateDir: z.string().startsWith("/"),
  socketPath: z.string().startsWith("/"),
  deleteQueueDir: z.string().startsWith("/").optional(),
  podCIDR: z.string().optional(),
  kubeconfig: z.string().startsWith("/").optional(),
  nodeIP: z.string().optional(),
  clusterName: z.string().optional(),
  routerDevice: z.string().max(15).optional(),
  mtu: z.number().int().min(576).max(9000).optional(),
  cniBinDir: z.string().startsWith("/").optional(),
  cniConfDir: z.string().startsWith("/").optional(),
  identityGc: z.strictObject({ graceMs: z.number().int().nonnegative(), intervalMs: z.number().int().positive() }).optional(),
});
export type CniAgentConfig = z.infer<typeof cniAgentConfigSchema>;

export interface CniAgent {
  readonly manager: EndpointManager;
  readonly ipam: HostScopeIpam;
  readonly allocator?: IdentityAllocator;
  readonly restore: RestoreReport;
  readonly server: CniServer;
  readonly caches: {
    readonly pods?: ResourceCache<V1Pod>;
    readonly namespaces?: ResourceCache<V1Namespace>;
    readonly identities?: ResourceCache<CiliumIdentity>;
    readonly endpoints?: ResourceCache<CiliumEndpoint>;
  };
  /** Stops serving and watching; endpoints stay (pods keep running across agent restarts). */
  stop(): Promise<void>;
}

/**
 * Node annotations the agent publishes (Cilium's names, so existing tooling reads them): the
 * router address is a node address too — the ipcache must map it to `host` on this node and to
 * `remote-node` on the others.
 */
export const NODE_ANNOTATIONS = {
  routerIp: "network.cilium.io/ipv4-cilium-host",
  podCidr: "network.cilium.io/ipv4-pod-cidr",
} as const;

async function annotateNode(kc: KubeConfig, nodeName: string, annotations: Record<string, string>): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  await objects.patch({ apiVersion: "v1", kind: "Node", metadata: { name: nodeName, annotations } }, undefined, undefined, "conform-agent", undefined, PatchStrategy.MergePatch);
}

async function nodeFacts(kc: KubeConfig, nodeName: string, log: Logger, signal?: AbortSignal): Promise<{ podCIDR: string; nodeIP?: string }> {
  const core = kc.makeApiClient(CoreV1Api);
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw new Error("aborted while waiting for the Node");
    let node: V1Node | undefined;
    try {
      node = await core.readNode({ name: nodeName });
    } catch (err) {
      if (attempt % 20 === 0) log.warn("waiting for the Node object", { node: nodeName, error: errorMessage(err) });
    }
    const podCIDR = node?.spec?.podCIDR;
    if (podCIDR) {
      const nodeIP = node?.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
      return { podCIDR, ...(nodeIP ? { nodeIP } : {}) };
    }
    if (node && attempt % 20 === 0) log.info("waiting for the Node's spec.podCIDR", { node: nodeName });
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function startCniAgent(opts: CniAgentOptions): Promise<CniAgent> {
  const log = opts.log ?? createLogger(`agent ${opts.nodeName}`);
  const kc = typeof opts.kubeconfig === "string" ? loadKubeConfig(opts.kubeconfig) : opts.kubeconfig;
  const stops: (() => Promise<void> | void)[] = [];

  let podCIDR = opts.podCIDR;
  let nodeIP = opts.nodeIP;
  if (kc && (!podCIDR || !nodeIP)) {
    const facts = await nodeFacts(kc, opts.nodeName, log);
    podCIDR ??= facts.podCIDR;
    nodeIP ??= facts.nodeIP;
  }
  if (!podCIDR) throw new Error(`no pod CIDR for node ${opts.nodeName}: pass podCIDR or a kubeconfig`);
  const ipam = new HostScopeIpam({ cidr: podCIDR, dataDir: join(opts.stateDir, "ipam") });

  let allocator: IdentityAllocator | undefined;
  let resolver: IdentityResolver;
  let publisher: EndpointPublisher;
  const caches: { -readonly [K in keyof CniAgent["caches"]]: CniAgent["caches"][K] } = {};
  if (kc) {
    const identities = ciliumIdentityCache(kc, { log }).start();
    const store = new KubeIdentityStore(kc);
    allocator = new IdentityAllocator(store, { log, ready: identities.synced });
    connectIdentityCache(allocator, identities);
    const pods = podCache(kc, { nodeName: opts.nodeName, log }).start();
    const namespaces = namespaceCache(kc, { log }).start();
    Object.assign(caches, { identities, pods, namespaces });
    stops.push(() => identities.stop(), () => pods.stop(), () => namespaces.stop());
    resolver = new KubeIdentityResolver({ kc, allocator, ...(opts.clusterName ? { clusterName: opts.clusterName } : {}) });
    publisher = new CiliumEndpointPublisher(kc, nodeIP ?? "");
    if (opts.identityGc) {
      const endpoints = ciliumEndpointCache(kc, { log }).start();
      caches.endpoints = endpoints;
      stops.push(() => endpoints.stop());
      const gc = opts.identityGc;
      const stopGc = startIdentityGc({
        store,
        endpoints: () => endpoints.list(),
        graceMs: gc.graceMs,
        intervalMs: gc.intervalMs,
        ready: Promise.all([endpoints.synced, identities.synced]).then(() => undefined),
        onReport: (r) => {
          if (r.deleted.length + r.marked.length > 0) log.info("identity GC", { marked: r.marked.join(","), deleted: r.deleted.join(",") });
        },
        onError: (err) => log.warn("identity GC round failed", { error: errorMessage(err) }),
      });
      stops.push(stopGc);
    }
  } else {
    resolver = new StaticIdentityResolver();
    publisher = new NoopPublisher();
  }

  const manager = new EndpointManager({
    nodeName: opts.nodeName,
    ipam,
    stateDir: join(opts.stateDir, "endpoints"),
    resolver: withReservedEndpoints(resolver, opts.reservedEndpoints ?? []),
    datapath: opts.datapath ?? new NoopDatapath(),
    publisher,
    ...(opts.routerDevice ? { routerDevice: opts.routerDevice } : {}),
    ...(opts.mtu ? { mtu: opts.mtu } : {}),
    log,
  });
  const restore = await manager.start();
  log.info("endpoints restored", { restored: restore.restored.length, dropped: restore.dropped.length, podCIDR, router: manager.routerIp });

  // Identity inputs changed: pod labels / service account, or namespace labels.
  if (caches.pods) {
    caches.pods.on(
      {
        update: (pod, old) => {
          const same = JSON.stringify(pod.metadata?.labels ?? {}) === JSON.stringify(old.metadata?.labels ?? {}) && pod.spec?.serviceAccountName === old.spec?.serviceAccountName;
          if (same || !pod.metadata?.name || !pod.metadata.namespace) return;
          void manager.refreshIdentity({ namespace: pod.metadata.namespace, name: pod.metadata.name }).catch((err: unknown) => log.warn("identity refresh failed", { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, error: errorMessage(err) }));
        },
      },
      { replay: false },
    );
  }
  if (caches.namespaces) {
    caches.namespaces.on(
      {
        update: (ns, old) => {
          if (JSON.stringify(ns.metadata?.labels ?? {}) === JSON.stringify(old.metadata?.labels ?? {})) return;
          const pods = new Map(manager.endpoints().filter((e) => e.pod.namespace === ns.metadata?.name).map((e) => [e.pod.name, e.pod]));
          for (const pod of pods.values()) void manager.refreshIdentity(pod).catch((err: unknown) => log.warn("identity refresh failed", { pod: `${pod.namespace}/${pod.name}`, error: errorMessage(err) }));
        },
      },
      { replay: false },
    );
  }

  // An identity number this node uses was deleted and taken by other labels: resolve again.
  allocator?.subscribe((e) => {
    if (e.type !== "lost") return;
    const pods = new Map(manager.endpoints().filter((ep) => ep.identity.id === e.identity.id).map((ep) => [`${ep.pod.namespace}/${ep.pod.name}`, ep.pod]));
    for (const pod of pods.values()) void manager.refreshIdentity(pod).catch((err: unknown) => log.warn("identity refresh failed", { pod: `${pod.namespace}/${pod.name}`, error: errorMessage(err) }));
  });
  if (kc) {
    await annotateNode(kc, opts.nodeName, { [NODE_ANNOTATIONS.routerIp]: manager.routerIp, [NODE_ANNOTATIONS.podCidr]: ipam.cidrText }).catch((err: unknown) =>
      log.warn("could not annotate the Node with its router address", { error: errorMessage(err) }),
    );
  }

  const server = await CniServer.listen({ socketPath: opts.socketPath, handler: manager, log });
  const deleteQueueDir = opts.deleteQueueDir ?? join(dirname(opts.socketPath), "delete-queue");
  await replayDeleteQueue(deleteQueueDir, manager, log);
  if (opts.cniBinDir) installCniPlugin(opts.cniBinDir);
  if (opts.cniConfDir) writeConflist(opts.cniConfDir, { socketPath: opts.socketPath, deleteQueueDir });

  return {
    manager,
    ipam,
    ...(allocator ? { allocator } : {}),
    restore,
    server,
    caches,
    async stop() {
      await server.close();
      for (const s of stops) await s();
    },
  };
}
