// Reading Hubble-shaped flow records and matching them to what a probe did. A probe's connection
// is identified by its 5-tuple (the client binds its source port before the first packet, so the
// tuple is known even on TIMEOUT) and by the time it ran.
import type { FlowFilter } from "../cluster/provider.js";
import type { ProbeResult } from "../probe/schema.js";
import { unwrapFlow } from "../report/flow-line.js";
import type { FlowRecord } from "../report/model.js";

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Rec) : {});
const str = (v: unknown): string => (typeof v === "string" ? v : "");
// protojson prints uint64 as strings; ports are uint32 (numbers), but accept both.
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined);

/** The fields of a flow the runner compares, with protojson's omitted defaults filled in. */
export interface FlowFacts {
  timeMs: number | undefined;
  verdict: string;
  dropReason: string;
  sourceIp: string;
  destinationIp: string;
  /** TCP, UDP, SCTP, ICMPv4, ICMPv6, or "" when the flow has no L4. */
  protocol: string;
  sourcePort: number | undefined;
  destinationPort: number | undefined;
  /** true / false, or undefined when the datapath could not tell (drops). */
  isReply: boolean | undefined;
}

export function flowFacts(record: FlowRecord): FlowFacts {
  const flow = unwrapFlow(record);
  const ip = rec(flow.IP);
  const l4 = rec(flow.l4);
  const protocol = ["TCP", "UDP", "SCTP", "ICMPv4", "ICMPv6"].find((p) => l4[p] !== undefined) ?? "";
  const ports = rec(l4[protocol]);
  const time = Date.parse(str(flow.time) || str(record.time));
  const isReply = typeof flow.is_reply === "boolean" ? flow.is_reply : typeof flow.isReply === "boolean" ? flow.isReply : undefined;
  return {
    timeMs: Number.isNaN(time) ? undefined : time,
    verdict: str(flow.verdict),
    dropReason: str(flow.drop_reason_desc) || str(flow.dropReasonDesc) || (typeof flow.drop_reason_desc === "number" ? String(flow.drop_reason_desc) : ""),
    sourceIp: str(ip.source),
    destinationIp: str(ip.destination),
    protocol,
    sourcePort: num(ports.source_port ?? ports.sourcePort),
    destinationPort: num(ports.destination_port ?? ports.destinationPort),
    isReply,
  };
}

/** Whether a flow matches one FlowQuery filter (every given field; any entry of a field's list). */
export function matchesFilter(record: FlowRecord, filter: FlowFilter): boolean {
  const f = flowFacts(record);
  const has = <T>(list: readonly T[] | undefined, value: T | undefined) => list === undefined || list.length === 0 || (value !== undefined && list.includes(value));
  return (
    has(filter.sourceIp, f.sourceIp) &&
    has(filter.sourcePort, f.sourcePort) &&
    has(filter.destinationIp, f.destinationIp) &&
    has(filter.destinationPort, f.destinationPort) &&
    has(filter.protocol, f.protocol) &&
    has(filter.verdict, f.verdict)
  );
}

/** FlowQuery semantics for in-memory sources: any filter matches, or there are none. */
export function matchesAnyFilter(record: FlowRecord, filters: readonly FlowFilter[] | undefined): boolean {
  return !filters || filters.length === 0 || filters.some((f) => matchesFilter(record, f));
}

/** The connection a probe made, as flows show it. */
export interface ProbeTuple {
  sourceIp: string;
  sourcePort: number | undefined;
  destinationIp: string;
  destinationPort: number | undefined;
  protocol: string;
  startMs: number;
  endMs: number;
  /**
   * The destination was translated on the way (a service ClusterIP → a backend), so flows show
   * another destination: match on the source side and protocol only.
   */
  translatedDestination: boolean;
}

function l4Protocol(result: ProbeResult): string {
  switch (result.kind) {
    case "tcp":
    case "http":
      return "TCP";
    case "udp":
      return "UDP";
    case "dns":
      return result.dns?.transport === "tcp" ? "TCP" : "UDP";
    case "icmp":
      return "ICMPv4";
    default:
      return "";
  }
}

/** The probe's 5-tuple and time window, or undefined when it never had a socket (no packets). */
export function probeTuple(result: ProbeResult, translatedDestination = false): ProbeTuple | undefined {
  const start = Date.parse(result.timings.startedAt);
  if (Number.isNaN(start)) return undefined;
  let { source, destination } = result;
  let protocol = l4Protocol(result);
  // A host name that never resolved: the only packets were the DNS query's.
  if ((!source.address || !destination.address) && result.dns?.source.address && result.dns.server.address) {
    source = result.dns.source;
    destination = result.dns.server;
    protocol = result.dns.transport === "tcp" ? "TCP" : "UDP";
    translatedDestination = false;
  }
  if (!source.address || !destination.address) return undefined;
  return {
    sourceIp: source.address,
    sourcePort: source.port ?? undefined,
    destinationIp: destination.address,
    destinationPort: destination.port ?? undefined,
    protocol,
    startMs: start,
    endMs: start + result.timings.totalMs,
    translatedDestination,
  };
}

/** Flows of exactly this connection (either direction) inside the probe's window widened by `slackMs`. */
export function flowsForProbe(flows: readonly FlowRecord[], tuple: ProbeTuple, slackMs: number): FlowRecord[] {
  return flows.filter((record) => {
    const f = flowFacts(record);
    if (f.timeMs === undefined || f.timeMs < tuple.startMs - slackMs || f.timeMs > tuple.endMs + slackMs) return false;
    if (tuple.protocol && f.protocol !== tuple.protocol) return false;
    const portOk = (a: number | undefined, b: number | undefined) => a === undefined || b === undefined || a === b;
    // ICMP has no ports; the tuple then is addresses + protocol.
    const forward =
      f.sourceIp === tuple.sourceIp &&
      portOk(f.sourcePort, tuple.sourcePort) &&
      (tuple.translatedDestination || (f.destinationIp === tuple.destinationIp && portOk(f.destinationPort, tuple.destinationPort)));
    const reply =
      f.destinationIp === tuple.sourceIp &&
      portOk(f.destinationPort, tuple.sourcePort) &&
      (tuple.translatedDestination || (f.sourceIp === tuple.destinationIp && portOk(f.sourcePort, tuple.destinationPort)));
    return f.isReply === true ? reply : f.isReply === false ? forward : forward || reply;
  });
}
