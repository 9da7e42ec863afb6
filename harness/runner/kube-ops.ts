// What a scenario does to the cluster: server-side apply with a record of everything it created,
// deletion, waiting for pods to be Ready and for deleted namespaces to be gone, and a snapshot of
// the pods and services probes need addresses from.
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api } from "@kubernetes/client-node";
import type { KubeConfig, KubernetesObject, V1Pod, V1Service } from "@kubernetes/client-node";
import { apiErrorMessage, applyObjects, deleteObjects } from "../kube/apply.js";
import type { ClusterHandle, ConvergenceScope } from "../cluster/provider.js";
import { POLICY_KINDS } from "./requirements.js";
import type { KubeObject } from "../spec/manifests.js";
import { StopWaiting, waitFor } from "../util/wait.js";
import type { AddressBook } from "./probes.js";

const key = (o: { kind?: string; apiVersion?: string; metadata?: { name?: string; namespace?: string } }) =>
  `${o.apiVersion ?? ""}/${o.kind ?? ""}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
const podKey = (namespace: string, name: string) => `${namespace}/${name}`;

export function describeObject(o: KubeObject): string {
  return `${o.kind} ${typeof o.metadata.namespace === "string" ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
}

/** How agents name a policy: `Kind/namespace/name`, or `Kind/name` when cluster-scoped. */
export const policyKey = (o: KubeObject): string => (typeof o.metadata.namespace === "string" && o.metadata.namespace !== "" ? `${o.kind}/${o.metadata.namespace}/${o.metadata.name}` : `${o.kind}/${o.metadata.name}`);

/** Everything a scenario applied, in order, so cleanup deletes exactly that (in reverse). */
export class AppliedObjects {
  private readonly objects = new Map<string, KubeObject>();
  /** Network policies: key → the resourceVersion the API server returned, or null once deleted. */
  private readonly policies = new Map<string, string | null>();

  add(o: KubeObject, resourceVersion?: string): void {
    const k = key(o);
    // Re-applying moves the object to the end: it was last touched then.
    this.objects.delete(k);
    this.objects.set(k, o);
    if (POLICY_KINDS.includes(o.kind)) this.policies.set(policyKey(o), resourceVersion ?? "");
  }

  remove(o: KubeObject): void {
    this.objects.delete(key(o));
    if (POLICY_KINDS.includes(o.kind)) this.policies.set(policyKey(o), null);
  }

  /** What the agents must have realized for this scenario's policies to be in force. */
  convergenceScope(): ConvergenceScope {
    const present = new Map<string, string>();
    const absent: string[] = [];
    for (const [k, rv] of this.policies) if (rv === null) absent.push(k);
    else present.set(k, rv);
    return { present, absent };
  }

  list(): KubeObject[] {
    return [...this.objects.values()];
  }

  pods(): { namespace: string; name: string }[] {
    return this.list()
      .filter((o) => o.kind === "Pod" && o.apiVersion === "v1")
      .map((o) => ({ namespace: typeof o.metadata.namespace === "string" ? o.metadata.namespace : "default", name: o.metadata.name }));
  }
}

/** Applies objects one by one (in order) and records each; the error names the object and where it was written. */
export async function applyTracked(kc: KubeConfig, objects: readonly { object: KubeObject; source?: { file: string; line: number } }[], applied: AppliedObjects): Promise<void> {
  for (const { object, source } of objects) {
    try {
      const [stored] = await applyObjects(kc, [object as KubernetesObject]);
      applied.add(object, stored?.metadata?.resourceVersion);
    } catch (err) {
      const where = source ? ` (${source.file}:${source.line})` : "";
      throw new Error(`apply ${describeObject(object)}${where} was refused: ${apiErrorMessage(err)}`);
    }
  }
}

export async function deleteTracked(kc: KubeConfig, objects: readonly { object: KubeObject; source?: { file: string; line: number } }[], applied: AppliedObjects): Promise<void> {
  for (const { object, source } of objects) {
    try {
      await deleteObjects(kc, [object as KubernetesObject]);
    } catch (err) {
      const where = source ? ` (${source.file}:${source.line})` : "";
      throw new Error(`delete ${describeObject(object)}${where} failed: ${apiErrorMessage(err)}`);
    }
    applied.remove(object);
  }
}

