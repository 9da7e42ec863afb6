/**
 * The full node agent: the control side of agent/cni/cni-agent.ts (caches, identities, IPAM,
 * endpoints, CNI server) composed with the eBPF datapath, ipcache sync and policy sync.
 *
 * Start order matters for safety: datapath first (so every endpoint, restored ones included,
 * is attached through it), then the control side without the conflist, then the first full
 * policy state and ipcache, and only then the plugin shim and conflist — the kubelet sees the
 * network as ready only once a new pod gets its policy before it runs.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import type { V1Node } from "@kubernetes/client-node";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { loadKubeConfig } from "../harness/kube/client.js";
import { cniAgentConfigSchema, startCniAgent } from "./cni/cni-agent.js";
import type { CniAgent, CniAgentOptions } from "./cni/cni-agent.js";
import { installCniPlugin, writeConflist } from "./cni/install.js";
import { Datapath } from "./datapath/index.js";
import type { DatapathConfigInput } from "./datapath/index.js";
import { apiServerEndpointSliceCache, ciliumEndpointCache, nodeCache, waitForSync } from "./k8s/caches.js";
import type { CiliumEndpoint, CiliumIdentity } from "./k8s/cilium-types.js";
import type { Logger } from "./k8s/log.js";
import { createLogger, errorMessage } from "./k8s/log.js";
import { inClusterKubeConfig } from "./k8s/in-cluster-kubeconfig.js";
import { ciliumClusterwideNetworkPolicyCache, ciliumNetworkPolicyCache, networkPolicyCache } from "./k8s/policy-caches.js";
import type { RawPolicyObject } from "./k8s/policy-caches.js";
import type { ResourceCache } from "./k8s/resource-cache.js";
import { agentApiSocketPath } from "./api/paths.js";
import { DEFAULT_API_PORT, startAgentApi } from "./api/server.js";
import type { AgentApi } from "./api/server.js";
import { DEFAULT_FLOW_CAPACITY, FlowObserver } from "./observer/observer.js";
import { ENFORCEMENT_MODES, policyRefOf } from "./policy/index.js";
import type { IdentityInput, PolicyProblem, PolicyRef } from "./policy/index.js";
import { apiServerAddresses, kubeconfigServerIp } from "./sync/api-server-addresses.js";
import { EndpointTracker } from "./sync/endpoint-tracker.js";
import { buildIpcache } from "./sync/ipcache-build.js";
import { DebouncedTask } from "./sync/debounced-task.js";
import { PolicySync } from "./sync/policy-sync.js";
import { VXLAN_DEVICE } from "./tunnel/plan.js";
import { TunnelSync } from "./tunnel/tunnel-sync.js";
import { removeVxlanDevice, tunnelPodMtu } from "./tunnel/vxlan-device.js";
import { datapathEventSource } from "./wiring/event-source.js";
import { hostEndpointInput, hostFirewallConfigSchema, startHostFirewall } from "./wiring/host-firewall.js";
import { AgentObserverContext } from "./wiring/observer-context.js";
import { AgentStatusSource } from "./wiring/status-provider.js";
import { AGENT_VERSION } from "./wiring/version.js";
import { HEALTH_IDENTITY, HEALTH_PORT, healthPodRef, startHealthEndpoint } from "./health/health-endpoint.js";
import { netnsNames } from "../harness/cluster/local/names.js";

/** The agent's config file: the CNI agent's fields (unchanged) plus policy and datapath. */
export const agentConfigSchema = cniAgentConfigSchema.extend({
  /** Absent: in-cluster config (service-account token, KUBERNETES_SERVICE_HOST/PORT), as in the DaemonSet. */
  kubeconfig: z.string().startsWith("/").optional(),
  policy: z
    .strictObject({
      /** Cilium `enable-policy`. */
      enforcementMode: z.enum(ENFORCEMENT_MODES).default("default"),
      /** Cilium `policy-audit-mode`: would-be drops are forwarded and reported as AUDIT. */
      auditMode: z.boolean().default(false),
      allowLocalhost: z.enum(["always", "policy"]).default("always"),
      /** Coalescing delay between a watch event and the recompile. */
      debounceMs: z.number().int().min(0).max(10_000).default(75),
    })
    .prefault({}),
  datapath: z
    .strictObject({
      traceMode: z.enum(["every-packet", "first-per-connection", "none"]).optional(),
      bpffsRoot: z.string().startsWith("/").optional(),
      pinDir: z.string().startsWith("/").optional(),
    })
    .prefault({}),
  /** The agent API (flows, status) and the flow observer behind it. */
  api: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Default `agentApiSocketPath(clusterName, nodeName)`, where `conform observe`/`status` look. */
      socketPath: z.string().startsWith("/").optional(),
      /** TCP on `nodeIP` (no TCP listener without a nodeIP); 0 picks a free port, null disables TCP. */
      tcpPort: z.number().int().min(0).max(65535).nullable().default(DEFAULT_API_PORT),
      flowCapacity: z.number().int().min(1).max(1_000_000).default(DEFAULT_FLOW_CAPACITY),
    })
    .prefault({}),
  /**
   * Cilium `routing-mode`. `tunnel`: this agent carries cross-node pod traffic in VXLAN (device
   * cf_vxlan, UDP 8472) to the other nodes' addresses and lowers the pod MTU by 50 unless `mtu`
   * is set; `native`: the network already routes every node's pod CIDR, the agent adds nothing.
   */
  routing: z.enum(["tunnel", "native"]).default("tunnel"),
  /** Host policies (CCNP nodeSelector) on this node: agent/wiring/host-firewall.ts. */
  hostFirewall: hostFirewallConfigSchema,
  /**
   * kube-apiserver addresses (identity 7). Default: the ready endpoints of the `default/kubernetes`
   * EndpointSlices (watched), or while there are none the kubeconfig server's address when it is an IP.
   */
  apiServerAddresses: z.array(z.ipv4()).optional(),
  /**
   * The node's health endpoint (Cilium's cilium-health, identity `health` 4): agent/health/.
   * `netns` defaults to `cf-<cluster>_health-<node>`, which `conform cluster down` sweeps.
   */
  health: z
    .strictObject({
      enabled: z.boolean().default(true),
      port: z.number().int().min(1).max(65535).default(HEALTH_PORT),
      netns: z.string().regex(/^[^/\s]{1,200}$/).optional(),
    })
    .prefault({}),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<typeof agentConfigSchema>;

