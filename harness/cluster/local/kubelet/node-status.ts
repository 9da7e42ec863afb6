// The Node object this kubelet registers and the status it reports. Pure: machine facts are
// gathered once (node-facts.ts) and passed in, so the shapes are unit-tested.
import type { V1NodeCondition } from "@kubernetes/client-node";
import { apiTime } from "./kube.js";

export interface NodeFacts {
  readonly nodeName: string;
  readonly nodeIP: string;
  readonly kubernetesVersion: string;
  readonly extraLabels: Readonly<Record<string, string>>;
  /** GOARCH spelling: amd64, arm64, … */
  readonly arch: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly ephemeralStorageBytes?: number;
  readonly maxPods: number;
  readonly kernelVersion: string;
  readonly osImage: string;
  readonly machineID: string;
  readonly systemUUID: string;
  readonly bootID: string;
}

export interface NetworkReadiness {
  readonly ready: boolean;
  readonly reason?: string;
  readonly message?: string;
}

/** Node.js' process.arch → Kubernetes' kubernetes.io/arch value (GOARCH). */
export function goArch(nodeArch: string): string {
  const map: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return map[nodeArch] ?? nodeArch;
}

export function nodeLabels(f: NodeFacts): Record<string, string> {
  return {
    ...f.extraLabels,
    "kubernetes.io/hostname": f.nodeName,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": f.arch,
    "beta.kubernetes.io/os": "linux",
    "beta.kubernetes.io/arch": f.arch,
  };
}

/** The Node as first registered (status is reported separately, right after). */
export function nodeObject(f: NodeFacts): { metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> }; spec: Record<string, never> } {
  return {
    metadata: {
      name: f.nodeName,
      labels: nodeLabels(f),
      // No attach/detach controller work for a node without volumes; saying so keeps it quiet.
      annotations: { "volumes.kubernetes.io/controller-managed-attach-detach": "true" },
    },
    spec: {},
  };
}

function quantities(f: NodeFacts): Record<string, string> {
  return {
    cpu: String(f.cpus),
    memory: `${Math.floor(f.memoryBytes / 1024)}Ki`,
    pods: String(f.maxPods),
    ...(f.ephemeralStorageBytes !== undefined ? { "ephemeral-storage": `${Math.floor(f.ephemeralStorageBytes / 1024)}Ki` } : {}),
  };
}

export interface NodeStatusOut {
  conditions: { type: string; status: "True" | "False" | "Unknown"; reason: string; message: string; lastHeartbeatTime: string; lastTransitionTime: string }[];
  addresses: { type: string; address: string }[];
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  nodeInfo: Record<string, string>;
  daemonEndpoints: { kubeletEndpoint: { Port: number } };
}

/**
 * The status to report. `previous` (the conditions last reported) keeps transition times while a
 * condition holds; the heartbeat is always `now`.
 */
export function nodeStatus(f: NodeFacts, network: NetworkReadiness, previous: readonly V1NodeCondition[] | undefined, now: Date): NodeStatusOut {
  const prev = new Map((previous ?? []).map((c) => [c.type, c]));
  const t = apiTime(now);
  const condition = (type: string, ok: boolean, reason: string, message: string) => {
    const status: "True" | "False" = ok ? "True" : "False";
    const p = prev.get(type);
    const since = p && p.status === status && p.lastTransitionTime ? apiTime(new Date(p.lastTransitionTime)) : t;
    return { type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: since };
  };
  const q = quantities(f);
  return {
    conditions: [
      condition("MemoryPressure", false, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
      condition("DiskPressure", false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
      condition("PIDPressure", false, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
      network.ready
        ? condition("Ready", true, "KubeletReady", "kubelet is posting ready status")
        : condition("Ready", false, network.reason ?? "NetworkPluginNotReady", network.message ?? "network plugin not ready"),
    ],
    addresses: [
      { type: "InternalIP", address: f.nodeIP },
      { type: "Hostname", address: f.nodeName },
    ],
    capacity: q,
    allocatable: q,
    nodeInfo: {
      machineID: f.machineID,
      systemUUID: f.systemUUID,
      bootID: f.bootID,
      kernelVersion: f.kernelVersion,
      osImage: f.osImage,
      containerRuntimeVersion: "conform://0.1.0",
      kubeletVersion: f.kubernetesVersion,
      operatingSystem: "linux",
      architecture: f.arch,
    },
    // There is no kubelet HTTP endpoint (no logs/exec through the API server).
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
  };
}

/** What decides whether a report is needed: the status without heartbeat timestamps. */
export function statusFingerprint(s: NodeStatusOut): string {
  return JSON.stringify({ ...s, conditions: s.conditions.map(({ lastHeartbeatTime: _h, ...rest }) => rest) });
}
