// The compact text form of probe sources and destinations used in matrices:
//
//   shop/backend:8080/tcp            a fixture pod (port optional: all its ports; protocol optional)
//   service:shop/backend:80/tcp      a service (svc: works too)
//   world:api.example.test:443/tcp   a host outside the cluster, by name or by IP in 203.0.113.0/24
//   cidr:203.0.113.16/28:80/tcp      a world CIDR, probed at its first host address
//   host:10250/tcp                   the host network of the source pod's own node
//   node:2:10250/tcp                 node 2's address
//   apiserver:6443/tcp               the kube-apiserver (entity kube-apiserver), at the address its
//                                    `default/kubernetes` EndpointSlice gives
//   health:2:4240/tcp                node 2's health endpoint (entity health), from its
//                                    CiliumEndpoint kube-system/cilium-health-<node>
//   shop/api:8080/http POST /admin   http targets may add a method and a path (default GET /)
//
// Parsing is pure text; whether a pod or service exists is checked against the fixtures later.
import { DNS_LABEL_RE, PROTOCOLS } from "./schema.js";
import type { Protocol } from "./schema.js";

/** The address range of "world" hosts (ARCHITECTURE.md, address plan). */
export const WORLD_CIDR = "203.0.113.0/24";

export type TargetKind = "pod" | "service" | "world" | "cidr" | "host" | "node" | "apiserver" | "health";

export interface HttpRequest {
  method: string;
  path: string;
}

interface TargetBase {
  port?: number;
  protocol?: Protocol;
  http?: HttpRequest;
}

export type Target =
  | (TargetBase & { kind: "pod"; namespace: string; name: string })
  | (TargetBase & { kind: "service"; namespace: string; name: string })
  | (TargetBase & { kind: "world"; host: string })
  | (TargetBase & { kind: "cidr"; cidr: string; address: string })
  | (TargetBase & { kind: "host" })
  | (TargetBase & { kind: "node"; index: number })
  | (TargetBase & { kind: "apiserver" })
  | (TargetBase & { kind: "health"; index: number });

