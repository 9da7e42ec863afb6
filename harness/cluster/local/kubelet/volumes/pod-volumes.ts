// A pod's volumes on the local cluster: what each volume's files are and where they live, so the
// container runtime can bind them at each container's mountPath (runtime/mounts.ts).
//
// - hostPath: the node path, mapped per node (host-path.ts), created for DirectoryOrCreate/FileOrCreate.
// - emptyDir: a directory in the pod dir.
// - configMap / secret / downwardAPI / projected: files written into the pod dir; projected
//   serviceAccountToken sources are TokenRequests bound to the pod (the Node authorizer allows a
//   kubelet exactly that for its own pods), renewed by 80% of their lifetime (token-timing.ts).
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CoreV1Api, V1ConfigMap, V1KeyToPath, V1Pod, V1Secret, V1Volume, V1VolumeProjection } from "@kubernetes/client-node";
import { fieldRefValue } from "../env.js";
import { apiMessage, apiStatus } from "../kube.js";
import type { Logger } from "../log.js";
import { syncVolumeFiles } from "./files.js";
import type { VolumeFile } from "./files.js";
import { mapHostPath } from "./host-path.js";
import type { HostPathTable } from "./host-path.js";
import { tokenRefreshAt, tokenRetryDelayMs } from "./token-timing.js";

const DEFAULT_MODE = 0o644;
const DEFAULT_TOKEN_SECONDS = 3600;

export interface PodVolumeDeps {
  readonly core: CoreV1Api;
  readonly log: Logger;
  readonly hostPaths: HostPathTable;
  readonly nodeName: string;
  readonly nodeIP: string;
  /** Clock for token renewal (tests). */
  readonly now?: () => Date;
}

export class VolumeError extends Error {
  override name = "VolumeError";
}

interface TokenSource {
  readonly volume: string;
  readonly dir: string;
  readonly path: string;
  readonly mode: number;
  readonly audience?: string;
  readonly expirationSeconds: number;
}

/** Volumes of one pod: prepared once (retried until they all are), tokens kept fresh until stop(). */
export class PodVolumes {
  private readonly paths = new Map<string, string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Other files of a projected volume, rewritten with each new token so the dir stays complete. */
  private readonly staticFiles = new Map<string, VolumeFile[]>();
  /** The current token files of each projected volume, by path. */
  private readonly tokenFiles = new Map<string, Map<string, VolumeFile>>();
  private stopped = false;

  constructor(
    private readonly podDir: string,
    private readonly deps: PodVolumeDeps,
  ) {}

  get volumesDir(): string {
    return join(this.podDir, "volumes");
  }

  /** Where volume `name` is on this machine, once prepared. */
  pathOf(name: string): string | undefined {
    return this.paths.get(name);
  }

