// HTTP status of a failed @kubernetes/client-node call (ApiException.code), and the API server's
// own message, so callers can branch on 404/409 without string matching.

export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

export const isNotFound = (err: unknown): boolean => apiStatus(err) === 404;
export const isConflict = (err: unknown): boolean => apiStatus(err) === 409;

export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === "string") {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === "string") return parsed.message;
    } catch {
      return body;
    }
  }
  if (body && typeof body === "object" && "message" in body) return String((body as { message: unknown }).message);
  return err instanceof Error ? err.message : String(err);
}
