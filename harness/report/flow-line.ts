// One-line rendering of Hubble-shaped flow records for reports, following the layout of
// `hubble observe -o compact` (notes/hubble-flow-format.md §4), plus the policies a flow names:
//
//   Mar 14 09:27:02.104: other/stranger:40412 (ID:51002) <> shop/backend:8080 (ID:40211) Policy denied DROPPED BY shop/backend-ingress (CiliumNetworkPolicy) (TCP Flags: SYN)
//
// Upstream prints "BY ..." only for policy-verdict events with --print-policy-names; reports print
// it whenever a flow carries attribution, since that is what a failing cell needs to show.
import type { FlowRecord } from "./model.js";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const RESERVED_IDENTITIES = ["unknown", "host", "world", "unmanaged", "health", "init", "remote-node", "kube-apiserver", "ingress", "world-ipv4", "world-ipv6"];
const TRACE_POINTS = ["to-endpoint", "to-proxy", "to-host", "to-stack", "to-overlay", "from-endpoint", "from-proxy", "from-host", "from-stack", "from-overlay", "from-network", "to-network", "from-crypto", "to-crypto"];
const MATCH_TYPES = ["none", "L3-Only", "L3-L4", "L4-Only", "all", "L3-Proto", "Proto-Only"];
/** Compact TYPE text of the drop reasons conform's datapath produces most; others print their enum name. */
const DROP_TEXTS: Record<number, string> = {
  132: "Invalid source ip",
  133: "Policy denied",
  134: "Invalid packet",
  151: "Stale or unroutable IP",
  158: "Service backend not found",
  169: "FIB lookup failed",
  181: "Policy denied by denylist",
  189: "Authentication required",
  203: "Endpoint policy program not available",
};
const POLICY_LISTS = ["ingress_denied_by", "egress_denied_by", "ingress_allowed_by", "egress_allowed_by"] as const;

type Rec = Record<string, unknown>;

const rec = (value: unknown): Rec => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Rec) : {});
const str = (value: unknown): string => (typeof value === "string" ? value : "");
const num = (value: unknown): number => (typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value) ? Number(value) : 0);

/** The Flow inside a `{"flow": ...}` envelope, or the record itself. */
export function unwrapFlow(record: FlowRecord): Rec {
  return typeof record.flow === "object" && record.flow !== null ? rec(record.flow) : record;
}

/** Policies a flow names, as `ns/name` (or `name` for clusterwide ones), in attribution order, unique. */
// A default-deny drop (POLICY_DENIED) has no rule behind it, so Hubble's `*_denied_by` stay empty;
// conform's agent names the policies that switched the endpoint into default deny in these lists.
const DEFAULT_DENY_LISTS = ["ingress_default_deny_by", "egress_default_deny_by"] as const;

/** The policies a flow names in Hubble's `*_denied_by` / `*_allowed_by`, as `ns/name` or `name`. */
export function flowPolicies(record: FlowRecord): string[] {
  return policyRefsIn(record, POLICY_LISTS);
}

/**
 * What a scenario's `by:` means: the policies behind the verdict, including those that put the
 * endpoint into default deny when the drop (or audit) came from default deny.
 */
export function attributedPolicies(record: FlowRecord): string[] {
  return policyRefsIn(record, [...POLICY_LISTS, ...DEFAULT_DENY_LISTS]);
}

function policyRefsIn(record: FlowRecord, lists: readonly string[]): string[] {
  const flow = unwrapFlow(record);
  const out: string[] = [];
  for (const list of lists) {
    const entries = flow[list];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries.map(rec)) {
      const name = str(entry.name);
      if (!name) continue;
      const ref = entry.namespace ? `${str(entry.namespace)}/${name}` : name;
      if (!out.includes(ref)) out.push(ref);
    }
  }
  return out;
}

export function renderFlowLine(record: FlowRecord): string {
  const flow = unwrapFlow(record);
  const isReply = flow.is_reply;
  let src = `${endpointHost(flow, "source")} (${identityText(rec(flow.source).identity)})`;
  let dst = `${endpointHost(flow, "destination")} (${identityText(rec(flow.destination).identity)})`;
  let arrow = "<>";
  if (isReply === false) arrow = "->";
  else if (isReply === true) {
    // Replies are printed with the sides swapped so the initiator stays on the left.
    arrow = "<-";
    [src, dst] = [dst, src];
  }
  const summary = [str(flow.Summary), flow.auth_type && flow.auth_type !== "DISABLED" ? `Auth: ${str(flow.auth_type)}` : ""].filter(Boolean).join("; ");
  const by = policyNames(flow);
  return `${timestamp(flow.time)}: ${src} ${arrow} ${dst} ${typeText(flow)} ${verdictText(flow)}${by ? ` BY ${by}` : ""} (${summary})`;
}

