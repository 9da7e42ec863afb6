// IPv4 addresses as unsigned 32-bit numbers, and CIDR parsing with errors that name the input.
import { isIPv4 } from "node:net";

export interface Ipv4Cidr {
  /** Network address (host bits cleared). */
  readonly network: number;
  readonly prefixLength: number;
  /** Number of addresses, network and broadcast included. */
  readonly size: number;
}

export function ipv4ToNumber(text: string): number {
  if (!isIPv4(text)) throw new Error(`"${text}" is not an IPv4 address`);
  return text.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Parses `a.b.c.d/len`; `what` names the input in the error (e.g. "node cf-x spec.podCIDR"). */
export function parseIpv4Cidr(text: string, what = "CIDR"): Ipv4Cidr {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text.trim());
  if (!m || !isIPv4(m[1]!) || Number(m[2]) > 32) throw new Error(`${what}: "${text}" is not an IPv4 CIDR such as 10.244.1.0/24`);
  const prefixLength = Number(m[2]);
  const size = 2 ** (32 - prefixLength);
  const addr = ipv4ToNumber(m[1]!);
  const network = addr - (addr % size);
  return { network, prefixLength, size };
}

export function formatCidr(c: Ipv4Cidr): string {
  return `${numberToIpv4(c.network)}/${c.prefixLength}`;
}

export function cidrContains(c: Ipv4Cidr, ip: number): boolean {
  return ip >= c.network && ip < c.network + c.size;
}