const interrupted = (signal?: AbortSignal) => {
  if (signal?.aborted) throw new StopWaiting(signal.reason instanceof Error ? signal.reason.message : "interrupted");
};

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Why a pod is not Ready yet, in the kubelet's own words where it gave any. */
export function notReadyReason(pod: V1Pod | undefined): string {
  if (!pod) return "not found";
  const waiting = pod.status?.containerStatuses?.map((c) => c.state?.waiting).find((w) => w?.reason);
  if (waiting) return `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`;
  const terminated = pod.status?.containerStatuses?.map((c) => c.state?.terminated).find((t) => t?.reason);
  if (terminated) return `container ${terminated.reason} (exit ${terminated.exitCode})`;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  if (unscheduled) return `not scheduled: ${unscheduled.message ?? unscheduled.reason ?? ""}`;
  return `phase ${pod.status?.phase ?? "unknown"}${pod.spec?.nodeName ? ` on ${pod.spec.nodeName}` : ""}`;
}

export async function waitPodsReady(kc: KubeConfig, pods: readonly { namespace: string; name: string }[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
  if (pods.length === 0) return;
  const core = kc.makeApiClient(CoreV1Api);
  const namespaces = [...new Set(pods.map((p) => p.namespace))];
  let last = new Map<string, V1Pod>();
  const pending = () => pods.filter((p) => !isReadyIn(last, p));
  const isReadyIn = (m: Map<string, V1Pod>, p: { namespace: string; name: string }) => {
    const pod = m.get(podKey(p.namespace, p.name));
    return pod !== undefined && isReady(pod);
  };
  try {
    await waitFor(
      `pods to be Ready`,
      async () => {
        interrupted(signal);
        const lists = await Promise.all(namespaces.map((namespace) => core.listNamespacedPod({ namespace })));
        last = new Map(lists.flatMap((l) => l.items).map((p) => [podKey(p.metadata?.namespace ?? "", p.metadata?.name ?? ""), p]));
        return pending().length === 0 ? true : undefined;
      },
      { timeoutMs, intervalMs: 150 },
    );
  } catch (err) {
    if (err instanceof StopWaiting) throw err;
    const detail = pending().map((p) => `${p.namespace}/${p.name}: ${notReadyReason(last.get(podKey(p.namespace, p.name)))}`);
    throw new Error(`${Math.round(timeoutMs / 1000)}s passed and ${detail.length} pod${detail.length === 1 ? " is" : "s are"} not Ready: ${detail.join("; ")}`);
  }
}

/** Namespaces still terminating from an earlier run must be gone before they can be created again. */
export async function waitNamespacesNotTerminating(kc: KubeConfig, names: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of names) {
    await waitFor(
      `namespace ${name} (terminating from an earlier run) to be gone`,
      async () => {
        interrupted(signal);
        try {
          const ns = await core.readNamespace({ name });
          return ns.status?.phase === "Terminating" ? undefined : true;
        } catch (err) {
          if ((err as { code?: number }).code === 404) return true;
          throw err;
        }
      },
      { timeoutMs, intervalMs: 200 },
    );
  }
}

/** Waits until none of the objects exist any more (namespace deletion runs through the controller-manager). */
export async function waitGone(kc: KubeConfig, objects: readonly KubeObject[], timeoutMs: number): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const checks = objects
    .filter((o) => o.apiVersion === "v1" && (o.kind === "Namespace" || o.kind === "Pod"))
    .map((o) =>
      o.kind === "Namespace"
        ? () => core.readNamespace({ name: o.metadata.name })
        : () => core.readNamespacedPod({ name: o.metadata.name, namespace: typeof o.metadata.namespace === "string" ? o.metadata.namespace : "default" }),
    );
  if (checks.length === 0) return;
  await waitFor(
    `${objects.map(describeObject).join(", ")} to be deleted`,
    async () => {
      const present = await Promise.all(
        checks.map((read) =>
          read().then(
            () => true,
            (err: unknown) => {
              if ((err as { code?: number }).code === 404) return false;
              throw err;
            },
          ),
        ),
      );
      return present.some(Boolean) ? undefined : true;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** Pods and services of the scenario's namespaces at one moment: where probes go. */
export interface LiveObjects {
  pods: Map<string, V1Pod>;
  services: Map<string, V1Service>;
  /** Ready IPv4 endpoints of the `default/kubernetes` EndpointSlices (`apiserver:` targets). */
  apiServer?: string[];
  /** Node name → address of its health endpoint, from the CiliumEndpoints `kube-system/cilium-health-<node>`. */
  health?: Map<string, string>;
}

/** Where the health endpoints are published (agent/health/health-endpoint.ts). */
const HEALTH_CEP_NAMESPACE = "kube-system";
const HEALTH_CEP_PREFIX = "cilium-health-";
const HEALTH_IDENTITY = 4;

async function readApiServerAddresses(kc: KubeConfig): Promise<string[]> {
  try {
    const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: "default", labelSelector: "kubernetes.io/service-name=kubernetes" });
    return slices.items.flatMap((s) => (s.addressType === "IPv4" ? (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses) : []));
  } catch {
    // Targets that need it report the missing address; other probes must not fail over it.
    return [];
  }
}

