// Pod status as the kubelet reports it, computed from what this node observed: sandbox (netns +
// CNI), container processes, and the previous status (for transition times). Pure and
// deterministic given `now`, so an unchanged pod yields a byte-identical status and no API write.
import type { V1Pod, V1PodCondition } from "@kubernetes/client-node";
import type { ContainerSnapshot, TerminatedState } from "./runtime/container.js";

export interface SandboxView {
  /** Netns exists and the network is attached (always true for hostNetwork pods). */
  readonly ready: boolean;
  readonly podIPs: readonly string[];
  /** Why it is not ready (NetworkPluginNotReady, CNI error, …). */
  readonly reason?: string;
  readonly message?: string;
}

export interface ContainerView {
  readonly name: string;
  readonly image: string;
  /** Present once a process runner exists for the container. */
  readonly snapshot?: ContainerSnapshot;
  /** Why the container cannot be created (image not runnable, env config error). */
  readonly blocked?: { readonly reason: string; readonly message: string };
  /** An init container with restartPolicy Always (sidecar). */
  readonly sidecar?: boolean;
}

export interface PodStatusInput {
  readonly pod: V1Pod;
  readonly nodeIP: string;
  readonly now: Date;
  readonly sandbox: SandboxView;
  readonly initContainers: readonly ContainerView[];
  readonly containers: readonly ContainerView[];
  /** The pod is being deleted and its containers have been (or are being) stopped. */
  readonly terminating?: boolean;
}

export type PodPhase = "Pending" | "Running" | "Succeeded" | "Failed";

export interface ContainerStateOut {
  waiting?: { reason: string; message?: string };
  running?: { startedAt: string };
  terminated?: { exitCode: number; signal?: number; reason: string; message?: string; startedAt?: string; finishedAt: string; containerID?: string };
}

export interface ContainerStatusOut {
  name: string;
  state: ContainerStateOut;
  lastState: ContainerStateOut;
  ready: boolean;
  started: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
}

