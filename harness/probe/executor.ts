// How the harness runs a batch of probes from inside a pod. Every implementation returns exactly
// one result per probe, in order; when the batch process itself fails (crash, garbage output,
// hang, exec refused) every probe is PROBE_ERROR with the cause, never TIMEOUT.
import { fileURLToPath } from "node:url";
import type { DropNotice, ProbeInput, ProbeResult } from "./schema.js";
import { BatchOutputSchema, DEFAULT_CONCURRENCY, DEFAULT_PROBE_TIMEOUT_MS, PROBE_KINDS } from "./schema.js";

export interface ProbePod {
  namespace: string;
  name: string;
  uid?: string;
  nodeName?: string;
  /** Container to exec into (Kubernetes exec); default: the pod's only container. */
  container?: string;
}

export interface RunBatchOptions {
  /** Probes in flight at once inside the pod. */
  concurrency?: number;
  /** Global deadline of the batch inside the pod; default derived from the probes' timeouts. */
  deadlineMs?: number;
  /** Drop notices to pass on to the running batch (lines on its stdin, schema.ts DropNoticeSchema). */
  drops?: DropFeed;
}

/** Drop notices for one running batch: the harness's reading of the flow log, as it happens. */
export interface DropFeed {
  subscribe(listener: (notice: DropNotice) => void): () => void;
}

/** Passes a feed's notices to a batch's stdin until the batch ends; returns the unsubscribe. */
export function forwardDrops(feed: DropFeed | undefined, write: (line: string) => void): () => void {
  return feed?.subscribe((notice) => write(`${JSON.stringify(notice)}\n`)) ?? (() => undefined);
}

export interface ProbeExecutor {
  runBatch(pod: ProbePod, probes: readonly ProbeInput[], options?: RunBatchOptions): Promise<ProbeResult[]>;
}

/**
 * The probe image's entry point in this checkout (what the local kubelet runs for the probe image,
 * and the executors for batches): main.ts and everything it loads, bundled into one file by
 * `npm run build`. Every pod and every probe batch starts one Node.js process, and loading one
 * file instead of a few hundred ES modules saves about a third of each start's CPU.
 */
export function probeMainPath(): string {
  return fileURLToPath(new URL("../../probe-image/main.mjs", import.meta.url));
}

/** Extra time the executor allows beyond the in-pod deadline: process start (seconds on a loaded 2-core machine), exec round trips. */
export const EXECUTOR_GRACE_MS = 20_000;

/** Long enough for every wave of probes to hit its own timeout, so the deadline never cuts a normal run. */
export function defaultDeadlineMs(probes: readonly ProbeInput[], concurrency = DEFAULT_CONCURRENCY): number {
  const longest = Math.max(DEFAULT_PROBE_TIMEOUT_MS, ...probes.map((p) => p.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS));
  return Math.ceil(Math.max(1, probes.length) / Math.max(1, concurrency)) * (longest + 1000) + 2000;
}

export type BatchSettings = Required<Pick<RunBatchOptions, "concurrency" | "deadlineMs">>;

export function resolvedOptions(probes: readonly ProbeInput[], options: RunBatchOptions = {}): BatchSettings {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  return { concurrency, deadlineMs: options.deadlineMs ?? defaultDeadlineMs(probes, concurrency) };
}

export function batchArgs(options: BatchSettings): string[] {
  return ["batch", "--concurrency", String(options.concurrency), "--deadline-ms", String(options.deadlineMs)];
}

/** One line of JSON; the client stops reading at the newline (see main.ts, readStdinDocument). */
export function batchStdin(probes: readonly ProbeInput[]): string {
  return `${JSON.stringify(probes)}\n`;
}

export function tail(text: string, maxChars = 2000): string {
  const t = text.trim();
  return t.length <= maxChars ? t : `…${t.slice(t.length - maxChars)}`;
}

function kindOf(probe: ProbeInput): ProbeResult["kind"] {
  return (PROBE_KINDS as readonly string[]).includes(probe.kind) ? probe.kind : null;
}

export function errorResult(probe: ProbeInput, detail: string, startedAt = new Date().toISOString()): ProbeResult {
  return {
    id: probe.id,
    kind: kindOf(probe),
    outcome: "PROBE_ERROR",
    detail,
    source: { address: null, port: null },
    destination: { address: null, port: null },
    timings: { startedAt, startMs: 0, totalMs: 0 },
  };
}

export function errorResults(probes: readonly ProbeInput[], detail: string): ProbeResult[] {
  const startedAt = new Date().toISOString();
  return probes.map((p) => errorResult(p, detail, startedAt));
}

export interface BatchProcessRun {
  /** e.g. "ip netns exec cf-x-pod-123 node …" or "exec into ns/pod"; used in error texts. */
  what: string;
  stdout: string;
  stderr: string;
  /** How it ended, in words ("exit 3", "killed by SIGKILL", "Failure: …"); for error texts. */
  ended: string;
  /** Set when the process had to be stopped because it outlived the deadline. */
  timedOutAfterMs?: number;
  /** Set when the process could not be started at all. */
  startError?: string;
}

/** Maps a finished batch process to one result per probe, in the probes' order. */
export function resultsFromRun(probes: readonly ProbeInput[], run: BatchProcessRun): ProbeResult[] {
  const stderr = run.stderr.trim() ? `; stderr: ${tail(run.stderr)}` : "";
  if (run.startError) return errorResults(probes, `could not start the probe batch (${run.what}): ${run.startError}${stderr}`);
  if (run.timedOutAfterMs !== undefined) {
    return errorResults(probes, `probe batch (${run.what}) did not finish within ${run.timedOutAfterMs} ms and was stopped${stderr}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(run.stdout);
  } catch {
    const out = run.stdout.trim() ? `; stdout: ${tail(run.stdout, 500)}` : "; no output";
    return errorResults(probes, `probe batch (${run.what}) ended (${run.ended}) without a valid JSON document${out}${stderr}`);
  }
  const doc = BatchOutputSchema.safeParse(json);
  if (!doc.success) {
    const issue = doc.error.issues[0];
    return errorResults(
      probes,
      `probe batch (${run.what}) printed a document that is not a batch result (${issue?.path.join(".") || "(top level)"}: ${issue?.message}); ${run.ended}${stderr}`,
    );
  }
  if (doc.data.error) return errorResults(probes, `probe batch refused its input: ${doc.data.error}`);
  const byIndex = doc.data.results;
  const byId = new Map(byIndex.map((r) => [r.id, r]));
  const missing = `probe batch (${run.what}) returned no result for this probe; ${run.ended}${stderr}`;
  return probes.map((p, i) => (byIndex[i]?.id === p.id ? byIndex[i] : byId.get(p.id)) ?? errorResult(p, missing));
}
