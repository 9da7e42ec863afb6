/**
 * The probe outcome taxonomy (ARCHITECTURE.md, "Probe outcome"). Every probe cell ends in exactly
 * one of these. The probe client itself can only see TIMEOUT for silently lost packets; the
 * harness upgrades TIMEOUT to DROPPED (with reason) when the datapath's flow log shows the drop.
 * PROBE_ERROR means the probe could not run: it is inconclusive and never counts as "blocked".
 */
export const OUTCOMES = ["ALLOWED", "DROPPED", "REJECTED", "L7_DENIED", "DNS_FAILED", "TIMEOUT", "PROBE_ERROR"] as const;
export type Outcome = (typeof OUTCOMES)[number];

export function isOutcome(value: unknown): value is Outcome {
  return typeof value === "string" && (OUTCOMES as readonly string[]).includes(value);
}
