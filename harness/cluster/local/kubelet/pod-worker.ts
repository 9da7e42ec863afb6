// One worker per Pod bound to this node: drives it from "seen" to "running" (sandbox, init
// containers, containers), reports its status, and takes it down again on deletion. Syncs are
// serialized per pod and coalesced: any number of triggers while a sync runs cause one more sync.
import type { CoreV1Api, V1Container, V1Pod } from "@kubernetes/client-node";
import { Backoff } from "./backoff.js";
import type { NetworkConfigStatus } from "./cni/config.js";
import type { KubeletConfig } from "./config.js";
import { expandArgv, referencedConfigMaps, resolveEnv } from "./env.js";
import type { EventRecorder, EventType } from "./events.js";
import { containerArgv, resolveImage } from "./images.js";
import { apiMessage, apiStatus, strategicMerge } from "./kube.js";
import { errorMessage } from "./log.js";
import type { Logger } from "./log.js";
import { podPaths } from "./paths.js";
import type { PodKey } from "./paths.js";
import { ContainerRunner, killRecordedProcesses } from "./runtime/container.js";
import type { ContainerLaunchSpec, RestartPolicy } from "./runtime/container.js";
import type { SandboxManager } from "./sandbox.js";
import { buildPodStatus } from "./status.js";
import { containerMounts } from "./volumes/container-mounts.js";
import { PodVolumes } from "./volumes/pod-volumes.js";
import type { ContainerView, PodStatusOut, SandboxView } from "./status.js";

export interface PodWorkerDeps {
  readonly cfg: KubeletConfig;
  readonly core: CoreV1Api;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly sandboxes: SandboxManager;
  /** The CNI config currently in force (the node agent polls the config dir). */
  readonly network: () => NetworkConfigStatus;
  /** The API server as pods should reach it (KUBERNETES_SERVICE_HOST/PORT). */
  readonly apiServer?: { readonly host: string; readonly port: string } | undefined;
}

/** hostPath mapping of a node: the configured entries plus its CNI dirs (volumes/host-path.ts). */
export function hostPathTable(cfg: KubeletConfig): { mapped: Record<string, string>; nodeRoot: string } {
  return { mapped: { "/etc/cni/net.d": cfg.cniConfDir, "/opt/cni/bin": cfg.cniBinDir, ...cfg.hostPaths }, nodeRoot: `${cfg.stateDir}/rootfs` };
}

type Lifecycle = "active" | "terminating" | "finalized" | "gone" | "removed";

/** Condition types the kubelet owns; others (readiness gates, DisruptionTarget) belong to other writers. */
const OWNED_CONDITIONS = new Set(["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"]);
const STATUS_RETRY_MS = 2000;

type Plan = { readonly spec: ContainerLaunchSpec } | { readonly blocked: { readonly reason: string; readonly message: string } };

export class PodWorker {
  readonly key: PodKey;
  private readonly podDir: string;
  private pod: V1Pod;
  private lifecycle: Lifecycle = "active";
  private sandbox: SandboxView = { ready: false, podIPs: [] };
  private sandboxTornDown = false;
  private readonly sandboxBackoff: Backoff;
  private sandboxRetryAt = 0;
  private readonly runners = new Map<string, ContainerRunner>();
  private readonly blocked = new Map<string, { reason: string; message: string }>();
  private lastWritten = "";
  private lastWrittenStatus: PodStatusOut | undefined;
  private syncing = false;
  private pending = false;
  private firstSync = true;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly volumes: PodVolumes;
  private volumesReady = false;
  private readonly volumeBackoff = new Backoff({ initialMs: 1000, maxMs: 30_000 });
  private volumeRetryAt = 0;
  /** ConfigMaps the containers' env refers to, read before the containers start (null: absent). */
  private readonly envConfigMaps = new Map<string, Readonly<Record<string, string>> | null>();

  constructor(
    pod: V1Pod,
    private readonly deps: PodWorkerDeps,
    private readonly onRemoved: (w: PodWorker) => void,
  ) {
    this.pod = pod;
    this.key = { namespace: pod.metadata?.namespace ?? "", name: pod.metadata?.name ?? "", uid: pod.metadata?.uid ?? "" };
    this.podDir = podPaths.dir(deps.cfg.stateDir, this.key);
    const b = deps.cfg.sandboxRetryBackoff;
    this.sandboxBackoff = new Backoff({ initialMs: b.initialSeconds * 1000, maxMs: b.maxSeconds * 1000 });
    this.volumes = new PodVolumes(this.podDir, { core: deps.core, log: deps.log, hostPaths: hostPathTable(deps.cfg), nodeName: deps.cfg.nodeName, nodeIP: deps.cfg.nodeIP });
  }

