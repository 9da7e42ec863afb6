/**
 * Putting the plugin where a kubelet finds it:
 *
 * - `installCniPlugin(binDir)`: the kubelet execs `<CNI_PATH dir>/<type>`, so the plugin binary
 *   (agent/cni/plugin, Go, built by setup.sh) is copied there as `conform-cni`, as Cilium's agent
 *   installs its own.
 * - `conformConflist(...)` / `writeConflist(confDir, ...)`: the network configuration. The
 *   kubelet (and containerd) use the lexically first file of the config dir, hence `05-`.
 *
 * Both writes are atomic (temp file + rename): a kubelet polling the directory never reads half
 * a file, and its appearance is the signal that the node's network is ready.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PLUGIN_TYPE } from "./wire.js";

/** The plugin binary setup.sh builds (dist/agent/cni/ → agent/cni/plugin/build/ of the checkout). */
export const PLUGIN_BINARY = fileURLToPath(new URL("../../../agent/cni/plugin/build/conform-cni", import.meta.url));
export const CONFLIST_FILE = "05-conform.conflist";

function writeAtomically(path: string, content: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export interface InstallOptions {
  /** The plugin binary (default: PLUGIN_BINARY of this checkout). */
  readonly pluginPath?: string;
  /** File name; must equal the conflist's plugin `type` (default "conform-cni"). */
  readonly name?: string;
}

/** Copies the plugin binary to `<binDir>/conform-cni` (atomically: a kubelet may exec it at any moment); returns its path. */
export function installCniPlugin(binDir: string, opts: InstallOptions = {}): string {
  const source = resolve(opts.pluginPath ?? PLUGIN_BINARY);
  if (!existsSync(source)) throw new Error(`the CNI plugin binary ${source} is missing: run ./setup.sh to build it`);
  const path = join(binDir, opts.name ?? PLUGIN_TYPE);
  mkdirSync(binDir, { recursive: true });
  const tmp = join(binDir, `.${process.pid}.${Date.now()}.tmp`);
  copyFileSync(source, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, path);
  return path;
}

export interface ConflistOptions {
  /** The agent's CNI socket. */
  readonly socketPath: string;
  /** Where the plugin queues DELs while the agent is down (default: `<socket dir>/delete-queue`). */
  readonly deleteQueueDir?: string;
  /** Network name (default "conform"). */
  readonly name?: string;
  readonly timeoutSeconds?: number;
}

export function conformConflist(opts: ConflistOptions): { cniVersion: "1.0.0"; name: string; plugins: Record<string, unknown>[] } {
  return {
    cniVersion: "1.0.0",
    name: opts.name ?? "conform",
    plugins: [
      {
        type: PLUGIN_TYPE,
        socketPath: opts.socketPath,
        deleteQueueDir: opts.deleteQueueDir ?? join(dirname(opts.socketPath), "delete-queue"),
        ...(opts.timeoutSeconds !== undefined ? { timeoutSeconds: opts.timeoutSeconds } : {}),
      },
    ],
  };
}

/** Writes `<confDir>/05-conform.conflist`; returns its path. */
export function writeConflist(confDir: string, opts: ConflistOptions, fileName = CONFLIST_FILE): string {
  const path = join(confDir, fileName);
  writeAtomically(path, JSON.stringify(conformConflist(opts), null, 2) + "\n", 0o644);
  return path;
}
