// Failures of endpoint operations, classified so the CNI server can answer with the spec's error
// codes (agent/cni/errors.ts maps them) and callers can tell "retry later" from "bad request".

export const ENDPOINT_ERROR_KINDS = [
  /** The request itself is wrong (missing netns, bad interface name). */
  "invalid-argument",
  /** The pod or endpoint does not exist. */
  "not-found",
  /** A dependency (API server) is unavailable; the same request may succeed later. */
  "try-again",
  /** No address or endpoint id left. */
  "exhausted",
  /** CHECK found the attachment broken. */
  "check-failed",
  /** Kernel or file-system operation failed. */
  "io",
] as const;
export type EndpointErrorKind = (typeof ENDPOINT_ERROR_KINDS)[number];

export class EndpointError extends Error {
  override name = "EndpointError";
  constructor(
    readonly kind: EndpointErrorKind,
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }
}
