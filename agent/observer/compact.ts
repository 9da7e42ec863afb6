/**
 * `hubble observe -o compact` lines (shared/notes/hubble-flow-format.md §4), from the JSON
 * form, so the CLI renders flows it received from any agent. One conform addition, on by
 * default: policy drops end with the policies behind them, after Hubble's own line, e.g.
 * `... Policy denied DROPPED (TCP Flags: SYN) [default deny: production/legacy-lockdown (ingress)]`.
 */
import { dropReasonText } from "../../native/index.js";
import type { Flow, FlowEndpoint, FlowPolicy } from "./flow.js";
import { identityDisplay, matchTypeName, TRACE_POINTS } from "./names.js";
import { formatStampMilli, parseTimeNs } from "./time.js";

export interface CompactOptions {
  /** Hubble's `--print-node-name`. */
  readonly printNodeName?: boolean;
  /** Hubble's `--print-policy-names`: ` BY name (kind)` on policy-verdict lines. */
  readonly printPolicyNames?: boolean;
  /** conform: append the policies behind a policy drop or audit (default true). */
  readonly printDropAttribution?: boolean;
}

function joinHostPort(host: string, port: number | undefined): string {
  if (!port) return host;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function hostPart(flow: Flow, side: "source" | "destination"): string {
  const ip = flow.IP?.[side];
  if (ip === undefined) return "";
  const ep: FlowEndpoint | undefined = flow[side];
  const service = flow[`${side}_service`];
  const names = flow[`${side}_names`];
  let host = ip;
  if (ep?.pod_name) host = ep.namespace || service?.namespace ? `${service?.namespace || ep.namespace}/${ep.pod_name}` : ep.pod_name;
  else if (service?.name) host = service.namespace ? `${service.namespace}/${service.name}` : service.name;
  else if (names?.length) host = names.join(",");
  const l4 = flow.l4?.TCP ?? flow.l4?.UDP ?? flow.l4?.SCTP;
  return joinHostPort(host, side === "source" ? l4?.source_port : l4?.destination_port);
}

function typeColumn(flow: Flow): string {
  const type = flow.event_type?.type ?? 0;
  const sub = flow.event_type?.sub_type ?? 0;
  switch (type) {
    case 4:
      return TRACE_POINTS[sub]?.[1] ?? String(sub);
    case 1:
      return dropReasonText(sub);
    case 5:
      return `policy-verdict:${matchTypeName(flow.policy_match_type)} ${flow.traffic_direction ?? "TRAFFIC_DIRECTION_UNKNOWN"}`;
    default:
      return "UNKNOWN";
  }
}

function verdictColumn(flow: Flow): string {
  const v = flow.verdict === undefined ? "VERDICT_UNKNOWN" : String(flow.verdict);
  if (flow.event_type?.type !== 5) return v;
  if (v === "FORWARDED" || v === "REDIRECTED") return "ALLOWED";
  if (v === "DROPPED" || v === "ERROR") return "DENIED";
  if (v === "AUDIT") return "AUDITED";
  return v;
}

function policyNames(flow: Flow): string {
  const verdict = verdictColumn(flow);
  if (flow.event_type?.type !== 5 || (verdict !== "ALLOWED" && verdict !== "DENIED")) return "";
  const dir = flow.traffic_direction === "EGRESS" ? "egress" : "ingress";
  const list: readonly FlowPolicy[] = (verdict === "ALLOWED" ? flow[`${dir}_allowed_by`] : flow[`${dir}_denied_by`]) ?? [];
  const names = list.filter((p) => p.name && p.kind).map((p) => `${p.name} (${p.kind})`);
  return names.length ? ` BY ${names.join(", ")}` : "";
}

function qualifiedName(p: FlowPolicy): string {
  return p.namespace ? `${p.namespace}/${p.name ?? ""}` : (p.name ?? "");
}

/** `[default deny: ns/name (ingress)]` or `[denied by: ns/name (egress)]`; empty when nothing is attributed. */
export function dropAttribution(flow: Flow): string {
  const parts: string[] = [];
  for (const dir of ["ingress", "egress"] as const) {
    const byDefault = flow[`${dir}_default_deny_by`] ?? [];
    if (byDefault.length) parts.push(`default deny: ${byDefault.map((p) => `${qualifiedName(p)} (${dir})`).join(", ")}`);
    const denied = flow[`${dir}_denied_by`] ?? [];
    if (denied.length) parts.push(`denied by: ${denied.map((p) => `${qualifiedName(p)} (${dir})`).join(", ")}`);
  }
  return parts.length ? ` [${parts.join("; ")}]` : "";
}

/** One compact line, without the trailing newline. */
export function formatCompact(flow: Flow, opts: CompactOptions = {}): string {
  const timeNs = flow.time ? parseTimeNs(flow.time) : undefined;
  const ts = timeNs === undefined ? "N/A" : formatStampMilli(timeNs);
  const node = opts.printNodeName ? ` [${flow.node_name ?? ""}]` : "";
  let src = `${hostPart(flow, "source")} ${identityDisplay(flow.source?.identity)}`;
  let dst = `${hostPart(flow, "destination")} ${identityDisplay(flow.destination?.identity)}`;
  let arrow = "<>";
  if (flow.is_reply === false) arrow = "->";
  else if (flow.is_reply === true) {
    arrow = "<-";
    [src, dst] = [dst, src];
  }
  const by = opts.printPolicyNames ? policyNames(flow) : "";
  const attribution = opts.printDropAttribution === false ? "" : dropAttribution(flow);
  return `${ts}${node}: ${src} ${arrow} ${dst} ${typeColumn(flow)} ${verdictColumn(flow)}${by} (${flow.Summary ?? ""})${attribution}`;
}
