// The probe wire format: what the harness sends to the batch client and what comes back. Defined
// once as zod schemas; the TypeScript types are inferred. Everything here crosses a process (and
// for kind/existing clusters, a kubectl-exec) boundary as JSON, so it stays plain data.
import { isIP } from "node:net";
import { z } from "zod";
import { OUTCOMES } from "./outcome.js";

export const PROBE_KINDS = ["tcp", "http", "udp", "dns", "icmp"] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

export const DNS_QUERY_TYPES = ["A", "AAAA", "CNAME", "TXT", "SRV", "PTR", "MX", "NS", "SOA"] as const;

/** Without a timeout a silently dropped probe would cost a kernel retransmit cycle (minutes). */
export const DEFAULT_PROBE_TIMEOUT_MS = 2000;
export const MAX_PROBE_TIMEOUT_MS = 60_000;
/** Probes in flight at once in one batch. */
export const DEFAULT_CONCURRENCY = 16;
export const DEFAULT_BATCH_DEADLINE_MS = 60_000;

// A DNS name as a probe target: letters, digits, hyphens and underscores per label, optional
// trailing dot. Names are resolved as absolute (no search list), so tests stay deterministic.
const DNS_NAME_RE = /^(?=.{1,253}\.?$)([A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?)*\.?$/;

const hostName = z
  .string()
  .refine((s) => isIP(s) !== 0 || DNS_NAME_RE.test(s), { message: "must be an IP address or a DNS name" });
const port = z.number().int().min(1).max(65535);

/** `ip` or `ip:port` (IPv6 with a port: `[::1]:53`). */
const dnsServer = z.string().refine((s) => parseServerAddress(s) !== undefined, {
  message: "must be an IP address, optionally with :port (IPv6 as [addr]:port)",
});

export function parseServerAddress(text: string, defaultPort = 53): { address: string; port: number } | undefined {
  if (isIP(text) !== 0) return { address: text, port: defaultPort };
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:]+):(\d{1,5})$/.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  const p = Number(m[2]);
  if (isIP(m[1]) === 0 || p < 1 || p > 65535) return undefined;
  return { address: m[1], port: p };
}

const probeCommon = {
  /** Unique within a batch; results are matched back by it. */
  id: z.string().min(1),
  timeoutMs: z.number().int().min(1).max(MAX_PROBE_TIMEOUT_MS).default(DEFAULT_PROBE_TIMEOUT_MS),
  /** Pin the local port (no retry on EADDRINUSE then). By default a free random port is bound. */
  sourcePort: port.optional(),
};

/** Resolver for `host` when it is a name; default: first nameserver of /etc/resolv.conf. */
const resolverField = { dnsServer: dnsServer.optional() };

export const TcpProbeSchema = z.strictObject({
  kind: z.literal("tcp"),
  ...probeCommon,
  ...resolverField,
  host: hostName,
  port,
  /** When set, the bytes are sent and the probe waits for them to come back (echo server). */
  payload: z.string().min(1).optional(),
});

export const HttpProbeSchema = z.strictObject({
  kind: z.literal("http"),
  ...probeCommon,
  ...resolverField,
  host: hostName,
  port: port.default(80),
  method: z
    .string()
    .regex(/^[A-Z]+$/, { message: "must be an upper-case HTTP method token such as GET" })
    .default("GET"),
  path: z.string().startsWith("/", { message: "must start with /" }).default("/"),
  headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: "invalid header name" }), z.string()).optional(),
  body: z.string().optional(),
  /** Only reported back as `http.statusMatches`; any HTTP answer is ALLOWED at the network level. */
  expectStatus: z.number().int().min(100).max(599).optional(),
});

export const UdpProbeSchema = z.strictObject({
  kind: z.literal("udp"),
  ...probeCommon,
  ...resolverField,
  host: hostName,
  port,
  /** Datagram content; defaults to a text naming the probe id. Any reply counts as ALLOWED. */
  payload: z.string().min(1).optional(),
});

export const DnsProbeSchema = z.strictObject({
  kind: z.literal("dns"),
  ...probeCommon,
  name: hostName.refine((s) => isIP(s) === 0, { message: "must be a DNS name, not an address" }),
  type: z.enum(DNS_QUERY_TYPES).default("A"),
  /** Default: first nameserver of /etc/resolv.conf. */
  server: dnsServer.optional(),
  transport: z.enum(["udp", "tcp"]).default("udp"),
});

export const IcmpProbeSchema = z.strictObject({
  kind: z.literal("icmp"),
  id: probeCommon.id,
  timeoutMs: probeCommon.timeoutMs,
  ...resolverField,
  host: hostName,
});

export const ProbeSchema = z.discriminatedUnion("kind", [
  TcpProbeSchema,
  HttpProbeSchema,
  UdpProbeSchema,
  DnsProbeSchema,
  IcmpProbeSchema,
]);

/** A probe as the batch client runs it (defaults filled in). */
export type Probe = z.output<typeof ProbeSchema>;
/** A probe as callers write it (defaulted fields optional). */
export type ProbeInput = z.input<typeof ProbeSchema>;
export type TcpProbe = z.output<typeof TcpProbeSchema>;
export type HttpProbe = z.output<typeof HttpProbeSchema>;
export type UdpProbe = z.output<typeof UdpProbeSchema>;
export type DnsProbe = z.output<typeof DnsProbeSchema>;
export type IcmpProbe = z.output<typeof IcmpProbeSchema>;

