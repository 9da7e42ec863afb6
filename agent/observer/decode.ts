/**
 * Datapath event (struct cf_event) → Hubble-shaped flow. Pure apart from the uuid: everything
 * the event does not carry comes from the ObserverContext. Keys are inserted in the order of
 * flow.proto so JSON diffs against real Hubble output stay clean.
 */
import { randomUUID } from "node:crypto";
import { dropReasonName, type CfEvent } from "../../native/index.js";
import type { Labels } from "../identity/labels.js";
import type { ObservedEndpoint, ObservedPolicy, ObservedRule, ObserverContext, PolicyDirectionName } from "./context.js";
import type { Flow, FlowEndpoint, FlowPolicy, FlowVerdict, Layer4, TcpFlags } from "./flow.js";
import { icmpTypeCodeName, TRACE_POINTS, traceReasonName } from "./names.js";
import { formatRfc3339Nano, type FlowClock } from "./time.js";

// Numbers of bpf/README.md (cf_event); kept local so this module needs native/ only for types
// and the drop-reason table.
const EVENT_DROP = 1;
const EVENT_TRACE = 4;
const EVENT_POLICY_VERDICT = 5;
const FLAG_REPLY = 0x01;
const FLAG_IPV6 = 0x08;
const REASON_POLICY_DENIED = 133;
const REASON_POLICY_DENY = 181;

const VERDICT_NAMES: Readonly<Record<number, FlowVerdict>> = { 1: "FORWARDED", 2: "DROPPED", 3: "ERROR", 4: "AUDIT", 5: "REDIRECTED" };

/** A decoded flow and its time as epoch nanoseconds (for filters and merging without reparsing). */
export interface StoredFlow {
  readonly flow: Flow;
  readonly timeNs: bigint;
}

export interface DecodeOptions {
  readonly clock: FlowClock;
  readonly uuid?: () => string;
}

