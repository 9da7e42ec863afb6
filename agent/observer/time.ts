// Flow timestamps are nanoseconds since the Unix epoch as bigint: a JS Date holds only
// milliseconds, and flows of one connection are often less than a millisecond apart.

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const;
const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

/** Maps the datapath clock (CLOCK_MONOTONIC, `bpf_ktime_get_ns`) to wall-clock time. */
export interface FlowClock {
  monotonicToEpochNs(monotonicNs: bigint): bigint;
}

/**
 * process.hrtime is CLOCK_MONOTONIC on Linux, the clock of bpf_ktime_get_ns. The offset is
 * taken once: re-reading it per event would make flow times jitter with NTP slews.
 */
export function systemFlowClock(): FlowClock {
  const offset = BigInt(Date.now()) * NS_PER_MS - process.hrtime.bigint();
  return { monotonicToEpochNs: (ns) => ns + offset };
}

function pad(n: number | bigint, width: number): string {
  return String(n).padStart(width, "0");
}

/** RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits, the shortest exact one (protojson). */
export function formatRfc3339Nano(epochNs: bigint): string {
  const seconds = epochNs / NS_PER_S - (epochNs % NS_PER_S < 0n ? 1n : 0n);
  const nanos = epochNs - seconds * NS_PER_S;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  let frac = "";
  if (nanos !== 0n) {
    frac = `.${pad(nanos, 9)}`;
    if (frac.endsWith("000000")) frac = frac.slice(0, 4);
    else if (frac.endsWith("000")) frac = frac.slice(0, 7);
  }
  return `${base}${frac}Z`;
}

const RFC3339_RE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):?(\d{2})?(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Parses RFC 3339 (any fraction length) and Hubble's shorter date forms; undefined when invalid. */
export function parseTimeNs(text: string): bigint | undefined {
  const m = RFC3339_RE.exec(text.trim());
  if (!m) return undefined;
  const [, date, hh = "00", mm = "00", ss = "00", frac = "", zone = "Z"] = m;
  const offset = zone.toUpperCase() === "Z" ? "Z" : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const ms = Date.parse(`${date}T${hh}:${mm}:${ss}${offset}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * NS_PER_MS + BigInt(frac.padEnd(9, "0") || "0");
}

const DURATION_UNITS: Record<string, bigint> = { ns: 1n, us: 1000n, µs: 1000n, ms: NS_PER_MS, s: NS_PER_S, m: 60n * NS_PER_S, h: 3600n * NS_PER_S };

/** A Go duration (`30s`, `5m`, `1h30m`, `1.5h`); undefined when invalid. Hubble has no `d` unit. */
export function parseDurationNs(text: string): bigint | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0n;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const [whole = "0", fraction = ""] = (m[1] ?? "0").split(".");
    const unit = DURATION_UNITS[m[2] ?? ""] ?? 0n;
    total += BigInt(whole) * unit + (fraction ? (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length) : 0n);
    matched = re.lastIndex;
  }
  return matched === text.length && text.length > 0 ? total : undefined;
}

/** `--since`/`--until`: a duration back from `nowNs` or an absolute time. */
export function parseSinceNs(text: string, nowNs: bigint): bigint | undefined {
  const d = parseDurationNs(text);
  return d !== undefined ? nowNs - d : parseTimeNs(text);
}

export function nowEpochNs(): bigint {
  return BigInt(Date.now()) * NS_PER_MS;
}

/** Go's StampMilli (`Jan _2 15:04:05.000`) in UTC, milliseconds truncated: compact output. */
export function formatStampMilli(epochNs: bigint): string {
  const ms = epochNs / NS_PER_MS;
  const d = new Date(Number(ms));
  const day = String(d.getUTCDate()).padStart(2, " ");
  return `${MONTHS[d.getUTCMonth()]} ${day} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}`;
}
