// Durations in specs are strings like "500ms", "3s", "2m" so they read the way kubectl and
// chainsaw users write them; the harness works in milliseconds.
export const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds for a duration string that matches DURATION_RE; throws on anything else. */
export function parseDuration(text: string): number {
  const match = DURATION_RE.exec(text);
  if (!match) throw new Error(`invalid duration "${text}" (expected e.g. 500ms, 3s, 2m)`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}

/** Short human form for reports: 850ms, 1.2s, 2m05s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)}s`;
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  return `${minutes}m${String(totalSeconds % 60).padStart(2, "0")}s`;
}
