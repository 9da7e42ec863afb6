// Ending probes early: while a step's probes run, the runner follows the flow log for DROPPED
// flows from its source pods and tells the batch holding the dropped connection (a drop notice on
// its stdin). A policy drop is final for the connection: the policy the probe meets does not change
// under a step (the runner waited for convergence), so the retransmits would be dropped as well.
// The probe still reports TIMEOUT (no answer came); the cell's verdict comes from the flows, as
// always. Without a live flow view probes simply wait out their timeouts.
import type { FlowSource } from "../cluster/provider.js";
import type { DropFeed } from "../probe/executor.js";
import type { DropNotice } from "../probe/schema.js";
import type { FlowRecord } from "../report/model.js";
import { flowFacts } from "./flow-match.js";

/** Drop reasons that are verdicts of policy, hence the same for every packet of the connection. */
export const FINAL_DROP_REASONS: readonly string[] = ["POLICY_DENIED", "POLICY_DENY"];

export function dropNoticeOf(flow: FlowRecord): DropNotice | undefined {
  const f = flowFacts(flow);
  if (f.verdict !== "DROPPED" || !FINAL_DROP_REASONS.includes(f.dropReason)) return undefined;
  if (f.protocol !== "TCP" && f.protocol !== "UDP") return undefined;
  if (!f.sourceIp || !f.destinationIp || f.sourcePort === undefined || f.destinationPort === undefined) return undefined;
  return {
    dropped: {
      protocol: f.protocol,
      source: { address: f.sourceIp, port: f.sourcePort },
      destination: { address: f.destinationIp, port: f.destinationPort },
      reason: f.dropReason,
    },
  };
}

/** One feed per source pod address; a notice goes to the batch running in that pod. */
export class DropFeeds {
  private readonly listeners = new Map<string, Set<(n: DropNotice) => void>>();

  feedFor(sourceIp: string): DropFeed {
    return {
      subscribe: (listener) => {
        const set = this.listeners.get(sourceIp) ?? new Set();
        set.add(listener);
        this.listeners.set(sourceIp, set);
        return () => void set.delete(listener);
      },
    };
  }

  dispatch(flow: FlowRecord): void {
    const notice = dropNoticeOf(flow);
    if (!notice) return;
    for (const listener of this.listeners.get(notice.dropped.source.address) ?? []) listener(notice);
  }
}

/**
 * Follows DROPPED flows from `sourceIPs` since `since` into `feeds` until the returned stop is
 * called. Failures of the live view are swallowed: it only ever shortens waits.
 */
export function followDrops(source: FlowSource | undefined, since: Date, sourceIPs: readonly string[], feeds: DropFeeds): () => void {
  if (!source?.follow || sourceIPs.length === 0) return () => undefined;
  const stop = new AbortController();
  source.follow({ since, filters: [{ sourceIp: [...sourceIPs], verdict: ["DROPPED"] }] }, (f) => feeds.dispatch(f), stop.signal).catch(() => undefined);
  return () => stop.abort();
}
