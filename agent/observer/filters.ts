/**
 * `hubble observe` filter semantics (shared/notes/hubble-flow-format.md §5.2–5.3): flags turn
 * into FlowFilters; inside one filter every set field must match (values of one field are
 * ORed); a flow is kept when it matches any filter of the allowlist. Both-ways flags (`--pod`,
 * `--namespace`, `--label`, `--ip`, `--port`) make two filters, one per side.
 */
import { BlockList, isIP } from "node:net";
import type { Flow, FlowEndpoint } from "./flow.js";
import { VERDICTS } from "./flow.js";
import { matchesLabelSelector, parseLabelSelector, type LabelSelector } from "./label-selector.js";
import { tracePointByName } from "./names.js";

export interface EventTypeFilter {
  readonly type: number;
  readonly sub_type?: number;
}

/** FlowFilter fields (proto names), already parsed. */
export interface FlowFilter {
  source_pod?: string[];
  destination_pod?: string[];
  source_label?: LabelSelector[];
  destination_label?: LabelSelector[];
  source_ip?: string[];
  destination_ip?: string[];
  source_port?: number[];
  destination_port?: number[];
  protocol?: string[];
  verdict?: string[];
  event_type?: EventTypeFilter[];
  drop_reason_desc?: string[];
  traffic_direction?: string[];
  node_name?: string[];
}

/** Filter flags by their long name; each may be given several times. */
export const FILTER_FLAGS = [
  "pod",
  "from-pod",
  "to-pod",
  "namespace",
  "from-namespace",
  "to-namespace",
  "label",
  "from-label",
  "to-label",
  "ip",
  "from-ip",
  "to-ip",
  "port",
  "from-port",
  "to-port",
  "protocol",
  "verdict",
  "type",
  "drop-reason-desc",
  "traffic-direction",
  "node-name",
] as const;
export type FilterFlag = (typeof FILTER_FLAGS)[number];
export type FilterFlags = Partial<Record<FilterFlag, readonly string[]>>;

/** Bad filter input; `flag` names the offending flag (or query parameter). */
export class FilterError extends Error {
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`--${flag}: ${message}`);
    this.name = "FilterError";
  }
}

const PROTOCOLS = ["tcp", "udp", "sctp", "icmp", "icmpv4", "icmpv6", "vrrp", "igmp", "dns", "http", "kafka"];
const EVENT_TYPES: Readonly<Record<string, number>> = { drop: 1, debug: 2, capture: 3, trace: 4, "policy-verdict": 5, "trace-sock": 7, l7: 129, agent: 130 };

// Pairs `hubble observe` refuses in one command (flows_filter.go conflict groups).
const CONFLICTS: ReadonlyArray<readonly [FilterFlag, FilterFlag]> = [
  ["pod", "from-pod"],
  ["pod", "to-pod"],
  ["namespace", "from-namespace"],
  ["namespace", "to-namespace"],
  ["from-pod", "namespace"],
  ["to-pod", "namespace"],
  ["label", "from-label"],
  ["label", "to-label"],
  ["ip", "from-ip"],
  ["ip", "to-ip"],
  ["port", "from-port"],
  ["port", "to-port"],
];

function parsePort(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new FilterError(flag, `invalid port "${v}"`);
  return Number(v);
}

function checkIp(flag: string, v: string): string {
  const [addr = "", len, extra] = v.split("/");
  const family = isIP(addr);
  const max = family === 6 ? 128 : 32;
  if (family === 0 || extra !== undefined || (len !== undefined && (!/^\d+$/.test(len) || Number(len) > max))) {
    throw new FilterError(flag, `invalid IP address or CIDR "${v}"`);
  }
  return v;
}

function parseEventType(flag: string, v: string): EventTypeFilter {
  const [name = "", sub] = v.split(":", 2);
  const type = EVENT_TYPES[name] ?? (/^\d+$/.test(name) ? Number(name) : undefined);
  if (type === undefined) throw new FilterError(flag, `unknown event type "${name}" (trace, drop, policy-verdict, l7, capture, trace-sock or a number)`);
  if (sub === undefined) return { type };
  const point = type === 4 ? tracePointByName(sub) : undefined;
  const subType = point ?? (/^\d+$/.test(sub) ? Number(sub) : undefined);
  if (subType === undefined) throw new FilterError(flag, `unknown sub-type "${sub}" of ${name}`);
  return { type, sub_type: subType };
}