export interface PodRef {
  namespace: string;
  name: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const PORT_SUFFIX_RE = new RegExp(`:(\\d{1,5})(?:/(${PROTOCOLS.join("|")}))?$`);
const DNS_NAME_RE = /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*\.?$/i;
const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parsePodRef(text: string): ParseResult<PodRef> {
  const parts = text.split("/");
  if (parts.length !== 2 || !DNS_LABEL_RE.test(parts[0]!) || !DNS_LABEL_RE.test(parts[1]!)) {
    return { ok: false, error: `"${text}" is not a pod reference (expected <namespace>/<pod>)` };
  }
  return { ok: true, value: { namespace: parts[0]!, name: parts[1]! } };
}

export function parseTarget(input: string): ParseResult<Target> {
  const text = input.trim();
  const [head, ...requestParts] = text.split(/\s+/);
  let rest = head!;
  const base: TargetBase = {};

  const portMatch = PORT_SUFFIX_RE.exec(rest);
  // "node:2" and "host" have no port; "node:2:80" has one. A bare "node:<n>" must not read <n> as a port.
  if (portMatch && !/^(node|health):\d+$/.test(rest)) {
    const port = Number(portMatch[1]);
    if (port < 1 || port > 65535) return { ok: false, error: `port ${port} in "${text}" is out of range 1-65535` };
    base.port = port;
    if (portMatch[2]) base.protocol = portMatch[2] as Protocol;
    rest = rest.slice(0, portMatch.index);
  }

  if (requestParts.length > 0) {
    const request = parseHttpRequest(requestParts);
    if (!request.ok) return { ok: false, error: `${request.error} in "${text}"` };
    if (base.protocol !== "http") return { ok: false, error: `"${text}": a method or path needs an http target (":<port>/http")` };
    base.http = request.value;
  } else if (base.protocol === "http") {
    base.http = { method: "GET", path: "/" };
  }

  const schemeMatch = /^(pod|service|svc|world|cidr|node|health):(.*)$/.exec(rest);
  const bare = /^(host|apiserver):?$/.exec(rest)?.[1];
  const scheme = bare ?? schemeMatch?.[1];
  const body = schemeMatch?.[2] ?? rest;
  switch (scheme) {
    case undefined:
    case "pod": {
      const ref = parsePodRef(body);
      if (!ref.ok) return { ok: false, error: `"${text}" is not a destination (expected e.g. shop/backend:8080/tcp, service:shop/api:80, world:api.example.test:443, host:10250)` };
      return { ok: true, value: { kind: "pod", ...ref.value, ...base } };
    }
    case "service":
    case "svc": {
      const ref = parsePodRef(body);
      if (!ref.ok) return { ok: false, error: `"${text}": expected service:<namespace>/<service>[:port[/proto]]` };
      return { ok: true, value: { kind: "service", ...ref.value, ...base } };
    }
    case "world": {
      if (IPV4_RE.test(body)) {
        if (!ipInCidr(body, WORLD_CIDR)) return { ok: false, error: `"${text}": world addresses must be inside ${WORLD_CIDR}` };
      } else if (!DNS_NAME_RE.test(body)) {
        return { ok: false, error: `"${text}": "${body}" is neither a host name nor an IPv4 address` };
      }
      if (base.port === undefined) return { ok: false, error: `"${text}" needs a port, e.g. world:${body}:443/tcp` };
      return { ok: true, value: { kind: "world", host: body.toLowerCase().replace(/\.$/, ""), ...base } };
    }
    case "cidr": {
      const cidr = parseCidr(body);
      if (!cidr.ok) return { ok: false, error: `"${text}": ${cidr.error}` };
      if (!cidrInside(cidr.value, WORLD_CIDR)) return { ok: false, error: `"${text}": CIDR destinations must be inside ${WORLD_CIDR}` };
      if (base.port === undefined) return { ok: false, error: `"${text}" needs a port, e.g. cidr:${body}:80/tcp` };
      return { ok: true, value: { kind: "cidr", cidr: cidr.value.text, address: firstHost(cidr.value), ...base } };
    }
    case "host":
      if (base.port === undefined) return { ok: false, error: `"${text}" needs a port, e.g. host:10250/tcp` };
      return { ok: true, value: { kind: "host", ...base } };
    case "node": {
      if (!/^\d+$/.test(body) || Number(body) < 1) return { ok: false, error: `"${text}": expected node:<index>:<port>[/proto] with a 1-based node index` };
      if (base.port === undefined) return { ok: false, error: `"${text}" needs a port, e.g. node:${body}:10250/tcp` };
      return { ok: true, value: { kind: "node", index: Number(body), ...base } };
    }
    case "apiserver":
      if (base.port === undefined) return { ok: false, error: `"${text}" needs a port, e.g. apiserver:6443/tcp` };
      return { ok: true, value: { kind: "apiserver", ...base } };
    case "health": {
      if (!/^\d+$/.test(body) || Number(body) < 1) return { ok: false, error: `"${text}": expected health:<node index>:<port>[/proto] with a 1-based node index, e.g. health:1:4240/tcp` };
      if (base.port === undefined) return { ok: false, error: `"${text}" needs a port, e.g. health:${body}:4240/tcp` };
      return { ok: true, value: { kind: "health", index: Number(body), ...base } };
    }
    default:
      return { ok: false, error: `"${text}" is not a destination` };
  }
}

function parseHttpRequest(parts: string[]): ParseResult<HttpRequest> {
  let method = "GET";
  let path = "/";
  const remaining = [...parts];
  if (remaining[0] && /^[A-Z]+$/.test(remaining[0])) method = remaining.shift()!;
  if (remaining[0] && remaining[0].startsWith("/")) path = remaining.shift()!;
  if (remaining.length > 0) return { ok: false, error: `unexpected "${remaining.join(" ")}" (expected [METHOD] [/path])` };
  return { ok: true, value: { method, path } };
}

/** Canonical text of a target with a resolved port and protocol: the column label and part of the cell id. */
export function formatTarget(target: Target): string {
  const portPart = target.port !== undefined ? `:${target.port}${target.protocol ? `/${target.protocol}` : ""}` : "";
  const request = target.http && (target.http.method !== "GET" || target.http.path !== "/") ? ` ${target.http.method} ${target.http.path}` : "";
  switch (target.kind) {
    case "pod":
      return `${target.namespace}/${target.name}${portPart}${request}`;
    case "service":
      return `service:${target.namespace}/${target.name}${portPart}${request}`;
    case "world":
      return `world:${target.host}${portPart}${request}`;
    case "cidr":
      return `cidr:${target.cidr}${portPart}${request}`;
    case "host":
      return `host${portPart}${request}`;
    case "node":
      return `node:${target.index}${portPart}${request}`;
    case "apiserver":
      return `apiserver${portPart}${request}`;
    case "health":
      return `health:${target.index}${portPart}${request}`;
  }
}

// ---------------------------------------------------------------------------------------------
// IPv4 helpers (the address plan is IPv4 only)

interface Cidr {
  text: string;
  base: number;
  prefix: number;
}

function ipToInt(ip: string): number | undefined {
  const m = IPV4_RE.exec(ip);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return ((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]!;
}

function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function parseCidr(text: string): ParseResult<Cidr> {
  const [ip, prefixText, ...extra] = text.split("/");
  const base = ipToInt(ip ?? "");
  const prefix = Number(prefixText);
  if (base === undefined || extra.length > 0 || !/^\d{1,2}$/.test(prefixText ?? "") || prefix > 32) {
    return { ok: false, error: `"${text}" is not an IPv4 CIDR` };
  }
  if ((base & ~mask(prefix)) >>> 0 !== 0) return { ok: false, error: `"${text}" has host bits set (did you mean ${intToIp((base & mask(prefix)) >>> 0)}/${prefix}?)` };
  return { ok: true, value: { text, base, prefix } };
}

export function ipInCidr(ip: string, cidrText: string): boolean {
  const addr = ipToInt(ip);
  const cidr = parseCidr(cidrText);
  if (addr === undefined || !cidr.ok) return false;
  return ((addr & mask(cidr.value.prefix)) >>> 0) === cidr.value.base;
}

function cidrInside(inner: Cidr, outerText: string): boolean {
  const outer = parseCidr(outerText);
  return outer.ok && inner.prefix >= outer.value.prefix && ((inner.base & mask(outer.value.prefix)) >>> 0) === outer.value.base;
}

/** The address probed for a CIDR destination: the first usable host (the block itself for /31 and /32). */
function firstHost(cidr: Cidr): string {
  return intToIp(cidr.prefix >= 31 ? cidr.base : cidr.base + 1);
}
