/**
 * The flow record: Hubble's `Flow` message as `hubble observe -o json` prints it (proto field
 * names, enum names as strings, 64-bit integers as strings, zero values omitted), plus the
 * conform extensions documented in README.md. One zod schema per message; the schemas are
 * loose because readers must tolerate fields a newer agent adds.
 */
import { z } from "zod";

export const VERDICTS = ["FORWARDED", "DROPPED", "ERROR", "AUDIT", "REDIRECTED", "TRACED", "TRANSLATED"] as const;
export type FlowVerdict = (typeof VERDICTS)[number];

export const TRAFFIC_DIRECTIONS = ["INGRESS", "EGRESS"] as const;
export type TrafficDirection = (typeof TRAFFIC_DIRECTIONS)[number];

export const WorkloadSchema = z.looseObject({ name: z.string().optional(), kind: z.string().optional() });

export const FlowEndpointSchema = z.looseObject({
  ID: z.number().optional(),
  identity: z.number().optional(),
  cluster_name: z.string().optional(),
  namespace: z.string().optional(),
  labels: z.array(z.string()).optional(),
  pod_name: z.string().optional(),
  workloads: z.array(WorkloadSchema).optional(),
});
export type FlowEndpoint = z.infer<typeof FlowEndpointSchema>;

export const FlowIpSchema = z.looseObject({
  source: z.string().optional(),
  source_xlated: z.string().optional(),
  destination: z.string().optional(),
  ipVersion: z.enum(["IPv4", "IPv6"]).optional(),
  /** True when the packet crossed nodes encrypted (WireGuard); omitted when false. */
  encrypted: z.boolean().optional(),
});
export type FlowIp = z.infer<typeof FlowIpSchema>;

export const TCP_FLAG_NAMES = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"] as const;
export type TcpFlagName = (typeof TCP_FLAG_NAMES)[number];
export const TcpFlagsSchema = z.looseObject(Object.fromEntries(TCP_FLAG_NAMES.map((f) => [f, z.boolean().optional()])) as Record<TcpFlagName, z.ZodOptional<z.ZodBoolean>>);
export type TcpFlags = z.infer<typeof TcpFlagsSchema>;

const PortsSchema = z.looseObject({ source_port: z.number().optional(), destination_port: z.number().optional() });
const IcmpSchema = z.looseObject({ type: z.number().optional(), code: z.number().optional() });

export const Layer4Schema = z.looseObject({
  TCP: PortsSchema.extend({ flags: TcpFlagsSchema.optional() }).optional(),
  UDP: PortsSchema.optional(),
  SCTP: PortsSchema.optional(),
  ICMPv4: IcmpSchema.optional(),
  ICMPv6: IcmpSchema.optional(),
});
export type Layer4 = z.infer<typeof Layer4Schema>;

/**
 * An entry of the `*_allowed_by` / `*_denied_by` lists (Hubble's `Policy`). `rule_index` is a
 * conform extension: the index of the rule element inside the policy's section.
 */
export const FlowPolicySchema = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  labels: z.array(z.string()).optional(),
  revision: z.union([z.string(), z.number()]).optional(),
  kind: z.string().optional(),
  rule_index: z.number().optional(),
});
export type FlowPolicy = z.infer<typeof FlowPolicySchema>;

export const EventTypeSchema = z.looseObject({ type: z.number().optional(), sub_type: z.number().optional() });

export const FlowSchema = z.looseObject({
  time: z.string().optional(),
  uuid: z.string().optional(),
  verdict: z.union([z.enum(VERDICTS), z.number()]).optional(),
  drop_reason: z.number().optional(),
  IP: FlowIpSchema.optional(),
  l4: Layer4Schema.optional(),
  source: FlowEndpointSchema.optional(),
  destination: FlowEndpointSchema.optional(),
  Type: z.string().optional(),
  node_name: z.string().optional(),
  source_names: z.array(z.string()).optional(),
  destination_names: z.array(z.string()).optional(),
  l7: z.looseObject({}).optional(),
  reply: z.boolean().optional(),
  event_type: EventTypeSchema.optional(),
  source_service: z.looseObject({ name: z.string().optional(), namespace: z.string().optional() }).optional(),
  destination_service: z.looseObject({ name: z.string().optional(), namespace: z.string().optional() }).optional(),
  traffic_direction: z.union([z.enum(TRAFFIC_DIRECTIONS), z.string()]).optional(),
  policy_match_type: z.number().optional(),
  trace_observation_point: z.string().optional(),
  trace_reason: z.string().optional(),
  drop_reason_desc: z.union([z.string(), z.number()]).optional(),
  is_reply: z.boolean().optional(),
  interface: z.looseObject({ index: z.number().optional(), name: z.string().optional() }).optional(),
  proxy_port: z.number().optional(),
  Summary: z.string().optional(),
  egress_allowed_by: z.array(FlowPolicySchema).optional(),
  ingress_allowed_by: z.array(FlowPolicySchema).optional(),
  egress_denied_by: z.array(FlowPolicySchema).optional(),
  ingress_denied_by: z.array(FlowPolicySchema).optional(),
  /** conform: policies that put the endpoint into default deny for this direction (drop reason 133). */
  egress_default_deny_by: z.array(FlowPolicySchema).optional(),
  ingress_default_deny_by: z.array(FlowPolicySchema).optional(),
});
export type Flow = z.infer<typeof FlowSchema>;

/** One NDJSON line of `/v1/flows` and `hubble observe -o json`: the GetFlowsResponse envelope. */
export const FlowLineSchema = z.looseObject({
  flow: FlowSchema.optional(),
  lost_events: z.looseObject({ source: z.string().optional(), num_events_lost: z.union([z.string(), z.number()]).optional() }).optional(),
  node_name: z.string().optional(),
  time: z.string().optional(),
});
export type FlowLine = z.infer<typeof FlowLineSchema>;

export function flowLine(flow: Flow): FlowLine {
  return { flow, node_name: flow.node_name, time: flow.time };
}