function timestamp(value: unknown): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/.exec(str(value));
  if (!m) return "N/A";
  const month = MONTHS[Number(m[2]) - 1];
  if (!month) return "N/A";
  // Milliseconds are truncated, not rounded, as Go's StampMilli does.
  const millis = (m[7] ?? "").padEnd(3, "0").slice(0, 3);
  return `${month} ${String(Number(m[3])).padStart(2, " ")} ${m[4]}:${m[5]}:${m[6]}.${millis}`;
}

function endpointHost(flow: Rec, side: "source" | "destination"): string {
  const ip = rec(flow.IP);
  const endpoint = rec(flow[side]);
  const service = rec(flow[`${side}_service`]);
  let host = str(ip[side]);
  if (!ip[side]) host = str(rec(flow.ethernet)[side]);
  const names = flow[`${side}_names`];
  if (endpoint.pod_name) {
    const ns = str(service.name ? service.namespace : endpoint.namespace);
    host = ns ? `${ns}/${str(endpoint.pod_name)}` : str(endpoint.pod_name);
  } else if (service.name) {
    host = service.namespace ? `${str(service.namespace)}/${str(service.name)}` : str(service.name);
  } else if (Array.isArray(names) && names.length > 0) {
    host = names.map(str).join(",");
  }
  const l4 = rec(flow.l4);
  const transport = rec(l4.TCP ?? l4.UDP ?? l4.SCTP);
  const port = num(transport[side === "source" ? "source_port" : "destination_port"]);
  if (port === 0) return host;
  return host.includes(":") && !host.includes("/") ? `[${host}]:${port}` : `${host}:${port}`;
}

function identityText(value: unknown): string {
  const id = num(value);
  return id < RESERVED_IDENTITIES.length ? RESERVED_IDENTITIES[id]! : `ID:${id}`;
}

function typeText(flow: Rec): string {
  const l7 = rec(flow.l7);
  if (flow.l7 !== undefined) {
    const proto = l7.http ? "http" : l7.dns ? "dns" : l7.kafka ? "kafka" : "l7";
    const kind = str(l7.type).toLowerCase() || "unknown_l7_type";
    const source = l7.dns && rec(l7.dns).observation_source ? ` ${str(rec(l7.dns).observation_source)}` : "";
    return `${proto}-${kind}${source}`;
  }
  const event = rec(flow.event_type);
  const subType = num(event.sub_type);
  switch (num(event.type)) {
    case 4:
      return TRACE_POINTS[subType] ?? String(subType);
    case 1:
      return DROP_TEXTS[subType] ?? (str(flow.drop_reason_desc) || `drop ${subType}`);
    case 5: {
      const match = MATCH_TYPES[num(flow.policy_match_type)] ?? "unknown";
      return `policy-verdict:${match} ${str(flow.traffic_direction) || "TRAFFIC_DIRECTION_UNKNOWN"}`;
    }
    case 3:
      return str(flow.debug_capture_point) || "UNKNOWN";
    case 7:
      return ["", "pre-xlate-fwd", "post-xlate-fwd", "pre-xlate-rev", "post-xlate-rev"][subType] || "UNKNOWN";
    default:
      return "UNKNOWN";
  }
}

function verdictText(flow: Rec): string {
  const verdict = str(flow.verdict) || "VERDICT_UNKNOWN";
  if (num(rec(flow.event_type).type) !== 5) return verdict;
  if (verdict === "FORWARDED" || verdict === "REDIRECTED") return "ALLOWED";
  if (verdict === "DROPPED" || verdict === "ERROR") return "DENIED";
  if (verdict === "AUDIT") return "AUDITED";
  return verdict;
}

function policyNames(flow: Rec): string {
  const parts: string[] = [];
  for (const list of POLICY_LISTS) {
    const entries = flow[list];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries.map(rec)) {
      if (!entry.name) continue;
      const ref = entry.namespace ? `${str(entry.namespace)}/${str(entry.name)}` : str(entry.name);
      const text = entry.kind ? `${ref} (${str(entry.kind)})` : ref;
      if (!parts.includes(text)) parts.push(text);
    }
  }
  return parts.join(", ");
}