/** Sorted `source:key=value` strings; key-only labels print without `=` (`reserved:world`). */
export function formatLabels(labels: Labels | undefined): string[] | undefined {
  if (!labels) return undefined;
  const out = Object.entries(labels).map(([k, v]) => (v === "" ? k : `${k}=${v}`));
  if (out.length === 0) return undefined;
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function endpointJson(info: ObservedEndpoint | undefined, identity: number, ctx: ObserverContext): FlowEndpoint {
  const ep: FlowEndpoint = {};
  if (info?.epId) ep.ID = info.epId;
  if (identity) ep.identity = identity;
  if (info?.clusterName) ep.cluster_name = info.clusterName;
  if (info?.namespace) ep.namespace = info.namespace;
  const labels = formatLabels(info?.labels ?? ctx.identityLabels(identity));
  if (labels) ep.labels = labels;
  if (info?.podName) ep.pod_name = info.podName;
  if (info?.workloads?.length) ep.workloads = info.workloads.map((w) => ({ name: w.name, kind: w.kind }));
  return ep;
}

const TCP_FLAG_BITS: ReadonlyArray<readonly [keyof TcpFlags & string, number]> = [
  ["FIN", 0x01],
  ["SYN", 0x02],
  ["RST", 0x04],
  ["PSH", 0x08],
  ["ACK", 0x10],
  ["URG", 0x20],
  ["ECE", 0x40],
  ["CWR", 0x80],
];
/** Summary order differs from the JSON key order (flow.proto vs Hubble's printer). */
const SUMMARY_FLAG_ORDER = ["SYN", "ACK", "RST", "FIN", "PSH", "URG", "ECE", "CWR", "NS"] as const;

function layer4(e: CfEvent): { l4?: Layer4; summary: string } {
  const ports = (): { source_port?: number; destination_port?: number } => ({
    ...(e.sport ? { source_port: e.sport } : {}),
    ...(e.dport ? { destination_port: e.dport } : {}),
  });
  const v6 = (e.flags & FLAG_IPV6) !== 0;
  switch (e.proto) {
    case 6: {
      const flags: TcpFlags = {};
      for (const [name, bit] of TCP_FLAG_BITS) if (e.tcpFlags & bit) flags[name] = true;
      const set = SUMMARY_FLAG_ORDER.filter((f) => flags[f]);
      return { l4: { TCP: { ...ports(), flags } }, summary: `TCP Flags: ${set.join(", ")}` };
    }
    case 17:
      return { l4: { UDP: ports() }, summary: "UDP" };
    case 132:
      return { l4: { SCTP: ports() }, summary: "SCTP" };
    case 1:
    case 58: {
      const icmp = { ...(e.icmpType ? { type: e.icmpType } : {}), ...(e.icmpCode ? { code: e.icmpCode } : {}) };
      const key = e.proto === 58 ? "ICMPv6" : "ICMPv4";
      return { l4: { [key]: icmp }, summary: `${key} ${icmpTypeCodeName(e.proto === 58, e.icmpType, e.icmpCode)}` };
    }
    default:
      return { summary: v6 ? "IPv6" : "IPv4" };
  }
}

function policyJson(p: ObservedPolicy | ObservedRule, revision: number | undefined, ruleIndex?: number): FlowPolicy {
  const labels = [`k8s:io.cilium.k8s.policy.derived-from=${p.kind}`, `k8s:io.cilium.k8s.policy.name=${p.name}`];
  if (p.namespace) labels.push(`k8s:io.cilium.k8s.policy.namespace=${p.namespace}`);
  if (p.uid) labels.push(`k8s:io.cilium.k8s.policy.uid=${p.uid}`);
  labels.sort();
  const out: FlowPolicy = { name: p.name };
  if (p.namespace) out.namespace = p.namespace;
  out.labels = labels;
  if (revision) out.revision = String(revision);
  out.kind = p.kind;
  if (ruleIndex) out.rule_index = ruleIndex;
  return out;
}

/** Policies behind a matched rule_ref: every origin of the entry when the context knows them. */
function rulePolicies(ctx: ObserverContext, epId: number, dir: PolicyDirectionName, ruleRef: number): FlowPolicy[] {
  const refs = ctx.ruleOrigins?.(epId, dir, ruleRef) ?? [ruleRef];
  const revision = ctx.policyRevision?.();
  const seen = new Set<string>();
  const out: FlowPolicy[] = [];
  for (const ref of refs.length > 0 ? refs : [ruleRef]) {
    const rule = ctx.ruleRef(ref);
    // Synthesized entries (allow-localhost, allow-all of non-default-deny policies) are no policy object.
    if (!rule || rule.kind === "Synthesized") continue;
    const key = `${rule.kind}/${rule.namespace}/${rule.name}/${rule.ruleIndex}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(policyJson(rule, revision, rule.ruleIndex));
  }
  return out;
}

export function eventToFlow(e: CfEvent, ctx: ObserverContext, opts: DecodeOptions): StoredFlow {
  const timeNs = opts.clock.monotonicToEpochNs(e.tsNs);
  const egress = e.direction === 1;
  const dir: PolicyDirectionName = egress ? "egress" : "ingress";
  const reply = (e.flags & FLAG_REPLY) !== 0;
  const v6 = (e.flags & FLAG_IPV6) !== 0;
  const verdict = VERDICT_NAMES[e.verdict];
  const isDrop = e.type === EVENT_DROP;
  const isTrace = e.type === EVENT_TRACE;
  const isPolicyVerdict = e.type === EVENT_POLICY_VERDICT;
  // AUDIT keeps its would-be reason (conform): it tells an explicit deny from a default deny.
  const carriesReason = e.dropReason !== 0 && (verdict === "DROPPED" || verdict === "AUDIT");

  const local = ctx.endpointById(e.epId);
  const localEp: ObservedEndpoint = { ...local, epId: e.epId };
  const peer = ctx.endpointByIP(egress ? e.daddr : e.saddr);
  const source = endpointJson(egress ? localEp : peer, e.srcIdentity, ctx);
  const destination = endpointJson(egress ? peer : localEp, e.dstIdentity, ctx);
  const { l4, summary } = layer4(e);

  const flow: Flow = { time: formatRfc3339Nano(timeNs), uuid: (opts.uuid ?? randomUUID)() };
  if (verdict) flow.verdict = verdict;
  else if (e.verdict) flow.verdict = e.verdict;
  if (carriesReason) flow.drop_reason = e.dropReason;
  flow.IP = { source: e.saddr, destination: e.daddr, ipVersion: v6 ? "IPv6" : "IPv4" };
  if (ctx.encrypted?.({ saddr: e.saddr, daddr: e.daddr, epId: e.epId, direction: e.direction })) flow.IP.encrypted = true;
  if (l4) flow.l4 = l4;
  flow.source = source;
  flow.destination = destination;
  flow.Type = "L3_L4";
  flow.node_name = ctx.nodeName;
  if (isTrace && reply) flow.reply = true;
  const subType = isDrop ? e.dropReason || e.subtype : isTrace ? e.subtype : 0;
  flow.event_type = subType ? { type: e.type, sub_type: subType } : { type: e.type };
  // Hubble reports the connection's direction: a reply leaving a pod belongs to an ingress connection.
  flow.traffic_direction = (isTrace && reply ? !egress : egress) ? "EGRESS" : "INGRESS";
  if (isPolicyVerdict && e.matchType) flow.policy_match_type = e.matchType;
  if (isTrace) {
    const point = TRACE_POINTS[e.subtype];
    if (point) flow.trace_observation_point = point[0];
    const reason = traceReasonName(e.ctState);
    if (reason) flow.trace_reason = reason;
  }
  if (carriesReason) flow.drop_reason_desc = dropReasonName(e.dropReason);
  if (isTrace) flow.is_reply = reply;
  else if (isPolicyVerdict && verdict !== "DROPPED") flow.is_reply = false;
  if (isTrace && e.ifindex) flow.interface = { index: e.ifindex };
  if (e.proxyPort && verdict === "REDIRECTED") flow.proxy_port = e.proxyPort;
  flow.Summary = summary;

  if (isPolicyVerdict && (verdict === "FORWARDED" || verdict === "REDIRECTED") && e.ruleRef) {
    const allowed = rulePolicies(ctx, e.epId, dir, e.ruleRef);
    if (allowed.length) flow[`${dir}_allowed_by`] = allowed;
  }
  if ((isPolicyVerdict || isDrop) && carriesReason) {
    if (e.dropReason === REASON_POLICY_DENY && e.ruleRef) {
      const denied = rulePolicies(ctx, e.epId, dir, e.ruleRef);
      if (denied.length) flow[`${dir}_denied_by`] = denied;
    } else if (e.dropReason === REASON_POLICY_DENIED && !e.ruleRef) {
      const revision = ctx.policyRevision?.();
      const by = ctx.defaultDenyBy(e.epId, dir).map((p) => policyJson(p, revision));
      if (by.length) flow[`${dir}_default_deny_by`] = by;
    }
  }
  return { flow, timeNs };
}
