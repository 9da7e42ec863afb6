// CNI network configuration (spec 1.0 "Section 1"): which file of the config dir is in force,
// its validation, and the per-plugin stdin the runtime derives from it. Which plugin runs is
// purely a config-dir concern, so the bundled agent can drop its own conflist in later.
import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";

/** Extensions libcni loads; everything else in the dir is ignored. */
const CONFIG_EXTENSIONS = new Set([".conflist", ".conf", ".json"]);

export type PluginConf = Readonly<Record<string, unknown>> & { readonly type: string };

export interface NetworkConfigList {
  readonly cniVersion: string;
  readonly name: string;
  readonly disableCheck: boolean;
  readonly plugins: readonly PluginConf[];
  /** The file it came from, for messages and the result cache. */
  readonly file: string;
}

export class CniConfigError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${file}: ${field ? `${field}: ` : ""}${detail}`);
    this.name = "CniConfigError";
  }
}

/** The file that is in force: the lexically first config file, as libcni and containerd pick it. */
export function pickConfigFile(fileNames: readonly string[]): string | undefined {
  return [...fileNames].filter((f) => CONFIG_EXTENSIONS.has(extname(f)) && !f.startsWith(".")).sort()[0];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function requireString(file: string, obj: Record<string, unknown>, key: string, at: string): string {
  const v = obj[key];
  if (typeof v !== "string" || v.length === 0) throw new CniConfigError(file, at ? `${at}.${key}` : key, "required string field missing or empty");
  return v;
}

function checkPlugin(file: string, plugin: unknown, at: string): PluginConf {
  if (!isObject(plugin)) throw new CniConfigError(file, at, "must be an object");
  const type = requireString(file, plugin, "type", at);
  // The plugin binary is looked up by this name in CNI_PATH; a path would escape it.
  if (type.includes("/")) throw new CniConfigError(file, `${at}.type`, `"${type}" must be a plugin name, not a path`);
  return { ...plugin, type };
}

/** Validates a config file's text; a single-plugin `.conf` becomes a list of one. */
export function parseNetworkConfig(file: string, text: string): NetworkConfigList {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CniConfigError(file, "", `invalid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new CniConfigError(file, "", "must be a JSON object");
  const cniVersion = requireString(file, doc, "cniVersion", "");
  const name = requireString(file, doc, "name", "");
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new CniConfigError(file, "name", `"${name}" is not a valid network name`);
  if ("plugins" in doc) {
    const plugins = doc["plugins"];
    if (!Array.isArray(plugins) || plugins.length === 0) throw new CniConfigError(file, "plugins", "must be a non-empty array");
    return {
      cniVersion,
      name,
      disableCheck: doc["disableCheck"] === true,
      plugins: plugins.map((p, i) => checkPlugin(file, p, `plugins[${i}]`)),
      file,
    };
  }
  const { cniVersion: _v, name: _n, ...plugin } = doc;
  return { cniVersion, name, disableCheck: false, plugins: [checkPlugin(file, plugin, "")], file };
}

export type NetworkConfigStatus =
  | { readonly ok: true; readonly config: NetworkConfigList }
  | { readonly ok: false; readonly reason: "NetworkPluginNotReady"; readonly message: string };

/** The network config in force in `dir`, or why there is none (drives the node's Ready condition). */
export function loadNetworkConfig(dir: string): NetworkConfigStatus {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") return { ok: false, reason: "NetworkPluginNotReady", message: `cannot read CNI config dir ${dir}: ${(err as Error).message}` };
    names = [];
  }
  const file = pickConfigFile(names);
  if (!file) return { ok: false, reason: "NetworkPluginNotReady", message: `network plugin not ready: no CNI configuration (*.conflist, *.conf) in ${dir}` };
  const path = join(dir, file);
  try {
    return { ok: true, config: parseNetworkConfig(path, readFileSync(path, "utf8")) };
  } catch (err) {
    return { ok: false, reason: "NetworkPluginNotReady", message: `network plugin not ready: ${(err as Error).message}` };
  }
}

/**
 * The JSON a plugin reads on stdin: its own config with the list's name and cniVersion, the
 * previous plugin's result when chaining, and the runtimeConfig entries it declared capabilities for.
 */
export function pluginStdin(
  list: NetworkConfigList,
  index: number,
  prevResult?: unknown,
  runtimeConfig?: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const plugin = list.plugins[index];
  if (!plugin) throw new RangeError(`plugin index ${index} out of range for ${list.file}`);
  const out: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  delete out["runtimeConfig"];
  delete out["prevResult"];
  const caps = isObject(plugin["capabilities"]) ? plugin["capabilities"] : {};
  const rc = Object.fromEntries(Object.entries(runtimeConfig ?? {}).filter(([k]) => caps[k] === true));
  if (Object.keys(rc).length > 0) out["runtimeConfig"] = rc;
  if (prevResult !== undefined) out["prevResult"] = prevResult;
  return out;
}

/** CNI_ARGS as Kubernetes runtimes pass it; IgnoreUnknown keeps strict plugins (host-local) happy. */
export function cniArgs(pod: { namespace: string; name: string; uid: string }, sandboxId: string): string {
  return [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAMESPACE", pod.namespace],
    ["K8S_POD_NAME", pod.name],
    ["K8S_POD_INFRA_CONTAINER_ID", sandboxId],
    ["K8S_POD_UID", pod.uid],
  ]
    .map(([k, v]) => `${k}=${v}`)
    .join(";");
}

/** CHECK was introduced with spec 0.4.0; older configs must not be sent one. */
export function supportsCheck(cniVersion: string): boolean {
  const [major = 0, minor = 0] = cniVersion.split(".").map((n) => Number.parseInt(n, 10));
  return major > 0 || minor >= 4;
}