  private get hostNetwork(): boolean {
    return this.pod.spec?.hostNetwork === true;
  }

  private get display(): string {
    return `${this.key.namespace}/${this.key.name}`;
  }

  update(pod: V1Pod): void {
    if (this.lifecycle === "removed") return;
    this.pod = pod;
    this.kick();
  }

  /** The Pod is no longer in the API (deleted, or force-deleted): stop everything and forget it. */
  markGone(lastSeen?: V1Pod): void {
    if (lastSeen) this.pod = lastSeen;
    if (this.lifecycle !== "removed") this.lifecycle = "gone";
    this.kick();
  }

  kick(): void {
    if (this.lifecycle === "removed") return;
    if (this.syncing) {
      this.pending = true;
      return;
    }
    this.syncing = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    do {
      this.pending = false;
      try {
        await this.sync();
      } catch (err) {
        this.deps.log.error("pod sync failed", { pod: this.display, error: errorMessage(err) });
      }
      // A sync that re-triggers itself without real I/O would otherwise spin on microtasks and
      // starve every socket and timer of the process.
      if (this.pending) await new Promise((r) => setImmediate(r));
    } while (this.pending && this.lifecycle !== "removed");
    this.syncing = false;
  }

  private later(ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.kick();
    }, ms);
    this.timers.add(t);
  }

  private event(type: EventType, reason: string, message: string, container?: string): void {
    this.deps.events.emit(
      {
        kind: "Pod",
        namespace: this.key.namespace,
        name: this.key.name,
        uid: this.key.uid,
        ...(container ? { fieldPath: `spec.containers{${container}}` } : {}),
      },
      type,
      reason,
      message,
    );
  }

  private async sync(): Promise<void> {
    if (this.firstSync) {
      this.firstSync = false;
      // Processes of a previous kubelet run (pdeathsig normally took them already).
      const killed = killRecordedProcesses(this.podDir);
      if (killed > 0) this.deps.log.info("killed processes left by a previous kubelet run", { pod: this.display, count: killed });
    }
    switch (this.lifecycle) {
      case "removed":
      case "finalized":
        return;
      case "gone":
        await this.stopAll(this.graceSeconds(0));
        await this.tearDownSandbox();
        this.volumes.remove();
        this.lifecycle = "removed";
        for (const t of this.timers) clearTimeout(t);
        this.deps.log.info("pod removed", { pod: this.display, uid: this.key.uid });
        this.onRemoved(this);
        return;
      default:
    }
    if (this.pod.metadata?.deletionTimestamp) {
      await this.terminate();
      return;
    }
    if (this.terminalPhase()) {
      if ([...this.runners.values()].some((r) => !r.snapshot().final)) await this.stopAll(0);
      await this.tearDownSandbox();
      this.volumes.remove();
      return;
    }
    await this.ensureSandbox();
    if (this.sandbox.ready && (await this.ensureVolumes())) this.ensureContainers();
    const status = this.buildStatus(false);
    await this.writeStatus(status);
    if (status.phase === "Succeeded" || status.phase === "Failed") {
      this.deps.log.info("pod finished", { pod: this.display, phase: status.phase });
      await this.tearDownSandbox();
      await this.writeStatus(this.buildStatus(false));
    }
  }

  private terminalPhase(): boolean {
    const p = this.lastWrittenStatus?.phase ?? this.pod.status?.phase;
    const api = this.pod.status?.phase;
    return p === "Succeeded" || p === "Failed" || api === "Succeeded" || api === "Failed";
  }

  private graceSeconds(fallback: number): number {
    const m = this.pod.metadata?.deletionGracePeriodSeconds;
    if (typeof m === "number") return m;
    return fallback;
  }

  // ---- sandbox -------------------------------------------------------------------------------

  private async ensureSandbox(): Promise<void> {
    if (this.sandbox.ready) return;
    if (this.hostNetwork) {
      this.sandbox = { ready: true, podIPs: [this.deps.cfg.nodeIP] };
      return;
    }
    const now = Date.now();
    if (now < this.sandboxRetryAt) return;
    const net = this.deps.network();
    if (!net.ok) {
      if (this.sandbox.reason !== "NetworkPluginNotReady") this.event("Warning", "NetworkNotReady", `network is not ready: ${net.message}`);
      this.sandbox = { ready: false, podIPs: [], reason: "NetworkPluginNotReady", message: net.message };
      return;
    }
    try {
      const up = await this.deps.sandboxes.setUp(this.key, net.config);
      this.sandbox = { ready: true, podIPs: up.podIPs };
      this.sandboxTornDown = false;
      this.sandboxBackoff.reset();
      this.deps.log.info(up.adopted ? "adopted existing pod sandbox" : "pod sandbox ready", {
        pod: this.display,
        ips: up.podIPs.join(","),
        netns: this.deps.sandboxes.netnsName(this.key),
        network: net.config.name,
      });
    } catch (err) {
      const delay = this.sandboxBackoff.next();
      this.sandboxRetryAt = now + delay;
      this.later(delay);
      const message = errorMessage(err);
      this.sandbox = { ready: false, podIPs: [], reason: "FailedCreatePodSandBox", message };
      this.deps.log.warn("pod sandbox setup failed", { pod: this.display, retryInMs: delay, error: message });
      this.event("Warning", "FailedCreatePodSandBox", `Failed to create pod sandbox: ${message}`);
    }
  }

  // ---- volumes -------------------------------------------------------------------------------

  /**
   * Volumes and the ConfigMaps env refers to, before any container starts. Until they are all
   * there every container waits in ContainerCreating and a FailedMount event says why.
   */
  private async ensureVolumes(): Promise<boolean> {
    if (this.volumesReady) return true;
    const now = Date.now();
    if (now < this.volumeRetryAt) return false;
    try {
      await this.volumes.prepare(this.pod);
      await this.readEnvConfigMaps();
      this.volumesReady = true;
      for (const [name, b] of this.blocked) if (b.reason === "ContainerCreating") this.blocked.delete(name);
      return true;
    } catch (err) {
      const delay = this.volumeBackoff.next();
      this.volumeRetryAt = now + delay;
      this.later(delay);
      const message = errorMessage(err);
      const first = ![...this.blocked.values()].some((b) => b.message === message);
      for (const c of [...(this.pod.spec?.initContainers ?? []), ...(this.pod.spec?.containers ?? [])]) this.blocked.set(c.name, { reason: "ContainerCreating", message });
      if (first) {
        this.deps.log.warn("pod volumes not ready", { pod: this.display, retryInMs: delay, error: message });
        this.event("Warning", "FailedMount", message);
      }
      return false;
    }
  }

  private async readEnvConfigMaps(): Promise<void> {
    const names = new Set([...(this.pod.spec?.initContainers ?? []), ...(this.pod.spec?.containers ?? [])].flatMap((c) => referencedConfigMaps(c)));
    for (const name of names) {
      if (this.envConfigMaps.has(name)) continue;
      try {
        const cm = await this.deps.core.readNamespacedConfigMap({ name, namespace: this.key.namespace });
        this.envConfigMaps.set(name, cm.data ?? {});
      } catch (err) {
        if (apiStatus(err) !== 404) throw new Error(`configmap "${name}" cannot be read: ${apiMessage(err)}`, { cause: err });
        this.envConfigMaps.set(name, null);
      }
    }
  }

  private async tearDownSandbox(): Promise<void> {
    if (this.sandboxTornDown || this.hostNetwork) return;
    await this.deps.sandboxes.tearDown(this.key);
    this.sandboxTornDown = true;
    this.sandbox = { ready: false, podIPs: this.sandbox.podIPs };
  }

  // ---- containers ----------------------------------------------------------------------------

  private ensureContainers(): void {
    const spec = this.pod.spec;
    if (!spec) return;
    for (const c of spec.initContainers ?? []) {
      const sidecar = c.restartPolicy === "Always";
      const r = this.ensureRunner(c, "init", sidecar);
      if (!r) return;
      const s = r.snapshot();
      const done = sidecar ? s.started : s.state.kind === "terminated" && s.state.exitCode === 0;
      if (!done) return;
    }
    for (const c of spec.containers) this.ensureRunner(c, "app", false);
  }

  private ensureRunner(c: V1Container, kind: "init" | "app", sidecar: boolean): ContainerRunner | undefined {
    const existing = this.runners.get(c.name);
    if (existing) return existing;
    const plan = this.plan(c, kind, sidecar);
    if ("blocked" in plan) {
      const prev = this.blocked.get(c.name);
      if (!prev || prev.message !== plan.blocked.message) {
        this.event("Warning", plan.blocked.reason === "ImageNotRunnableLocally" ? "Failed" : plan.blocked.reason, plan.blocked.message, c.name);
        this.deps.log.warn("container cannot be created", { pod: this.display, container: c.name, reason: plan.blocked.reason, message: plan.blocked.message });
      }
      this.blocked.set(c.name, plan.blocked);
      return undefined;
    }
    this.blocked.delete(c.name);
    const rb = this.deps.cfg.restartBackoff;
    const runner = new ContainerRunner(
      plan.spec,
      {
        backoff: new Backoff({ initialMs: rb.initialSeconds * 1000, maxMs: rb.maxSeconds * 1000, immediateFirst: true }),
        initialRestartCount: this.previousRestartCount(c.name, kind),
        podDisplayName: `${this.key.name}_${this.key.namespace}(${this.key.uid})`,
      },
      {
        onChange: () => this.kick(),
        onEvent: (type, reason, message) => this.event(type, reason, message, c.name),
      },
    );
    this.runners.set(c.name, runner);
    this.deps.log.info("starting container", { pod: this.display, container: c.name, argv: plan.spec.argv.join(" ") });
    runner.start();
    return runner;
  }

  /**
   * A container that ran under a previous kubelet run (its status has a container ID) is being
   * restarted now, so its count continues from there.
   */
  private previousRestartCount(name: string, kind: "init" | "app"): number {
    const list = kind === "init" ? this.pod.status?.initContainerStatuses : this.pod.status?.containerStatuses;
    const prev = list?.find((s) => s.name === name);
    if (!prev) return 0;
    return prev.restartCount + (prev.containerID ? 1 : 0);
  }

  private plan(c: V1Container, kind: "init" | "app", sidecar: boolean): Plan {
    const cfg = this.deps.cfg;
    const image = resolveImage(c.image ?? "", cfg.repoRoot);
    if (!image.ok) return { blocked: { reason: image.reason, message: image.message } };
    const workDir = podPaths.containerWorkDir(this.podDir, c.name);
    const env = resolveEnv(c, {
      pod: this.pod,
      nodeName: cfg.nodeName,
      nodeIP: cfg.nodeIP,
      podIPs: this.sandbox.podIPs,
      apiServer: this.deps.apiServer,
      base: { PATH: process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin" },
      workDir,
      configMaps: this.envConfigMaps,
    });
    if (!env.ok) return { blocked: { reason: env.reason, message: env.message } };
    const mounts = containerMounts(c, (v) => this.volumes.pathOf(v));
    if (!mounts.ok) return { blocked: { reason: "CreateContainerConfigError", message: mounts.message } };
    const command = c.command ? expandArgv(c.command, env.env) : undefined;
    const args = c.args ? expandArgv(c.args, env.env) : undefined;
    const podPolicy = (this.pod.spec?.restartPolicy ?? "Always") as RestartPolicy;
    const restartPolicy: RestartPolicy = kind === "app" ? podPolicy : sidecar ? "Always" : podPolicy === "Never" ? "Never" : "OnFailure";
    return {
      spec: {
        name: c.name,
        image: c.image ?? "",
        argv: containerArgv(image, command, args),
        env: env.env,
        workDir,
        logPath: podPaths.containerLog(this.podDir, c.name),
        pidPath: podPaths.containerPidFile(this.podDir, c.name),
        netns: this.hostNetwork ? null : this.deps.sandboxes.netnsName(this.key),
        readiness: image.readiness,
        restartPolicy,
        mounts: mounts.mounts,
      },
    };
  }

  /** Regular containers first, then init/sidecar containers, all within one grace period. */
  private async stopAll(graceSeconds: number): Promise<void> {
    const deadline = Date.now() + graceSeconds * 1000;
    const appNames = new Set((this.pod.spec?.containers ?? []).map((c) => c.name));
    const running = [...this.runners.entries()];
    await Promise.all(running.filter(([n]) => appNames.has(n)).map(([, r]) => r.stop(Math.max(0, deadline - Date.now()))));
    await Promise.all(running.filter(([n]) => !appNames.has(n)).map(([, r]) => r.stop(Math.max(0, deadline - Date.now()))));
  }

  /** The kubelet is shutting down: stop processes, leave the API and the sandbox alone. */
  async shutdown(graceMs: number): Promise<void> {
    this.lifecycle = "removed";
    this.volumes.stop();
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([...this.runners.values()].map((r) => r.stop(graceMs)));
  }

  // ---- deletion ------------------------------------------------------------------------------

  private async terminate(): Promise<void> {
    const first = this.lifecycle === "active";
    this.lifecycle = "terminating";
    for (const t of this.timers) clearTimeout(t);
    const grace = this.graceSeconds(this.pod.spec?.terminationGracePeriodSeconds ?? 30);
    if (first) this.deps.log.info("pod deleted; stopping containers", { pod: this.display, graceSeconds: grace });
    await this.stopAll(grace);
    this.volumes.remove();
    try {
      await this.writeStatus(this.buildStatus(true));
    } catch {
      // best effort: the object is about to go
    }
    await this.tearDownSandbox();
    try {
      await this.deps.core.deleteNamespacedPod({
        name: this.key.name,
        namespace: this.key.namespace,
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: this.key.uid } },
      });
    } catch (err) {
      const code = apiStatus(err);
      // 404: already gone; 409: the name now belongs to a newer pod (UID precondition held).
      if (code !== 404 && code !== 409) {
        this.later(STATUS_RETRY_MS);
        throw new Error(`deleting pod ${this.display} failed: ${apiMessage(err)}`);
      }
    }
    this.lifecycle = "finalized";
    this.deps.log.info("pod finalized", { pod: this.display });
  }

  // ---- status --------------------------------------------------------------------------------

  private buildStatus(terminating: boolean): PodStatusOut {
    const spec = this.pod.spec;
    const view = (c: V1Container, sidecar = false): ContainerView => {
      const snapshot = this.runners.get(c.name)?.snapshot();
      const blocked = this.blocked.get(c.name);
      return { name: c.name, image: c.image ?? "", ...(snapshot ? { snapshot } : {}), ...(blocked ? { blocked } : {}), ...(sidecar ? { sidecar } : {}) };
    };
    // Base transition times on what we last wrote, not on a watch event that may lag behind it.
    const api = this.pod.status ?? {};
    const written = this.lastWrittenStatus;
    const prevStatus = written
      ? {
          ...api,
          conditions: [...(api.conditions ?? []).filter((c) => !OWNED_CONDITIONS.has(c.type)), ...(written.conditions as unknown as NonNullable<typeof api.conditions>)],
          startTime: (api.startTime ?? written.startTime) as Date,
          podIPs: api.podIPs ?? written.podIPs,
        }
      : api;
    return buildPodStatus({
      pod: { ...this.pod, status: prevStatus },
      nodeIP: this.deps.cfg.nodeIP,
      now: new Date(),
      sandbox: this.sandbox,
      initContainers: (spec?.initContainers ?? []).map((c) => view(c, c.restartPolicy === "Always")),
      containers: (spec?.containers ?? []).map((c) => view(c)),
      terminating,
    });
  }

  private async writeStatus(status: PodStatusOut): Promise<void> {
    const json = JSON.stringify(status);
    if (json === this.lastWritten) return;
    try {
      await this.deps.core.patchNamespacedPodStatus(
        { name: this.key.name, namespace: this.key.namespace, body: { metadata: { uid: this.key.uid }, status: patchableStatus(status) } },
        strategicMerge,
      );
      this.lastWritten = json;
      this.lastWrittenStatus = status;
    } catch (err) {
      const code = apiStatus(err);
      if (code === 404 || code === 409) return; // gone, or the name belongs to a newer pod: the watch will tell
      this.deps.log.warn("pod status update failed; retrying", { pod: this.display, error: apiMessage(err) });
      this.later(STATUS_RETRY_MS);
    }
  }
}

/**
 * Conditions are merged by type in a strategic merge patch, field by field: a reason or message
 * we no longer send would survive from the previous write. Explicit nulls delete them.
 */
export function patchableStatus(status: PodStatusOut): Record<string, unknown> {
  return { ...status, conditions: status.conditions.map((c) => ({ reason: null, message: null, ...c })) };
}