async function readHealthEndpoints(kc: KubeConfig): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let list: { items?: { metadata?: { name?: string }; status?: { identity?: { id?: number }; networking?: { addressing?: { ipv4?: string }[] } } }[] };
  try {
    list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: "cilium.io", version: "v2", plural: "ciliumendpoints", namespace: HEALTH_CEP_NAMESPACE })) as typeof list;
  } catch {
    // No CiliumEndpoint CRD (no conform or Cilium agent): there are no health endpoints.
    return out;
  }
  for (const cep of list.items ?? []) {
    const name = cep.metadata?.name ?? "";
    const ip = cep.status?.networking?.addressing?.find((a) => a.ipv4)?.ipv4;
    if (name.startsWith(HEALTH_CEP_PREFIX) && cep.status?.identity?.id === HEALTH_IDENTITY && ip) out.set(name.slice(HEALTH_CEP_PREFIX.length), ip);
  }
  return out;
}

/**
 * `targets`: the destination kinds the step probes. The API server's and the health endpoints'
 * addresses are read only when a step names them (two more list calls per step otherwise).
 */
export async function readLiveObjects(kc: KubeConfig, namespaces: readonly string[], targets?: ReadonlySet<string>): Promise<LiveObjects> {
  const core = kc.makeApiClient(CoreV1Api);
  const wants = (kind: string) => targets === undefined || targets.has(kind);
  const [pods, services, apiServer, health] = await Promise.all([
    Promise.all(namespaces.map((namespace) => core.listNamespacedPod({ namespace }))),
    Promise.all(namespaces.map((namespace) => core.listNamespacedService({ namespace }))),
    wants("apiserver") ? readApiServerAddresses(kc) : undefined,
    wants("health") ? readHealthEndpoints(kc) : undefined,
  ]);
  const byName = <T extends { metadata?: { namespace?: string; name?: string } }>(items: T[]) =>
    new Map(items.map((i) => [podKey(i.metadata?.namespace ?? "", i.metadata?.name ?? ""), i]));
  return { pods: byName(pods.flatMap((l) => l.items)), services: byName(services.flatMap((l) => l.items)), apiServer, health };
}

/** The kubeconfig server's host when it is an IPv4 address (not loopback, which pods cannot reach). */
function kubeconfigServerIp(kc: KubeConfig | undefined): string | undefined {
  const server = kc?.getCurrentCluster()?.server;
  if (!server) return undefined;
  const host = new URL(server).hostname;
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) && !host.startsWith("127.") ? host : undefined;
}

export function addressBook(live: LiveObjects, handle: Pick<ClusterHandle, "nodes" | "world"> & Partial<Pick<ClusterHandle, "kubeConfig">>): AddressBook {
  const pod = (ns: string, name: string) => live.pods.get(podKey(ns, name));
  return {
    podIP: (ns, name) => pod(ns, name)?.status?.podIP || undefined,
    serviceIP: (ns, name) => live.services.get(podKey(ns, name))?.spec?.clusterIP || undefined,
    nodeAddressOfPod: (ns, name) => {
      const p = pod(ns, name);
      const nodeName = p?.spec?.nodeName;
      return handle.nodes.find((n) => n.name === nodeName)?.address ?? (p?.status?.hostIP || undefined);
    },
    nodeAddress: (index) => handle.nodes[index - 1]?.address,
    // The Service's endpoint is where the API server listens for pods; the harness's own
    // kubeconfig may go another way (the local cluster's reaches it from the root netns).
    apiServerAddress: () => live.apiServer?.[0] ?? kubeconfigServerIp(handle.kubeConfig),
    healthAddress: (index) => {
      const node = handle.nodes[index - 1];
      return node ? live.health?.get(node.name) : undefined;
    },
    ...(handle.world ? { world: handle.world } : {}),
  };
}