function qualifyPod(pod: string, namespaces: readonly string[]): string[] {
  if (pod.includes("/")) return [pod];
  return namespaces.length ? namespaces.map((ns) => `${ns}/${pod}`) : [`default/${pod}`];
}

function podValues(pods: readonly string[], namespaces: readonly string[]): string[] {
  if (pods.length) return pods.flatMap((p) => qualifyPod(p, namespaces));
  return namespaces.map((ns) => `${ns}/`);
}

/** Turns filter flags into the allowlist (empty = every flow), with Hubble's validation. */
export function buildFlowFilters(flags: FilterFlags): FlowFilter[] {
  const get = (f: FilterFlag): readonly string[] => flags[f] ?? [];
  for (const [a, b] of CONFLICTS) {
    if (get(a).length && get(b).length) throw new FilterError(b, `cannot be combined with --${a}`);
  }
  const common: FlowFilter = {};
  if (get("protocol").length) {
    common.protocol = get("protocol").map((p) => {
      if (!PROTOCOLS.includes(p.toLowerCase())) throw new FilterError("protocol", `unknown protocol "${p}" (${PROTOCOLS.join(", ")})`);
      return p.toLowerCase();
    });
  }
  if (get("verdict").length) {
    common.verdict = get("verdict").map((v) => {
      if (!(VERDICTS as readonly string[]).includes(v)) throw new FilterError("verdict", `unknown verdict "${v}" (${VERDICTS.join(", ")}; case-sensitive)`);
      return v;
    });
  }
  if (get("type").length) common.event_type = get("type").map((t) => parseEventType("type", t));
  if (get("drop-reason-desc").length) common.drop_reason_desc = [...get("drop-reason-desc")];
  if (get("traffic-direction").length) {
    common.traffic_direction = get("traffic-direction").map((d) => {
      const up = d.toUpperCase();
      if (up !== "INGRESS" && up !== "EGRESS") throw new FilterError("traffic-direction", `must be ingress or egress, not "${d}"`);
      return up;
    });
  }
  if (get("node-name").length) common.node_name = [...get("node-name")];

  const side = (prefix: "from-" | "to-"): FlowFilter => {
    const out: FlowFilter = {};
    const key = prefix === "from-" ? "source" : "destination";
    const pods = podValues(get(`${prefix}pod`), get(`${prefix}namespace`));
    if (pods.length) out[`${key}_pod`] = pods;
    const labels = get(`${prefix}label`);
    if (labels.length) out[`${key}_label`] = labels.map((l) => parseSelectorFlag(`${prefix}label`, l));
    const ips = get(`${prefix}ip`);
    if (ips.length) out[`${key}_ip`] = ips.map((v) => checkIp(`${prefix}ip`, v));
    const ports = get(`${prefix}port`);
    if (ports.length) out[`${key}_port`] = ports.map((v) => parsePort(`${prefix}port`, v));
    return out;
  };
  const from = side("from-");
  const to = side("to-");
  const both = (key: "source" | "destination"): FlowFilter => {
    const out: FlowFilter = {};
    const pods = podValues(get("pod"), get("namespace"));
    if (pods.length) out[`${key}_pod`] = pods;
    if (get("label").length) out[`${key}_label`] = get("label").map((l) => parseSelectorFlag("label", l));
    if (get("ip").length) out[`${key}_ip`] = get("ip").map((v) => checkIp("ip", v));
    if (get("port").length) out[`${key}_port`] = get("port").map((v) => parsePort("port", v));
    return out;
  };
  const left: FlowFilter = { ...from, ...to, ...both("source"), ...common };
  const hasBothWays = (["pod", "namespace", "label", "ip", "port"] as const).some((f) => get(f).length > 0);
  if (!hasBothWays) return Object.keys(left).length ? [left] : [];
  const right: FlowFilter = { ...from, ...to, ...both("destination"), ...common };
  return [left, right];
}

function parseSelectorFlag(flag: string, text: string): LabelSelector {
  try {
    return parseLabelSelector(text);
  } catch (err) {
    throw new FilterError(flag, (err as Error).message);
  }
}

