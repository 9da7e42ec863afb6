/**
 * What the CNI plugin and the agent's CNI server share at runtime, kept free of heavy imports:
 * the plugin is a process per kubelet call, and every millisecond of start-up is pod start
 * latency (zod alone costs ~150 ms to load, so validation happens in the agent, see protocol.ts).
 */

/** CNI spec error codes (1–99 are the spec's, 100+ are this plugin's). */
export const CNI_ERROR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  /** No pod address (or endpoint id) left on this node. */
  addressesExhausted: 100,
  /** CHECK found the attachment broken. */
  checkFailed: 101,
  internal: 999,
} as const;
export type CniErrorCode = (typeof CNI_ERROR)[keyof typeof CNI_ERROR];

/** Spec versions this plugin speaks; results are produced in 1.0.0 and converted down. */
export const SUPPORTED_CNI_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"] as const;
export const PLUGIN_TYPE = "conform-cni";
export const DEFAULT_SOCKET_PATH = "/run/conform/cni/agent.sock";
/** Version of the plugin ↔ agent socket protocol (the `v` field of each request). */
export const PROTOCOL_VERSION = 1;

export class CniError extends Error {
  override name = "CniError";
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }

  /** The spec's error object. */
  toResult(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isSupportedVersion(v: unknown): v is (typeof SUPPORTED_CNI_VERSIONS)[number] {
  return typeof v === "string" && (SUPPORTED_CNI_VERSIONS as readonly string[]).includes(v);
}

/** CNI_ARGS: `K=V;K2=V2`. Malformed items are an error naming the variable (code 4). */
export function parseCniArgs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const item of text.split(";")) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new CniError(CNI_ERROR.invalidEnvironment, `CNI_ARGS: item "${item}" is not KEY=VALUE`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export interface CniResult10 {
  readonly cniVersion: string;
  readonly interfaces?: readonly { name: string; mac?: string; sandbox?: string }[];
  readonly ips?: readonly { address: string; gateway?: string; interface?: number }[];
  readonly routes?: readonly { dst: string; gw?: string }[];
  readonly dns?: Readonly<Record<string, unknown>>;
}

/**
 * A 1.0.0 result in the shape `cniVersion` expects: 0.3.x/0.4.0 results carry `version: "4"|"6"`
 * on every IP config; 1.0.0 dropped it.
 */
export function convertResult(result: CniResult10, cniVersion: string): Record<string, unknown> {
  if (cniVersion === "1.0.0") return { ...result, cniVersion };
  return {
    ...result,
    cniVersion,
    ips: (result.ips ?? []).map((ip) => ({ version: ip.address.includes(":") ? "6" : "4", ...ip })),
  };
}