  /** Prepares every volume not yet prepared; throws VolumeError naming the first that fails. */
  async prepare(pod: V1Pod): Promise<void> {
    for (const v of pod.spec?.volumes ?? []) {
      if (this.paths.has(v.name)) continue;
      try {
        this.paths.set(v.name, await this.prepareOne(pod, v));
      } catch (err) {
        throw new VolumeError(`MountVolume.SetUp failed for volume "${v.name}": ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private async prepareOne(pod: V1Pod, v: V1Volume): Promise<string> {
    const ns = pod.metadata?.namespace ?? "";
    if (v.hostPath) return this.hostPath(v.hostPath.path, v.hostPath.type ?? "");
    if (v.emptyDir) {
      const dir = join(this.volumesDir, "empty-dir", v.name);
      mkdirSync(dir, { recursive: true });
      return dir;
    }
    if (v.configMap) {
      const dir = join(this.volumesDir, "configmap", v.name);
      const cm = await this.readConfigMap(ns, v.configMap.name ?? "", v.configMap.optional === true);
      syncVolumeFiles(dir, configMapFiles(cm, v.configMap.items, v.configMap.defaultMode ?? DEFAULT_MODE, v.configMap.optional === true));
      return dir;
    }
    if (v.secret) {
      const dir = join(this.volumesDir, "secret", v.name);
      const secret = await this.readSecret(ns, v.secret.secretName ?? "", v.secret.optional === true);
      syncVolumeFiles(dir, secretFiles(secret, v.secret.items, v.secret.defaultMode ?? DEFAULT_MODE, v.secret.optional === true));
      return dir;
    }
    if (v.downwardAPI) {
      const dir = join(this.volumesDir, "downward-api", v.name);
      syncVolumeFiles(dir, this.downwardFiles(pod, v.downwardAPI.items ?? [], v.downwardAPI.defaultMode ?? DEFAULT_MODE));
      return dir;
    }
    if (v.projected) {
      const dir = join(this.volumesDir, "projected", v.name);
      await this.projected(pod, v.name, dir, v.projected.sources ?? [], v.projected.defaultMode ?? DEFAULT_MODE);
      return dir;
    }
    const kind = Object.keys(v).find((k) => k !== "name") ?? "unknown";
    throw new Error(`volume type "${kind}" is not supported on the local cluster (hostPath, emptyDir, configMap, secret, downwardAPI, projected are)`);
  }

  private hostPath(path: string, type: string): string {
    const mapped = mapHostPath(path, this.deps.hostPaths);
    const p = mapped.path;
    switch (type) {
      case "DirectoryOrCreate":
        mkdirSync(p, { recursive: true, mode: 0o755 });
        break;
      case "FileOrCreate":
        if (!existsSync(p)) {
          mkdirSync(dirname(p), { recursive: true });
          writeFileSync(p, "", { mode: 0o644 });
        }
        break;
      case "Directory":
        if (!existsSync(p) || !statSync(p).isDirectory()) throw new Error(`hostPath type check failed: ${path} (here ${p}) is not a directory`);
        break;
      case "File":
        if (!existsSync(p) || !statSync(p).isFile()) throw new Error(`hostPath type check failed: ${path} (here ${p}) is not a file`);
        break;
      case "":
        // No check, as in Kubernetes; a per-node dir that does not exist yet is created like the
        // node's own empty filesystem would have it, a real path must exist to be bound.
        if (!existsSync(p)) {
          if (mapped.kind === "host") throw new Error(`hostPath ${path} does not exist`);
          mkdirSync(p, { recursive: true, mode: 0o755 });
        }
        break;
      default:
        if (!existsSync(p)) throw new Error(`hostPath ${path} (type ${type}) does not exist`);
    }
    return p;
  }

  private async projected(pod: V1Pod, volume: string, dir: string, sources: readonly V1VolumeProjection[], defaultMode: number): Promise<void> {
    const ns = pod.metadata?.namespace ?? "";
    const files: VolumeFile[] = [];
    const tokens: TokenSource[] = [];
    for (const s of sources) {
      if (s.configMap) {
        const cm = await this.readConfigMap(ns, s.configMap.name ?? "", s.configMap.optional === true);
        files.push(...configMapFiles(cm, s.configMap.items, defaultMode, s.configMap.optional === true));
      } else if (s.secret) {
        const secret = await this.readSecret(ns, s.secret.name ?? "", s.secret.optional === true);
        files.push(...secretFiles(secret, s.secret.items, defaultMode, s.secret.optional === true));
      } else if (s.downwardAPI) {
        files.push(...this.downwardFiles(pod, s.downwardAPI.items ?? [], defaultMode));
      } else if (s.serviceAccountToken) {
        tokens.push({
          volume: volume,
          dir,
          path: s.serviceAccountToken.path,
          mode: defaultMode,
          expirationSeconds: s.serviceAccountToken.expirationSeconds ?? DEFAULT_TOKEN_SECONDS,
          ...(s.serviceAccountToken.audience ? { audience: s.serviceAccountToken.audience } : {}),
        });
      } else {
        throw new Error(`projected source ${JSON.stringify(Object.keys(s))} is not supported on the local cluster`);
      }
    }
    const current = new Map<string, VolumeFile>();
    for (const t of tokens) current.set(t.path, await this.fetchToken(pod, t));
    this.staticFiles.set(volume, files);
    this.tokenFiles.set(volume, current);
    this.writeProjected(volume, dir);
  }

  /** One TokenRequest bound to the pod; schedules its renewal. */
  private async fetchToken(pod: V1Pod, t: TokenSource, attempt = 0): Promise<VolumeFile> {
    const now = this.deps.now ?? (() => new Date());
    const sa = pod.spec?.serviceAccountName ?? "default";
    const ns = pod.metadata?.namespace ?? "";
    let res;
    try {
      res = await this.deps.core.createNamespacedServiceAccountToken({
        name: sa,
        namespace: ns,
        body: {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: {
            audiences: t.audience ? [t.audience] : [],
            expirationSeconds: t.expirationSeconds,
            boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata?.name ?? "", uid: pod.metadata?.uid ?? "" },
          },
        },
      });
    } catch (err) {
      throw new Error(`requesting a token for service account ${ns}/${sa}: ${apiMessage(err)}`, { cause: err });
    }
    const token = res.status?.token ?? "";
    const expires = res.status?.expirationTimestamp ? new Date(res.status.expirationTimestamp) : new Date(now().getTime() + t.expirationSeconds * 1000);
    this.schedule(pod, t, tokenRefreshAt(now(), expires).getTime() - now().getTime(), expires, attempt);
    return { path: t.path, content: token, mode: t.mode };
  }

  private schedule(pod: V1Pod, t: TokenSource, delayMs: number, expires: Date, attempt: number): void {
    if (this.stopped) return;
    const key = `${t.volume}/${t.path}`;
    const old = this.timers.get(key);
    if (old) clearTimeout(old);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      void this.renew(pod, t, expires, attempt);
    }, Math.max(0, delayMs));
    timer.unref();
    this.timers.set(key, timer);
  }

  private async renew(pod: V1Pod, t: TokenSource, expires: Date, attempt: number): Promise<void> {
    if (this.stopped) return;
    try {
      const file = await this.fetchToken(pod, t);
      if (this.stopped) return;
      this.tokenFiles.get(t.volume)?.set(t.path, file);
      this.writeProjected(t.volume, t.dir);
      this.deps.log.info("service-account token renewed", { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, volume: t.volume });
    } catch (err) {
      const now = (this.deps.now ?? (() => new Date()))();
      const delay = tokenRetryDelayMs(now, expires, attempt);
      this.deps.log.warn("service-account token renewal failed; retrying", { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, retryInMs: Math.round(delay), error: err instanceof Error ? err.message : String(err) });
      this.schedule(pod, t, delay, expires, attempt + 1);
    }
  }

  private writeProjected(volume: string, dir: string): void {
    syncVolumeFiles(dir, [...(this.staticFiles.get(volume) ?? []), ...(this.tokenFiles.get(volume)?.values() ?? [])]);
  }

  private downwardFiles(pod: V1Pod, items: NonNullable<NonNullable<V1Volume["downwardAPI"]>["items"]>, defaultMode: number): VolumeFile[] {
    return items.map((item) => {
      if (!item.fieldRef) throw new Error(`downwardAPI item ${item.path}: only fieldRef is supported on the local cluster`);
      const r = fieldRefValue(item.fieldRef.fieldPath, { pod, nodeName: this.deps.nodeName, nodeIP: this.deps.nodeIP, podIPs: [] });
      if ("error" in r) throw new Error(`downwardAPI item ${item.path}: ${r.error}`);
      return { path: item.path, content: r.value, mode: item.mode ?? defaultMode };
    });
  }

  private async readConfigMap(namespace: string, name: string, optional: boolean): Promise<V1ConfigMap | undefined> {
    try {
      return await this.deps.core.readNamespacedConfigMap({ name, namespace });
    } catch (err) {
      if (apiStatus(err) === 404 && optional) return undefined;
      throw new Error(`configmap "${name}" ${apiStatus(err) === 404 ? "not found" : `cannot be read: ${apiMessage(err)}`}`, { cause: err });
    }
  }

  private async readSecret(namespace: string, name: string, optional: boolean): Promise<V1Secret | undefined> {
    try {
      return await this.deps.core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (apiStatus(err) === 404 && optional) return undefined;
      throw new Error(`secret "${name}" ${apiStatus(err) === 404 ? "not found" : `cannot be read: ${apiMessage(err)}`}`, { cause: err });
    }
  }

  /** Stops token renewal (pod gone, kubelet stopping). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Stops renewal and deletes the pod's volume files (tokens and secrets must not outlive the pod). */
  remove(): void {
    this.stop();
    rmSync(this.volumesDir, { recursive: true, force: true });
  }
}

function keyedFiles(data: Readonly<Record<string, string | Buffer>>, items: readonly V1KeyToPath[] | undefined, defaultMode: number, what: string, optional: boolean): VolumeFile[] {
  if (!items || items.length === 0) return Object.entries(data).map(([k, v]) => ({ path: k, content: v, mode: defaultMode }));
  const out: VolumeFile[] = [];
  for (const item of items) {
    const v = data[item.key];
    if (v === undefined) {
      if (optional) continue;
      throw new Error(`${what} has no key "${item.key}"`);
    }
    out.push({ path: item.path, content: v, mode: item.mode ?? defaultMode });
  }
  return out;
}

export function configMapFiles(cm: V1ConfigMap | undefined, items: readonly V1KeyToPath[] | undefined, defaultMode: number, optional: boolean): VolumeFile[] {
  if (!cm) return [];
  const data: Record<string, string | Buffer> = { ...(cm.data ?? {}) };
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) data[k] = Buffer.from(v, "base64");
  return keyedFiles(data, items, defaultMode, `configmap "${cm.metadata?.name ?? ""}"`, optional);
}

export function secretFiles(secret: V1Secret | undefined, items: readonly V1KeyToPath[] | undefined, defaultMode: number, optional: boolean): VolumeFile[] {
  if (!secret) return [];
  const data: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, "base64");
  for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = v;
  return keyedFiles(data, items, defaultMode, `secret "${secret.metadata?.name ?? ""}"`, optional);
}