/** `[ns/]prefix`: namespace exact, pod name by prefix; `ns/` any pod in ns, `/prefix` any namespace. */
function podMatches(pattern: string, ep: FlowEndpoint | undefined): boolean {
  const ns = ep?.namespace ?? "";
  const pod = ep?.pod_name ?? "";
  if (!ns && !pod) return false;
  const slash = pattern.indexOf("/");
  const wantNs = pattern.slice(0, slash);
  const prefix = pattern.slice(slash + 1);
  return (wantNs === "" || wantNs === ns) && pod.startsWith(prefix);
}

const ipBlocks = new Map<string, BlockList>();
function ipMatches(pattern: string, ip: string | undefined): boolean {
  if (!ip) return false;
  if (!pattern.includes("/")) return pattern === ip;
  let block = ipBlocks.get(pattern);
  if (!block) {
    const [net = "", len = "0"] = pattern.split("/");
    block = new BlockList();
    block.addSubnet(net, Number(len), isIP(net) === 6 ? "ipv6" : "ipv4");
    ipBlocks.set(pattern, block);
  }
  const family = isIP(ip);
  return family !== 0 && block.check(ip, family === 6 ? "ipv6" : "ipv4");
}

function protocolMatches(p: string, flow: Flow): boolean {
  const l4 = flow.l4;
  switch (p) {
    case "tcp":
      return !!l4?.TCP;
    case "udp":
      return !!l4?.UDP;
    case "sctp":
      return !!l4?.SCTP;
    case "icmp":
      return !!(l4?.ICMPv4 || l4?.ICMPv6);
    case "icmpv4":
      return !!l4?.ICMPv4;
    case "icmpv6":
      return !!l4?.ICMPv6;
    default: {
      const l7 = flow.l7 as Record<string, unknown> | undefined;
      return !!l7?.[p];
    }
  }
}

function portOf(flow: Flow, side: "source_port" | "destination_port"): number | undefined {
  const l4 = flow.l4?.TCP ?? flow.l4?.UDP ?? flow.l4?.SCTP;
  return l4 ? (l4[side] ?? 0) : undefined;
}

function nodeNameMatches(pattern: string, nodeName: string | undefined): boolean {
  const qualified = (n: string): string => (n.includes("/") ? n : `default/${n}`);
  const pat = pattern.includes("/") ? pattern : `*/${pattern}`;
  const re = new RegExp(`^${pat.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return re.test(qualified(nodeName ?? ""));
}

export function matchesFilter(flow: Flow, f: FlowFilter): boolean {
  if (f.source_pod && !f.source_pod.some((p) => podMatches(p, flow.source))) return false;
  if (f.destination_pod && !f.destination_pod.some((p) => podMatches(p, flow.destination))) return false;
  if (f.source_label && !f.source_label.some((s) => matchesLabelSelector(s, flow.source?.labels))) return false;
  if (f.destination_label && !f.destination_label.some((s) => matchesLabelSelector(s, flow.destination?.labels))) return false;
  if (f.source_ip && !f.source_ip.some((p) => ipMatches(p, flow.IP?.source))) return false;
  if (f.destination_ip && !f.destination_ip.some((p) => ipMatches(p, flow.IP?.destination))) return false;
  if (f.source_port && !f.source_port.includes(portOf(flow, "source_port") ?? -1)) return false;
  if (f.destination_port && !f.destination_port.includes(portOf(flow, "destination_port") ?? -1)) return false;
  if (f.protocol && !f.protocol.some((p) => protocolMatches(p, flow))) return false;
  if (f.verdict && !f.verdict.includes(String(flow.verdict ?? "VERDICT_UNKNOWN"))) return false;
  if (f.event_type) {
    const type = flow.event_type?.type ?? 0;
    const sub = flow.event_type?.sub_type ?? 0;
    if (!f.event_type.some((t) => t.type === type && (t.sub_type === undefined || t.sub_type === sub))) return false;
  }
  if (f.drop_reason_desc && !f.drop_reason_desc.includes(String(flow.drop_reason_desc ?? ""))) return false;
  if (f.traffic_direction && !f.traffic_direction.includes(String(flow.traffic_direction ?? ""))) return false;
  if (f.node_name && !f.node_name.some((p) => nodeNameMatches(p, flow.node_name))) return false;
  return true;
}

/** Allowlist semantics: no filter keeps everything, otherwise any matching filter keeps the flow. */
export function matchesAny(flow: Flow, filters: readonly FlowFilter[]): boolean {
  return filters.length === 0 || filters.some((f) => matchesFilter(flow, f));
}
