/**
 * L4 helpers: protocol names, port numbers and names, ICMP type names, range expansion.
 */
import { PROTO } from "./types.js";
import { ICMPV4_TYPE_NAMES, ICMPV6_TYPE_NAMES } from "../deploy/crds/vocabulary.js";

/** CNP `ANY` (or empty): TCP, UDP and SCTP — never ICMP (policy-semantics.md §5.1). */
export const ANY_L4_PROTOCOLS: readonly number[] = [PROTO.tcp, PROTO.udp, PROTO.sctp];

export const L4_PROTOCOL_NUMBER: Readonly<Record<string, number>> = { TCP: PROTO.tcp, UDP: PROTO.udp, SCTP: PROTO.sctp };

export function protocolName(proto: number): string {
  switch (proto) {
    case PROTO.any:
      return "ANY";
    case PROTO.tcp:
      return "TCP";
    case PROTO.udp:
      return "UDP";
    case PROTO.sctp:
      return "SCTP";
    case PROTO.icmp:
      return "ICMP";
    case PROTO.icmpv6:
      return "ICMPv6";
    default:
      return String(proto);
  }
}

/**
 * Kubernetes IANA_SVC_NAME: 1–15 chars of [a-z0-9-], at least one letter, no leading/trailing
 * or doubled hyphen. Names are compared lower-cased, as Cilium normalises them.
 */
export function isValidPortName(name: string): boolean {
  return (
    name.length >= 1 &&
    name.length <= 15 &&
    /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name) &&
    /[a-z]/.test(name) &&
    !name.includes("--")
  );
}

/**
 * Expands `[port, endPort]` into the ports written to the map. Port 0 means every port; a range
 * covering 1–65535 collapses into port 0 (bpf/README.md "Port ranges").
 */
export function expandPortRange(port: number, endPort: number): number[] {
  if (port === 0) return [0];
  const end = endPort > port ? endPort : port;
  if (port <= 1 && end >= 65535) return [0];
  const out: number[] = [];
  for (let p = port; p <= end; p++) out.push(p);
  return out;
}

// Cilium's CamelCase ICMP type names, one table shared with the CRD schema.
const ICMPV4_TYPES: Readonly<Record<string, number>> = ICMPV4_TYPE_NAMES;

const ICMPV6_TYPES: Readonly<Record<string, number>> = ICMPV6_TYPE_NAMES;

/** ICMP type number from a number, a numeric string, or a CamelCase name of the family. */
export function icmpType(value: number | string, family: 4 | 6): number | null {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 && value <= 255 ? value : null;
  if (/^\d+$/.test(value)) return icmpType(Number(value), family);
  const table = family === 4 ? ICMPV4_TYPES : ICMPV6_TYPES;
  return Object.prototype.hasOwnProperty.call(table, value) ? (table[value] as number) : null;
}