export interface Agent {
  readonly cni: CniAgent;
  readonly datapath: Datapath;
  readonly policy: PolicySync;
  readonly tracker: EndpointTracker;
  /** Flows of this node (absent when `api.enabled` is false). */
  readonly observer?: FlowObserver;
  readonly api?: AgentApi;
  /** Path of the policy status JSON (see PolicySyncStatus). */
  readonly statusFile: string;
  stop(): Promise<void>;
}

export const POLICY_STATUS_FILE = "policy-status.json";
const TUNNEL_RESYNC_MS = 30_000;

/** CiliumIdentities → engine input, with named ports gathered from the CiliumEndpoints using them. */
function identityInputs(identities: ResourceCache<{ metadata: { name?: string }; "security-labels": Record<string, string> }> | undefined, ceps: ResourceCache<CiliumEndpoint>): IdentityInput[] {
  const ports = new Map<number, Record<string, { port: number; protocol: "TCP" | "UDP" | "SCTP" }[]>>();
  for (const cep of ceps.list()) {
    const id = cep.status?.identity?.id;
    if (!id) continue;
    for (const p of cep.status?.["named-ports"] ?? []) {
      // "ANY" names no single protocol a named port could resolve to.
      if (!p.name || !p.port || p.protocol === "ANY") continue;
      const byName = ports.get(id) ?? {};
      const list = (byName[p.name.toLowerCase()] ??= []);
      const protocol = p.protocol ?? "TCP";
      if (!list.some((x) => x.port === p.port && x.protocol === protocol)) list.push({ port: p.port, protocol });
      ports.set(id, byName);
    }
  }
  const out: IdentityInput[] = [];
  for (const ident of identities?.list() ?? []) {
    const id = Number(ident.metadata.name);
    if (!Number.isInteger(id) || id < 1) continue;
    const named = ports.get(id);
    out.push({ id, labels: ident["security-labels"], ...(named ? { namedPorts: named } : {}) });
  }
  return out;
}

