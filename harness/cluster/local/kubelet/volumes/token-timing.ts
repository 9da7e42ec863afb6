// When a projected service-account token is renewed: as the kubelet does, once 80% of its
// lifetime has passed, and at least daily, so a pod always holds a token with a fifth of its life
// left. A failed renewal is retried soon, never later than what keeps the token valid.

const MAX_AGE_MS = 24 * 3600 * 1000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

/** When to fetch a new token for one issued at `issuedAt` that expires at `expiresAt`. */
export function tokenRefreshAt(issuedAt: Date, expiresAt: Date): Date {
  const ttl = Math.max(0, expiresAt.getTime() - issuedAt.getTime());
  return new Date(issuedAt.getTime() + Math.min(ttl * 0.8, MAX_AGE_MS));
}

/** Delay before retrying a failed renewal at `now`: short, and at most a quarter of the remaining lifetime. */
export function tokenRetryDelayMs(now: Date, expiresAt: Date | undefined, attempt: number): number {
  const backoff = Math.min(RETRY_MIN_MS * 2 ** Math.max(0, attempt), RETRY_MAX_MS);
  if (!expiresAt) return backoff;
  const remaining = expiresAt.getTime() - now.getTime();
  return Math.max(RETRY_MIN_MS, Math.min(backoff, remaining / 4));
}