export interface PodConditionOut {
  type: string;
  status: "True" | "False" | "Unknown";
  lastProbeTime: null;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

export interface PodStatusOut {
  observedGeneration?: number;
  phase: PodPhase;
  conditions: PodConditionOut[];
  hostIP: string;
  hostIPs: { ip: string }[];
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime: string;
  initContainerStatuses?: ContainerStatusOut[];
  containerStatuses: ContainerStatusOut[];
}

/** `conform://<pid>`: the runtime's container ID is the process ID. */
export function containerID(pid: number | undefined): string | undefined {
  return pid !== undefined && pid > 0 ? `conform://${pid}` : undefined;
}

function iso(d: Date | string | undefined): string | undefined {
  if (d === undefined) return undefined;
  return (typeof d === "string" ? new Date(d) : d).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function terminatedOut(t: TerminatedState): ContainerStateOut {
  const id = containerID(t.pid);
  return {
    terminated: {
      exitCode: t.exitCode,
      ...(t.signal ? { signal: t.signal } : {}),
      reason: t.reason,
      ...(t.message ? { message: t.message } : {}),
      ...(t.startedAt ? { startedAt: iso(t.startedAt) } : {}),
      finishedAt: iso(t.finishedAt) ?? "",
      ...(id ? { containerID: id } : {}),
    },
  };
}

function imageID(image: string): string {
  return `conform://${image}`;
}

export function containerStatus(view: ContainerView, defaultWaiting: string): ContainerStatusOut {
  const s = view.snapshot;
  if (!s) {
    const waiting = view.blocked ?? { reason: defaultWaiting };
    return { name: view.name, state: { waiting }, lastState: {}, ready: false, started: false, restartCount: 0, image: view.image, imageID: "" };
  }
  let state: ContainerStateOut;
  let pid: number | undefined;
  switch (s.state.kind) {
    case "waiting":
      state = { waiting: { reason: s.state.reason, ...(s.state.message ? { message: s.state.message } : {}) } };
      pid = s.lastTerminated?.pid;
      break;
    case "running":
      state = { running: { startedAt: iso(s.state.startedAt) ?? "" } };
      pid = s.state.pid;
      break;
    case "terminated":
      state = terminatedOut(s.state);
      pid = s.state.pid;
      break;
  }
  const id = containerID(pid);
  return {
    name: view.name,
    state,
    lastState: s.lastTerminated ? terminatedOut(s.lastTerminated) : {},
    ready: s.ready,
    started: s.started,
    restartCount: s.restartCount,
    image: view.image,
    imageID: imageID(view.image),
    ...(id ? { containerID: id } : {}),
  };
}

type Counted = "running" | "waiting" | "stopped-ok" | "stopped-failed";

/** How getPhase counts a container: a waiting container that ran before counts as stopped. */
function classify(view: ContainerView): Counted {
  const s = view.snapshot;
  if (!s) return "waiting";
  switch (s.state.kind) {
    case "running":
      return "running";
    case "terminated":
      return s.state.exitCode === 0 ? "stopped-ok" : "stopped-failed";
    case "waiting":
      if (!s.lastTerminated) return "waiting";
      return s.lastTerminated.exitCode === 0 ? "stopped-ok" : "stopped-failed";
  }
}

function initDone(view: ContainerView): boolean {
  const st = view.snapshot?.state;
  if (view.sidecar) return view.snapshot?.started === true;
  return st?.kind === "terminated" && st.exitCode === 0;
}

/** The phase, following the kubelet's getPhase rules. */
export function podPhase(input: PodStatusInput): PodPhase {
  const policy = input.pod.spec?.restartPolicy ?? "Always";
  const apiPhase = input.pod.status?.phase;
  // A terminal phase is final; the API server also refuses to leave it.
  if (apiPhase === "Succeeded" || apiPhase === "Failed") return apiPhase;

  for (const init of input.initContainers) {
    if (initDone(init)) continue;
    const st = init.snapshot?.state;
    if (!init.sidecar && policy === "Never" && st?.kind === "terminated" && st.exitCode !== 0) return "Failed";
    return "Pending";
  }
  const counts = { running: 0, waiting: 0, "stopped-ok": 0, "stopped-failed": 0 };
  for (const c of input.containers) counts[classify(c)]++;
  const stopped = counts["stopped-ok"] + counts["stopped-failed"];
  if (input.terminating && counts.running === 0 && counts.waiting === 0 && stopped > 0) return counts["stopped-failed"] === 0 ? "Succeeded" : "Failed";
  if (counts.waiting > 0) return "Pending";
  if (counts.running > 0) return "Running";
  if (stopped > 0) {
    if (policy === "Always") return "Running";
    if (counts["stopped-failed"] === 0) {
      // A stopped-ok container under OnFailure/Never only counts once its process is gone for good.
      return "Succeeded";
    }
    return policy === "Never" ? "Failed" : "Running";
  }
  return "Pending";
}

function names(views: readonly ContainerView[]): string {
  return `[${views.map((v) => v.name).join(" ")}]`;
}

export function buildPodStatus(input: PodStatusInput): PodStatusOut {
  const { pod, now, sandbox } = input;
  const prevConditions = new Map((pod.status?.conditions ?? []).map((c) => [c.type, c]));
  const generation = pod.metadata?.generation;
  const condition = (type: string, ok: boolean, reason?: string, message?: string): PodConditionOut => {
    const status = ok ? "True" : "False";
    const prev = prevConditions.get(type);
    const since = prev && prev.status === status && prev.lastTransitionTime ? iso(prev.lastTransitionTime) : iso(now);
    return {
      type,
      status,
      lastProbeTime: null,
      lastTransitionTime: since ?? "",
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
  };

  const phase = podPhase(input);
  const terminal = phase === "Succeeded" || phase === "Failed";
  const pendingInit = input.initContainers.filter((c) => !initDone(c));
  const initialized = pendingInit.length === 0;

  const initStatuses = input.initContainers.map((c) => containerStatus(c, sandbox.ready ? "PodInitializing" : "ContainerCreating"));
  const statuses = input.containers.map((c) => containerStatus(c, !sandbox.ready ? "ContainerCreating" : initialized ? "ContainerCreating" : "PodInitializing"));
  const unready = input.containers.filter((c, i) => !statuses[i]?.ready);
  const containersReady = unready.length === 0 && input.containers.length > 0;

  const gates = (pod.spec?.readinessGates ?? []).map((g) => g.conditionType);
  const failedGate = gates.find((g) => prevConditions.get(g)?.status !== "True");

  const conditions: PodConditionOut[] = [];
  const scheduled: V1PodCondition | undefined = prevConditions.get("PodScheduled");
  conditions.push(
    condition(
      "PodReadyToStartContainers",
      sandbox.ready && !(terminal && input.terminating),
      sandbox.ready ? undefined : sandbox.reason,
      sandbox.ready ? undefined : sandbox.message,
    ),
  );
  conditions.push(
    initialized
      ? condition("Initialized", true, terminal && input.initContainers.length > 0 ? "PodCompleted" : undefined)
      : condition("Initialized", false, "ContainersNotInitialized", `containers with incomplete status: ${names(pendingInit)}`),
  );
  const notReadyReason = terminal ? "PodCompleted" : "ContainersNotReady";
  const notReadyMessage = terminal ? undefined : `containers with unready status: ${names(unready)}`;
  conditions.push(containersReady ? condition("ContainersReady", true) : condition("ContainersReady", false, notReadyReason, notReadyMessage));
  if (!containersReady) conditions.push(condition("Ready", false, notReadyReason, notReadyMessage));
  else if (failedGate !== undefined) {
    const gateStatus = prevConditions.get(failedGate)?.status;
    conditions.push(
      condition(
        "Ready",
        false,
        "ReadinessGatesNotReady",
        gateStatus === undefined
          ? `corresponding condition of pod readiness gate "${failedGate}" does not exist.`
          : `the status of pod readiness gate "${failedGate}" is not "True", but ${gateStatus}`,
      ),
    );
  } else conditions.push(condition("Ready", true));
  conditions.push(
    scheduled?.status === "True"
      ? {
          type: "PodScheduled",
          status: "True",
          lastProbeTime: null,
          lastTransitionTime: iso(scheduled.lastTransitionTime) ?? iso(now) ?? "",
          ...(scheduled.observedGeneration !== undefined ? { observedGeneration: scheduled.observedGeneration } : {}),
        }
      : condition("PodScheduled", true),
  );

  // A pod keeps its IP in status after its sandbox is gone (terminal pods), like the kubelet.
  const prevIPs = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => typeof ip === "string" && ip.length > 0);
  const ips = sandbox.podIPs.length > 0 ? sandbox.podIPs : prevIPs;
  const startTime = iso(pod.status?.startTime) ?? iso(now) ?? "";

  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    phase,
    conditions,
    hostIP: input.nodeIP,
    hostIPs: [{ ip: input.nodeIP }],
    ...(ips.length > 0 ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
    startTime,
    ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses: statuses,
  };
}