/** One Warning Event per rejected policy update, on the policy (CCNPs: in `default`). */
async function emitRejectedEvent(core: CoreV1Api, nodeName: string, object: unknown, ref: PolicyRef, problems: readonly PolicyProblem[]): Promise<void> {
  const meta = (object as RawPolicyObject).metadata;
  const namespace = ref.namespace || "default";
  const now = new Date();
  const message = `rejected by conform-agent on ${nodeName}: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ") || "invalid"}`.slice(0, 1024);
  await core.createNamespacedEvent({
    namespace,
    body: {
      metadata: { generateName: `${ref.name}.`, namespace },
      involvedObject: {
        apiVersion: (object as RawPolicyObject).apiVersion,
        kind: ref.kind,
        name: ref.name,
        ...(ref.namespace ? { namespace: ref.namespace } : {}),
        ...(meta?.uid ? { uid: meta.uid } : {}),
        ...(meta?.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
      },
      reason: "PolicyRejected",
      type: "Warning",
      message,
      source: { component: "conform-agent", host: nodeName },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      reportingComponent: "conform-agent",
      reportingInstance: nodeName,
    },
  });
}

interface LiveState {
  readonly datapath: Datapath;
  readonly tracker: EndpointTracker;
  readonly policySync: PolicySync;
  readonly ceps: ResourceCache<CiliumEndpoint>;
  readonly identities: ResourceCache<CiliumIdentity> | undefined;
  readonly log: Logger;
}

/**
 * Event reader → flow observer → agent API, over the live state. Started once the first
 * policy state is in force, so the first flow already names the policies behind it.
 */
async function startObservability(parsed: AgentConfig, clusterName: string, live: LiveState, stops: (() => Promise<void> | void)[]): Promise<{ observer: FlowObserver; api: AgentApi }> {
  const { datapath, tracker, policySync, ceps, identities, log } = live;
  const identityLabels = (id: number) => identities?.get(String(id))?.["security-labels"];
  const context = new AgentObserverContext({
    clusterName,
    nodeName: parsed.nodeName,
    localEndpoints: () => tracker.endpoints(),
    ciliumEndpoints: () => ceps.list(),
    clusterIdentity: identityLabels,
    cidrIdentities: () => policySync.cidrIdentities(),
    compiled: () => policySync.compiled,
    policies: () => policySync.store,
    revision: () => policySync.revision,
  });
  const invalidate = (): void => context.invalidate();
  stops.push(tracker.onChange(invalidate));
  ceps.on({ add: invalidate, update: invalidate, delete: invalidate }, { replay: false });
  identities?.on({ add: invalidate, update: invalidate, delete: invalidate }, { replay: false });

  let decodeErrors = 0;
  const observer = new FlowObserver({
    context,
    capacity: parsed.api.flowCapacity,
    // One line per 1,000 so a systematic decode bug is visible without flooding the log.
    onDecodeError: (err) => void (decodeErrors++ % 1000 === 0 && log.warn("flow decode failed", { error: errorMessage(err), total: decodeErrors })),
  });
  const source = datapathEventSource(datapath, { onError: (err) => log.error("flow observer failed on an event batch", { error: errorMessage(err) }) });
  stops.push(() => source.close());
  stops.push(observer.attach(source));

  const provider = new AgentStatusSource({
    nodeName: parsed.nodeName,
    version: AGENT_VERSION,
    ready: () => policySync.started,
    revision: () => policySync.revision,
    localEndpoints: () => tracker.endpoints(),
    realizedRevision: (epId) => datapath.realizedRevision(epId),
    compiled: () => policySync.compiled,
    policies: () => policySync.store,
    rejected: () => policySync.rejected(),
    clusterIdentities: () =>
      (identities?.list() ?? []).flatMap((i) => {
        const id = Number(i.metadata.name);
        return Number.isInteger(id) && id > 0 ? [{ id, labels: i["security-labels"] }] : [];
      }),
    cidrIdentities: () => policySync.cidrIdentities(),
  });
  const socketPath = parsed.api.socketPath ?? agentApiSocketPath(clusterName, parsed.nodeName);
  const tcp = parsed.nodeIP && parsed.api.tcpPort !== null ? { host: parsed.nodeIP, port: parsed.api.tcpPort } : undefined;
  const api = await startAgentApi({ observer, provider, socketPath, ...(tcp ? { tcp } : {}) });
  stops.push(() => api.close());
  log.info("agent API serving", { socket: api.socketPath ?? "", tcp: api.tcp ? `${api.tcp.host}:${api.tcp.port}` : "off", flowCapacity: parsed.api.flowCapacity });
  return { observer, api };
}

export async function startAgent(config: AgentConfigInput, opts: { log?: Logger } = {}): Promise<Agent> {
  const parsed = agentConfigSchema.parse(config);
  const log = opts.log ?? createLogger(`agent ${parsed.nodeName}`);
  const kc = parsed.kubeconfig ? loadKubeConfig(parsed.kubeconfig) : inClusterKubeConfig();
  const clusterName = parsed.clusterName ?? "default";
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch((err: unknown) => log.warn("stop step failed", { error: errorMessage(err) }));
  };

  const dpConfig: DatapathConfigInput = {
    clusterName,
    nodeName: parsed.nodeName,
    ...(parsed.datapath.traceMode ? { traceMode: parsed.datapath.traceMode } : {}),
    ...(parsed.datapath.bpffsRoot ? { bpffsRoot: parsed.datapath.bpffsRoot } : {}),
    ...(parsed.datapath.pinDir ? { pinDir: parsed.datapath.pinDir } : {}),
  };
  const datapath = new Datapath({ config: dpConfig, log });
  await datapath.start();
  stops.push(() => datapath.close());
  const tracker = new EndpointTracker(datapath);

  try {
    // The veths are made with this MTU, so it is settled before the first endpoint (restored ones keep theirs).
    const mtu = parsed.mtu ?? (parsed.routing === "tunnel" ? await tunnelPodMtu(parsed.nodeIP) : undefined);
    if (parsed.routing === "native" && (await removeVxlanDevice(VXLAN_DEVICE))) log.info("removed the VXLAN device of an earlier tunnel-mode run", { device: VXLAN_DEVICE });
    // No cniBinDir/cniConfDir here: the conflist is written below, once policy is in force.
    const cniOptions: CniAgentOptions = {
      nodeName: parsed.nodeName,
      stateDir: parsed.stateDir,
      socketPath: parsed.socketPath,
      kubeconfig: kc,
      clusterName,
      datapath: tracker,
      log,
      ...(parsed.deleteQueueDir ? { deleteQueueDir: parsed.deleteQueueDir } : {}),
      ...(parsed.podCIDR ? { podCIDR: parsed.podCIDR } : {}),
      ...(parsed.nodeIP ? { nodeIP: parsed.nodeIP } : {}),
      ...(parsed.routerDevice ? { routerDevice: parsed.routerDevice } : {}),
      ...(mtu ? { mtu } : {}),
      ...(parsed.identityGc ? { identityGc: parsed.identityGc } : {}),
      ...(parsed.health.enabled ? { reservedEndpoints: [{ pod: healthPodRef(parsed.nodeName), identity: HEALTH_IDENTITY }] } : {}),
    };
    const cni = await startCniAgent(cniOptions);
    stops.push(() => cni.stop());
    const pruned = datapath.pruneEndpoints(cni.manager.endpoints().map((e) => e.id));
    if (pruned.length > 0) log.info("dropped datapath entries of endpoints gone while the agent was down", { endpoints: pruned.join(",") });
    if (parsed.health.enabled) {
      // Attached like a restored pod: before the first policy state, which then covers it too.
      // Pods do not depend on it, so a node whose health endpoint fails still serves (as Cilium's does).
      const netnsName = parsed.health.netns ?? netnsNames.health(clusterName, parsed.nodeName);
      try {
        const health = await startHealthEndpoint({ manager: cni.manager, nodeName: parsed.nodeName, netnsName, port: parsed.health.port, log });
        stops.push(() => health.stop());
      } catch (err) {
        log.error("the health endpoint could not be set up", { netns: netnsName, error: errorMessage(err) });
      }
    }

    const nodes = nodeCache(kc, { log }).start();
    const ceps = cni.caches.endpoints ?? ciliumEndpointCache(kc, { log }).start();
    const knps = networkPolicyCache(kc, { log }).start();
    const cnps = ciliumNetworkPolicyCache(kc, { log }).start();
    const ccnps = ciliumClusterwideNetworkPolicyCache(kc, { log }).start();
    // Not watched when the addresses are configured: nothing would read them.
    const apiSlices = parsed.apiServerAddresses ? undefined : apiServerEndpointSliceCache(kc, { log }).start();
    stops.push(() => nodes.stop(), () => knps.stop(), () => cnps.stop(), () => ccnps.stop(), () => apiSlices?.stop());
    if (!cni.caches.endpoints) stops.push(() => ceps.stop());

    const kubeconfigIp = kubeconfigServerIp(kc);
    // The ipcache reads the CIDR identities the policy sync allocates; the two refer to each other.
    const late: { policy?: PolicySync } = {};
    const ipcache = new DebouncedTask(
      () => {
        datapath.syncIpcache(
          buildIpcache({
            nodeName: parsed.nodeName,
            nodes: nodes.list() as V1Node[],
            ciliumEndpoints: ceps.list(),
            localEndpoints: tracker.endpoints(),
            apiServerAddresses: apiServerAddresses({ configured: parsed.apiServerAddresses, slices: apiSlices?.list() ?? [], kubeconfigIp }),
            cidrIdentities: late.policy?.cidrIdentities() ?? [],
          }),
        );
      },
      parsed.policy.debounceMs,
      (err) => log.error("ipcache sync failed", { error: errorMessage(err) }),
    );
    stops.push(() => ipcache.stop());

    const tunnel =
      parsed.routing === "tunnel"
        ? new TunnelSync({ nodeName: parsed.nodeName, nodes: () => nodes.list() as V1Node[], routerIP: cni.manager.routerIp, log, ...(parsed.nodeIP ? { nodeIP: parsed.nodeIP } : {}) })
        : undefined;
    // The last pass's failure, for start-up; every pass runs through the task, so never two at once.
    let tunnelFailure: unknown;
    const tunnelTask = new DebouncedTask(
      async () => {
        try {
          await tunnel?.reconcile();
          tunnelFailure = undefined;
        } catch (err) {
          tunnelFailure = err ?? new Error("unknown failure");
          throw err;
        }
      },
      parsed.policy.debounceMs,
      (err) => log.error("tunnel reconcile failed", { error: errorMessage(err) }),
    );
    stops.push(() => tunnelTask.stop());
    if (tunnel) {
      // Level-based: a periodic pass also repairs entries changed behind the agent's back.
      const resync = setInterval(() => tunnelTask.trigger(), TUNNEL_RESYNC_MS).unref();
      stops.push(() => clearInterval(resync));
    }

    const core = kc.makeApiClient(CoreV1Api);
    const recorded = new Map<number, number>();
    const statusFile = join(parsed.stateDir, POLICY_STATUS_FILE);
    mkdirSync(dirname(statusFile), { recursive: true });
    // Host firewall: set once the Node is in the cache (below), read at every compile.
    const host = { on: false };
    const policySync = new PolicySync({
      datapath,
      host: () => (host.on ? hostEndpointInput(parsed.nodeName, nodes.get(parsed.nodeName) as V1Node | undefined) : undefined),
      engine: { enforcementMode: parsed.policy.enforcementMode, auditMode: parsed.policy.auditMode, allowLocalhost: parsed.policy.allowLocalhost, clusterName },
      endpoints: () => tracker.endpoints(),
      identities: () => identityInputs(cni.caches.identities, ceps),
      recordRevision: (epId, revision) => {
        if (recorded.get(epId) === revision || cni.manager.endpoint(epId)?.policyRevision === revision) return;
        recorded.set(epId, revision);
        void cni.manager.setPolicyRevision(epId, revision).catch((err: unknown) => {
          recorded.delete(epId);
          log.warn("could not record the policy revision", { ep: epId, revision, error: errorMessage(err) });
        });
      },
      onCidrIdentities: () => ipcache.flush(),
      onRejected: (object, ref, problems) =>
        void emitRejectedEvent(core, parsed.nodeName, object, ref, problems).catch((err: unknown) => log.warn("could not post the policy's Event", { policy: `${ref.kind}/${ref.namespace}/${ref.name}`, error: errorMessage(err) })),
      statusFile,
      debounceMs: parsed.policy.debounceMs,
      log,
    });
    late.policy = policySync;
    stops.push(() => policySync.stop());

    for (const cache of [knps, cnps, ccnps]) {
      cache.on({
        add: (obj) => policySync.upsert(obj),
        update: (obj) => policySync.upsert(obj),
        delete: (obj) => policySync.remove(policyRefOf(obj)),
      });
    }
    const identities = cni.caches.identities;
    if (identities) {
      identities.on({ add: () => policySync.trigger(), update: () => policySync.trigger(), delete: () => policySync.trigger() }, { replay: false });
    }
    // Node labels are the host endpoint's (nodeSelector), so node changes recompile policy too;
    // node addresses and pod CIDRs are the tunnel's peers.
    const onNode = () => (ipcache.trigger(), tunnelTask.trigger(), policySync.trigger());
    nodes.on({ add: onNode, update: onNode, delete: onNode }, { replay: false });
    const onApiSlice = () => ipcache.trigger();
    apiSlices?.on({ add: onApiSlice, update: onApiSlice, delete: onApiSlice }, { replay: false });
    // CEPs carry identities of remote pods (ipcache) and named ports (egress named-port rules).
    ceps.on({ add: () => (ipcache.trigger(), policySync.trigger()), update: () => (ipcache.trigger(), policySync.trigger()), delete: () => (ipcache.trigger(), policySync.trigger()) }, { replay: false });
    tracker.onChange(async () => {
      // Only once the first full state is in: before that, start-up applies everything at once.
      if (!policySync.started) return;
      await ipcache.flush();
      await policySync.flush();
    });

    await waitForSync([nodes, ceps, knps, cnps, ccnps, ...(identities ? [identities] : []), ...(apiSlices ? [apiSlices] : [])]);
    // A node that cannot build its tunnel must not turn Ready.
    await tunnelTask.flush();
    if (tunnelFailure !== undefined) throw new Error(`the VXLAN tunnel could not be set up: ${errorMessage(tunnelFailure)}`);
    host.on = startHostFirewall(datapath, parsed.hostFirewall, nodes.get(parsed.nodeName) as V1Node | undefined, parsed.nodeIP, log);
    await ipcache.flush();
    await policySync.flush();
    if (!policySync.started) throw new Error("the first policy state could not be applied (see the log above)");
    await ipcache.flush();
    log.info("policy and ipcache in sync", { revision: policySync.revision, policies: policySync.store.size, endpoints: tracker.endpoints().length });

    const observed = parsed.api.enabled ? await startObservability(parsed, clusterName, { datapath, tracker, policySync, ceps, identities, log }, stops) : undefined;

    const deleteQueueDir = parsed.deleteQueueDir ?? join(dirname(parsed.socketPath), "delete-queue");
    if (parsed.cniBinDir) installCniPlugin(parsed.cniBinDir);
    if (parsed.cniConfDir) writeConflist(parsed.cniConfDir, { socketPath: parsed.socketPath, deleteQueueDir });

    return { cni, datapath, policy: policySync, tracker, ...(observed ?? {}), statusFile, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
