/**
 * Prometheus metrics of the agent, named as Hubble and Cilium name them
 * (shared/notes/hubble-flow-format.md §7) so existing dashboards and alerts work unchanged.
 * Flow counters are fed by the observer; gauges are read from callbacks at scrape time.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { dropReasonText } from "../../native/index.js";
import type { StoredFlow } from "../observer/decode.js";
import type { Flow } from "../observer/flow.js";
import { TRACE_POINTS } from "../observer/names.js";

/** Values read when Prometheus scrapes; each may be omitted. */
export interface MetricsSources {
  /** Policy objects loaded (`cilium_policy`). */
  policyCount?(): number | Promise<number>;
  /** Highest policy revision (`cilium_policy_max_revision`). */
  policyRevision?(): number | Promise<number>;
  /** Endpoints managed on this node (`cilium_endpoint`). */
  endpointCount?(): number | Promise<number>;
  /** Datapath events lost because the ring buffer was full (monotonic). */
  lostEvents?(): number;
}

const MATCH_LABELS = ["none", "l3-only", "l3-l4", "l4-only", "all", "l3-proto", "proto-only"] as const;
const FLOW_TYPES: Readonly<Record<number, string>> = { 1: "Drop", 3: "Capture", 4: "Trace", 5: "PolicyVerdict", 129: "L7" };

function protocolLabel(flow: Flow): string {
  const l4 = flow.l4;
  if (l4?.TCP) return "TCP";
  if (l4?.UDP) return "UDP";
  if (l4?.SCTP) return "SCTP";
  if (l4?.ICMPv4) return "ICMPv4";
  if (l4?.ICMPv6) return "ICMPv6";
  return "Unknown L4";
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly flows: Counter<"protocol" | "type" | "subtype" | "verdict">;
  private readonly drops: Counter<"reason" | "protocol">;
  private readonly policyVerdicts: Counter<"direction" | "match" | "action">;
  private readonly dropCount: Counter<"reason" | "direction">;
  private readonly mapFullEvents: Counter<"map_name">;

  constructor(sources: MetricsSources = {}) {
    const registers = [this.registry];
    this.flows = new Counter({
      name: "hubble_flows_processed_total",
      help: "Total number of flows processed",
      labelNames: ["protocol", "type", "subtype", "verdict"],
      registers,
    });
    this.drops = new Counter({ name: "hubble_drop_total", help: "Number of drops", labelNames: ["reason", "protocol"], registers });
    this.policyVerdicts = new Counter({
      name: "hubble_policy_verdicts_total",
      help: "Number of policy verdicts",
      labelNames: ["direction", "match", "action"],
      registers,
    });
    this.dropCount = new Counter({
      name: "cilium_drop_count_total",
      help: "Total dropped packets, tagged by drop reason and ingress/egress direction",
      labelNames: ["reason", "direction"],
      registers,
    });
    this.mapFullEvents = new Counter({
      name: "conform_bpf_map_full_total",
      help: "Map updates refused because the BPF map was full, by map",
      labelNames: ["map_name"],
      registers,
    });
    let lostSeen = 0;
    new Counter({
      name: "hubble_lost_events_total",
      help: "Number of lost events",
      labelNames: ["source"],
      registers,
      collect() {
        // The source's count is cumulative; a counter only moves forward, so add the difference.
        const lost = sources.lostEvents?.() ?? 0;
        if (lost > lostSeen) this.inc({ source: "perf_event_ring_buffer" }, lost - lostSeen);
        lostSeen = Math.max(lostSeen, lost);
      },
    });
    const gauge = (name: string, help: string, read: (() => number | Promise<number>) | undefined): void => {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          if (read) this.set(await read());
        },
      });
    };
    gauge("cilium_policy", "Number of policies currently loaded", sources.policyCount?.bind(sources));
    gauge("cilium_policy_max_revision", "Highest policy revision number in the agent", sources.policyRevision?.bind(sources));
    gauge("cilium_endpoint", "Number of endpoints managed by this agent", sources.endpointCount?.bind(sources));
  }

  /** Counts one decoded flow (the observer's follower). */
  observeFlow({ flow }: StoredFlow): void {
    const type = flow.event_type?.type ?? 0;
    const sub = flow.event_type?.sub_type ?? 0;
    const verdict = String(flow.verdict ?? "VERDICT_UNKNOWN");
    const protocol = protocolLabel(flow);
    this.flows.inc({ protocol, type: FLOW_TYPES[type] ?? "Unknown", subtype: type === 4 ? (TRACE_POINTS[sub]?.[1] ?? String(sub)) : "", verdict });
    if (verdict === "DROPPED") this.drops.inc({ reason: String(flow.drop_reason_desc ?? "DROP_REASON_UNKNOWN"), protocol });
    if (type === 5 && flow.source?.identity !== 1) {
      this.policyVerdicts.inc({
        direction: flow.traffic_direction ? String(flow.traffic_direction).toLowerCase() : "traffic_direction_unknown",
        match: MATCH_LABELS[flow.policy_match_type ?? 0] ?? "unknown",
        action: verdict.toLowerCase(),
      });
    }
    // Drop events are never sampled by the datapath, so counting them equals its drop counters
    // except for events lost to a full ring (which hubble_lost_events_total shows).
    if (type === 1) this.dropCount.inc({ reason: dropReasonText(flow.drop_reason ?? sub), direction: String(flow.traffic_direction ?? "UNKNOWN") });
  }

  /** The datapath layer reports a map update refused with E2BIG/ENOSPC. */
  mapFull(mapName: string): void {
    this.mapFullEvents.inc({ map_name: mapName });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
