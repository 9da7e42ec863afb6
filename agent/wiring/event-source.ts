/**
 * The observer's EventSource over the datapath's ring buffer (cf_events_v1). One reader per
 * agent, fanned out to every subscriber; events the datapath could not write are counted by
 * the BPF side (cf_metrics_v1 LOST_EVENTS, both directions), not seen here.
 */
import { Direction, MetricCode, metricsIndex, openEventReader } from "../../native/index.js";
import type { BpfMap, CfEvent, RingBufferOptions } from "../../native/index.js";
import type { EventSource } from "../observer/observer.js";

/** What the event source needs of the datapath (the real `Datapath` satisfies it). */
export interface EventDatapath {
  readonly eventsMap: BpfMap;
  metric(index: number): { packets: bigint };
}

export interface DatapathEventSource extends EventSource {
  close(): void;
}

export function datapathEventSource(datapath: EventDatapath, opts: Pick<RingBufferOptions, "intervalMs" | "onError"> = {}): DatapathEventSource {
  const consumers = new Set<(events: CfEvent[]) => void>();
  let received = 0;
  const reader = openEventReader(
    datapath.eventsMap,
    (events) => {
      received += events.length;
      for (const c of consumers) c(events);
    },
    // The agent's life is bounded by its signals, not by this reader.
    { ...opts, keepAlive: false },
  );
  return {
    onEvents(cb) {
      consumers.add(cb);
      return () => consumers.delete(cb);
    },
    stats() {
      let lost = 0n;
      for (const dir of [Direction.ingress, Direction.egress]) lost += datapath.metric(metricsIndex(dir, MetricCode.lostEvents)).packets;
      return { lost: Number(lost), received };
    },
    close() {
      consumers.clear();
      reader.close();
    },
  };
}