// ---- the echo document the probe server answers HTTP requests with ----

const EndpointSchema = z.object({ address: z.string().nullable(), port: z.number().int().nullable() });
export type Endpoint = z.infer<typeof EndpointSchema>;

export const HttpEchoSchema = z.object({
  pod: z.string(),
  namespace: z.string(),
  node: z.string(),
  /** The peer address and port the server's socket saw: after any NAT or proxy on the way. */
  client: z.object({ address: z.string(), port: z.number().int() }),
  server: z.object({ address: z.string(), port: z.number().int() }),
  method: z.string(),
  /** Path without the query string; `url` is the raw request target. */
  path: z.string(),
  url: z.string(),
  headers: z.record(z.string(), z.string()),
  bodyBytes: z.number().int(),
  status: z.number().int(),
});
export type HttpEcho = z.infer<typeof HttpEchoSchema>;

// ---- results ----

export const DnsAnswerSchema = z.object({ name: z.string(), type: z.string(), ttl: z.number().int(), data: z.string() });
export type DnsAnswer = z.infer<typeof DnsAnswerSchema>;

export const DnsExchangeSchema = z.object({
  name: z.string(),
  type: z.string(),
  server: EndpointSchema,
  /** Source of the query itself (for DNS probes the same as the result's `source`). */
  source: EndpointSchema,
  transport: z.enum(["udp", "tcp"]),
  /** null when no answer arrived. */
  rcode: z.string().nullable(),
  answers: z.array(DnsAnswerSchema),
});
export type DnsExchange = z.infer<typeof DnsExchangeSchema>;

const StreamExchangeSchema = z.object({
  bytesSent: z.number().int(),
  bytesReceived: z.number().int(),
  /** Whether what came back equals what was sent; null when nothing was sent or nothing came back. */
  echoMatches: z.boolean().nullable(),
});

export const ProbeResultSchema = z.object({
  id: z.string(),
  /** null only when the probe was too malformed to tell its kind. */
  kind: z.enum(PROBE_KINDS).nullable(),
  /** The client never reports DROPPED: a silent loss is TIMEOUT until the harness sees the drop flow. */
  outcome: z.enum(OUTCOMES),
  detail: z.string(),
  /**
   * Local address and port the probe's packets left from. The port is chosen and bound before
   * the first packet, so it is known even on TIMEOUT; the harness matches flows by this 5-tuple.
   * ICMP has no port (null). Both are null when the probe failed before any socket existed.
   */
  source: EndpointSchema,
  /** Where the packets were sent (the address a name resolved to). */
  destination: EndpointSchema,
  timings: z.object({
    /** Wall clock when the probe started (the flow log uses the same clock on a local cluster). */
    startedAt: z.string(),
    /** Since the batch started. */
    startMs: z.number(),
    totalMs: z.number(),
    dnsMs: z.number().optional(),
    connectMs: z.number().optional(),
    /** From the first byte sent until the first byte (or datagram/answer) came back. */
    responseMs: z.number().optional(),
  }),
  /** The errno-level cause when the outcome came from a socket error. */
  error: z.object({ code: z.string(), syscall: z.string().optional() }).optional(),
  http: z
    .object({
      status: z.number().int(),
      statusMatches: z.boolean().optional(),
      headers: z.record(z.string(), z.string()),
      body: z.string(),
      bodyTruncated: z.boolean(),
      /** Present when the answer came from a conform probe server. */
      echo: HttpEchoSchema.optional(),
    })
    .optional(),
  tcp: StreamExchangeSchema.optional(),
  udp: StreamExchangeSchema.optional(),
  dns: DnsExchangeSchema.optional(),
  icmp: z.object({ rttMs: z.number().nullable() }).optional(),
  /**
   * Set when the probe stopped waiting before its timeout because the harness reported its
   * packet dropped by the datapath (a drop notice, below): no answer could come any more.
   */
  endedEarly: z.object({ reason: z.string(), afterMs: z.number() }).optional(),
});
export type ProbeResult = z.infer<typeof ProbeResultSchema>;

/**
 * A drop notice: one more line on the batch client's stdin, after the probes. The harness sends
 * one when the flow log shows a packet of a running probe's connection DROPPED by policy; the
 * probe whose socket has exactly this 5-tuple then ends as TIMEOUT at once instead of waiting
 * out its timeout. A notice matching no probe is ignored.
 */
export const DropNoticeSchema = z.strictObject({
  dropped: z.strictObject({
    protocol: z.enum(["TCP", "UDP"]),
    source: z.strictObject({ address: z.string(), port }),
    destination: z.strictObject({ address: z.string(), port }),
    /** The flow's drop reason, e.g. POLICY_DENIED; quoted in the probe's detail. */
    reason: z.string().min(1),
  }),
});
export type DropNotice = z.infer<typeof DropNoticeSchema>;

export const BATCH_API_VERSION = "conform.dev/probe-batch/v1";

export const BatchOutputSchema = z.object({
  apiVersion: z.literal(BATCH_API_VERSION),
  pod: z.object({ name: z.string(), namespace: z.string(), node: z.string() }),
  startedAt: z.string(),
  durationMs: z.number(),
  /** Set when the batch input itself could not be read; results is then empty. */
  error: z.string().optional(),
  /** One per input probe, in input order. */
  results: z.array(ProbeResultSchema),
});
export type BatchOutput = z.infer<typeof BatchOutputSchema>;
