// Small helpers around @kubernetes/client-node: patch content types, API error codes, and
// timestamps that arrive either as Date (list responses) or string (watch events).
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";

export const strategicMerge = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** HTTP status of a failed API call, or undefined for transport errors. */
export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** The API server's own message (Status.message) for a failed call, else the error text. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === "string") {
    try {
      const status = JSON.parse(body) as { message?: unknown };
      if (typeof status.message === "string") return status.message;
    } catch {
      // not a Status object
    }
  }
  const msg = err instanceof Error ? err.message : String(err);
  // The generated client embeds the whole response; the first line is what a person needs.
  return msg.split("\n")[0] ?? msg;
}

/** RFC 3339 with microseconds, the wire format of MicroTime fields (Lease renewTime, Event eventTime). */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** RFC 3339 with second precision, the wire format of Time fields. */
export function apiTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
