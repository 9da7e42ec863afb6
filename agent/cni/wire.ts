/**
 * The CNI vocabulary of the agent's CNI server, mirrored by the Go plugin (agent/cni/plugin/
 * main.go): error codes, spec versions, the plugin type and the socket protocol version. Kept
 * free of heavy imports (protocol.ts holds the zod schemas).
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
