// Watches the Pods bound to this node (list+watch with `spec.nodeName=<node>`, reconnecting on
// errors, periodic resync) and keeps one PodWorker per pod UID. On start it cleans up after the
// previous kubelet run: sandboxes of pods no longer in the API are torn down.
import { ListWatch, Watch } from "@kubernetes/client-node";
import type { CoreV1Api, KubeConfig, V1Pod } from "@kubernetes/client-node";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Backoff } from "./backoff.js";
import { apiMessage } from "./kube.js";
import { errorMessage } from "./log.js";
import type { Logger } from "./log.js";
import { podPaths } from "./paths.js";
import { killRecordedProcesses } from "./runtime/container.js";
import { PodWorker } from "./pod-worker.js";
import type { PodWorkerDeps } from "./pod-worker.js";

export class PodManager {
  private readonly workers = new Map<string, PodWorker>();
  private informer: ListWatch<V1Pod> | undefined;
  private readonly reconnect = new Backoff({ initialMs: 500, maxMs: 30_000 });
  private reconnectTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly core: CoreV1Api,
    private readonly deps: PodWorkerDeps,
  ) {}

  private get log(): Logger {
    return this.deps.log;
  }

  /** Starts watching; resolves once the first list has been processed and leftovers handled. */
  async start(): Promise<void> {
    const fieldSelector = `spec.nodeName=${this.deps.cfg.nodeName}`;
    const informer = new ListWatch<V1Pod>(
      "/api/v1/pods",
      new Watch(this.kc),
      () => this.core.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    this.informer = informer;
    informer.on("add", (p) => this.upsert(p));
    informer.on("update", (p) => this.upsert(p));
    informer.on("delete", (p) => this.gone(p));
    let rvAtLastError = "";
    informer.on("error", (err: unknown) => {
      // ListWatch stops on errors other than watch timeouts and 410 Gone; restart it ourselves.
      if (this.stopped || this.reconnectTimer) return;
      // Progress since the last failure (a newer resourceVersion) means the back-off starts over.
      if (informer.latestResourceVersion() !== rvAtLastError) this.reconnect.reset();
      rvAtLastError = informer.latestResourceVersion();
      const delay = Math.max(this.reconnect.next(), 500);
      this.log.warn("pod watch failed; reconnecting", { error: apiMessage(err), retryInMs: delay });
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        if (!this.stopped) void informer.start();
      }, delay);
    });
    await informer.start();
    // A failed first list leaves no resourceVersion; the error handler above keeps retrying.
    while (!informer.latestResourceVersion() && !this.stopped) await new Promise((r) => setTimeout(r, 200));
    this.log.info("pod informer synced", { pods: informer.list().length });
    await this.cleanUpLeftovers(new Set(informer.list().map((p) => p.metadata?.uid ?? "")));
    this.resyncTimer = setInterval(() => this.resync(), this.deps.cfg.resyncSeconds * 1000);
  }

  /** Re-runs every pod's sync (timers, missed events) and reconciles workers with the cache. */
  resync(): void {
    const informer = this.informer;
    if (!informer) return;
    const cached = new Map(informer.list().map((p) => [p.metadata?.uid ?? "", p]));
    for (const [uid, pod] of cached) if (!this.workers.has(uid)) this.upsert(pod);
    for (const [uid, w] of this.workers) {
      // Only trust absence from the cache while the informer is connected and synced.
      if (!cached.has(uid) && informer.latestResourceVersion()) w.markGone();
      else w.kick();
    }
  }

  /** Wakes every worker (e.g. the network became ready). */
  kickAll(): void {
    for (const w of this.workers.values()) w.kick();
  }

  private upsert(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || pod.spec?.nodeName !== this.deps.cfg.nodeName || this.stopped) return;
    let w = this.workers.get(uid);
    if (!w) {
      w = new PodWorker(pod, this.deps, (done) => {
        if (this.workers.get(done.key.uid) === done) this.workers.delete(done.key.uid);
      });
      this.workers.set(uid, w);
      this.log.info("pod bound to node", { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, uid });
    }
    w.update(pod);
  }

  private gone(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    this.workers.get(uid)?.markGone(pod);
  }

  /**
   * Pods this node ran before (a pod dir with a sandbox record) that the API no longer has:
   * kill their processes, CNI DEL, delete their netns.
   */
  private async cleanUpLeftovers(known: ReadonlySet<string>): Promise<void> {
    let dirs: string[];
    try {
      dirs = readdirSync(podPaths.root(this.deps.cfg.stateDir));
    } catch {
      return;
    }
    for (const d of dirs) {
      const key = podPaths.parseDirName(d);
      if (!key || known.has(key.uid)) continue;
      const dir = join(podPaths.root(this.deps.cfg.stateDir), d);
      const killed = killRecordedProcesses(dir);
      // Tokens and secrets of a pod that is gone must not stay on disk.
      rmSync(join(dir, "volumes"), { recursive: true, force: true });
      const rec = this.deps.sandboxes.read(dir);
      if (!rec || rec.tornDown) {
        if (killed > 0) this.log.info("killed leftover processes", { pod: `${key.namespace}/${key.name}`, count: killed });
        continue;
      }
      try {
        await this.deps.sandboxes.tearDown(key);
        this.log.info("cleaned up sandbox of a pod that no longer exists", { pod: `${key.namespace}/${key.name}`, uid: key.uid, netns: rec.netns });
      } catch (err) {
        this.log.warn("could not clean up leftover sandbox", { pod: `${key.namespace}/${key.name}`, error: errorMessage(err) });
      }
    }
  }

  /** Kubelet shutdown: stop watching and stop every container (sandboxes stay for adoption). */
  async shutdown(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.informer?.stop();
    await Promise.all([...this.workers.values()].map((w) => w.shutdown(graceMs)));
  }
}
