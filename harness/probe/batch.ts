// Runs a batch of probes with bounded concurrency under one global deadline. Every probe ends with
// exactly one result, in input order, whatever happens to the others.
import type { DropBoard } from "./drop-board.js";
import type { BatchItem } from "./input.js";
import type { ProbeContext } from "./probes/context.js";
import { createContext, ResultDraft, round } from "./probes/context.js";
import { runDnsProbe } from "./probes/dns.js";
import { runHttpProbe } from "./probes/http.js";
import { runIcmpProbe } from "./probes/icmp.js";
import { runTcpProbe } from "./probes/tcp.js";
import { runUdpProbe } from "./probes/udp.js";
import type { BatchOutput, Probe, ProbeResult } from "./schema.js";
import { BATCH_API_VERSION, DEFAULT_BATCH_DEADLINE_MS, DEFAULT_CONCURRENCY } from "./schema.js";
import { PortAllocator } from "./sockets.js";

export interface BatchOptions {
  concurrency?: number;
  deadlineMs?: number;
  /** Drop notices from the harness (stdin); a probe they name stops waiting for its answer. */
  drops?: DropBoard;
}

export function runProbe(probe: Probe, ctx: ProbeContext): Promise<ProbeResult> {
  switch (probe.kind) {
    case "tcp":
      return runTcpProbe(probe, ctx);
    case "http":
      return runHttpProbe(probe, ctx);
    case "udp":
      return runUdpProbe(probe, ctx);
    case "dns":
      return runDnsProbe(probe, ctx);
    case "icmp":
      return runIcmpProbe(probe, ctx);
  }
}

/** A probe that throws is a bug in the probe code; it must still end as one PROBE_ERROR. */
async function runGuarded(probe: Probe, ctx: ProbeContext): Promise<ProbeResult> {
  try {
    return await runProbe(probe, ctx);
  } catch (err) {
    return new ResultDraft(probe, ctx).finish({ outcome: "PROBE_ERROR", detail: `probe crashed: ${err instanceof Error ? err.stack ?? err.message : String(err)}` });
  }
}

export function podIdentity(): BatchOutput["pod"] {
  return {
    name: process.env.POD_NAME ?? "",
    namespace: process.env.POD_NAMESPACE ?? "",
    node: process.env.NODE_NAME ?? "",
  };
}

export async function runBatch(items: readonly BatchItem[], options: BatchOptions = {}): Promise<BatchOutput> {
  const startedAt = new Date().toISOString();
  const ctx = createContext(new PortAllocator(), performance.now(), options.drops);
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  const deadlineMs = options.deadlineMs ?? DEFAULT_BATCH_DEADLINE_MS;
  const results: (ProbeResult | undefined)[] = items.map((it) => (it.kind === "invalid" ? it.result : undefined));
  const pending = items.flatMap((it, index) => (it.kind === "probe" ? [{ index, probe: it.probe }] : []));

  let deadlineHit = false;
  let resolveDeadline: () => void = () => undefined;
  const deadline = new Promise<void>((resolve) => (resolveDeadline = resolve));
  const timer = setTimeout(() => {
    deadlineHit = true;
    resolveDeadline();
  }, deadlineMs);

  let next = 0;
  const started = new Set<number>();
  const worker = async (): Promise<void> => {
    while (!deadlineHit && next < pending.length) {
      const job = pending[next++];
      if (!job) break;
      started.add(job.index);
      const result = await runGuarded(job.probe, ctx);
      // A result arriving after the deadline is dropped: the document has already been built.
      if (!deadlineHit) results[job.index] = result;
    }
  };
  await Promise.race([Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, worker)), deadline]);
  clearTimeout(timer);

  // Whatever the deadline cut short is inconclusive; never TIMEOUT, which would read as "blocked".
  const final = results.map((r, index) => {
    if (r) return r;
    const item = items[index];
    const probe = item?.kind === "probe" ? item.probe : undefined;
    if (!probe) throw new Error("unreachable: invalid items always carry a result");
    const when = started.has(index) ? "while the probe ran; its result is inconclusive" : "before the probe started";
    return new ResultDraft(probe, ctx).finish({ outcome: "PROBE_ERROR", detail: `batch deadline of ${deadlineMs} ms passed ${when}` });
  });
  return {
    apiVersion: BATCH_API_VERSION,
    pod: podIdentity(),
    startedAt,
    durationMs: round(performance.now() - ctx.batchStart),
    results: final,
  };
}
