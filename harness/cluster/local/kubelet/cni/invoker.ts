// Runs CNI plugins per spec 1.0 ("Section 3/4"): one process per plugin, parameters in CNI_*
// environment variables, network config on stdin, result or error object on stdout. A conflist
// is walked in order for ADD/CHECK (chaining prevResult) and in reverse for DEL.
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { execCapture } from "../exec.js";
import { pluginStdin, supportsCheck } from "./config.js";
import type { NetworkConfigList } from "./config.js";
import { parseCniError, parseCniResult } from "./result.js";
import type { CniErrorInfo, CniResult } from "./result.js";

export type CniCommand = "ADD" | "DEL" | "CHECK";

export interface CniRuntimeParams {
  /** CNI_CONTAINERID: stable per sandbox (we use the pod UID). */
  readonly containerId: string;
  /** CNI_NETNS: /var/run/netns/<name>. */
  readonly netnsPath: string;
  /** CNI_IFNAME. */
  readonly ifName: string;
  /** CNI_ARGS, already joined (see cniArgs()). */
  readonly args: string;
  /** runtimeConfig entries, given only to plugins that declare the capability. */
  readonly runtimeConfig?: Readonly<Record<string, unknown>>;
}

export class CniPluginError extends Error {
  override name = "CniPluginError";
  constructor(
    readonly plugin: string,
    readonly command: CniCommand,
    readonly network: string,
    readonly info: CniErrorInfo,
  ) {
    super(
      `CNI plugin "${plugin}" failed (${command.toLowerCase()}) for network "${network}": ${info.msg}${info.details ? ` (${info.details})` : ""}` +
        (info.code !== 999 ? ` [code ${info.code}]` : ""),
    );
  }
}

export interface CniInvokerOptions {
  /** CNI_PATH: directories searched for plugin binaries. */
  readonly binDirs: readonly string[];
  readonly timeoutMs?: number;
  /**
   * argv prefix for running plugins somewhere other than the kubelet's own netns, e.g.
   * `["nsenter", "--net=/run/netns/x", "--"]` (tests that are not inside a node netns).
   */
  readonly runIn?: readonly string[];
}

export class CniInvoker {
  private readonly timeoutMs: number;

  constructor(private readonly opts: CniInvokerOptions) {
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** Attaches the sandbox to the network; the last plugin's result is the network's result. */
  async add(list: NetworkConfigList, rt: CniRuntimeParams): Promise<CniResult> {
    let prev: CniResult | undefined;
    for (let i = 0; i < list.plugins.length; i++) {
      const out = await this.invoke(list, i, "ADD", rt, prev?.raw);
      prev = parseCniResult(out, `CNI plugin "${list.plugins[i]?.type}"`);
    }
    if (!prev) throw new Error(`${list.file}: no plugins`);
    return prev;
  }

  /** Verifies the attachment is intact; throws CniPluginError if a plugin says it is not. */
  async check(list: NetworkConfigList, rt: CniRuntimeParams, cached: CniResult): Promise<void> {
    if (list.disableCheck || !supportsCheck(list.cniVersion)) return;
    for (let i = 0; i < list.plugins.length; i++) await this.invoke(list, i, "CHECK", rt, cached.raw);
  }

  /**
   * Detaches the sandbox. Every plugin is called even when one fails (so IPAM leases are released
   * whatever happened to the veth); the first failure is thrown at the end.
   */
  async del(list: NetworkConfigList, rt: CniRuntimeParams, cached?: CniResult): Promise<void> {
    let first: unknown;
    for (let i = list.plugins.length - 1; i >= 0; i--) {
      try {
        await this.invoke(list, i, "DEL", rt, cached?.raw);
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  /** Path of a plugin binary in CNI_PATH, or undefined. */
  findPlugin(type: string): string | undefined {
    for (const dir of this.opts.binDirs) {
      const path = join(dir, type);
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // try the next directory
      }
    }
    return undefined;
  }

  private async invoke(list: NetworkConfigList, index: number, command: CniCommand, rt: CniRuntimeParams, prevResult: unknown): Promise<string> {
    const plugin = list.plugins[index];
    if (!plugin) throw new RangeError(`plugin index ${index}`);
    const binary = this.findPlugin(plugin.type);
    if (!binary) {
      throw new CniPluginError(plugin.type, command, list.name, {
        code: 999,
        msg: `plugin binary not found in CNI_PATH ${this.opts.binDirs.join(delimiter)} (network config ${list.file})`,
      });
    }
    // A DEL may come after the netns is gone (crash clean-up); the spec says to pass an empty
    // CNI_NETNS then, and plugins release what they can.
    const netns = command === "DEL" && !existsSync(rt.netnsPath) ? "" : rt.netnsPath;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: command,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: netns,
      CNI_IFNAME: rt.ifName,
      CNI_ARGS: rt.args,
      CNI_PATH: this.opts.binDirs.join(delimiter),
    };
    const stdin = JSON.stringify(pluginStdin(list, index, prevResult, rt.runtimeConfig));
    const argv = [...(this.opts.runIn ?? []), binary];
    const r = await execCapture(argv[0] ?? binary, argv.slice(1), { stdin, env, timeoutMs: this.timeoutMs });
    if (r.code !== 0) throw new CniPluginError(plugin.type, command, list.name, parseCniError(r.stdout, r.stderr, r.code, r.signal));
    return r.stdout;
  }
}
