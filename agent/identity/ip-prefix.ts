/**
 * IPv4/IPv6 prefixes for CIDR rules and CIDR identities. Addresses are held as bigint so one
 * code path serves both families; policies hold a few thousand prefixes at most.
 */
import { isIPv4, isIPv6 } from "node:net";

export interface IpPrefix {
  readonly family: 4 | 6;
  /** Network address with host bits cleared. */
  readonly addr: bigint;
  readonly len: number;
}

export type PrefixParse =
  | { ok: true; prefix: IpPrefix; hostBitsSet: boolean }
  | { ok: false; message: string };

function parseV4(text: string): bigint {
  return text.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseV6(text: string): bigint {
  // An embedded IPv4 tail (::ffff:1.2.3.4) is rewritten as two hex groups first.
  if (text.includes(".")) {
    const lastColon = text.lastIndexOf(":");
    const v4 = parseV4(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${((v4 >> 16n) & 0xffffn).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  let parts: string[];
  const dbl = text.indexOf("::");
  if (dbl >= 0) {
    const head = text.slice(0, dbl);
    const tail = text.slice(dbl + 2);
    const h = head === "" ? [] : head.split(":");
    const t = tail === "" ? [] : tail.split(":");
    parts = [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  } else {
    parts = text.split(":");
  }
  return parts.reduce((acc, p) => (acc << 16n) | BigInt(parseInt(p, 16)), 0n);
}

function bits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function mask(family: 4 | 6, len: number): bigint {
  const total = BigInt(bits(family));
  if (len === 0) return 0n;
  return ((1n << BigInt(len)) - 1n) << (total - BigInt(len));
}

/**
 * Parses `addr/len`, or a bare address (a host prefix). Netmask notation (`/255.0.0.0`) is
 * refused: Cilium rejects non-contiguous masks and nobody writes contiguous ones that way.
 */
export function parsePrefix(text: string): PrefixParse {
  const trimmed = text.trim();
  const slash = trimmed.indexOf("/");
  const addrText = slash >= 0 ? trimmed.slice(0, slash) : trimmed;
  const lenText = slash >= 0 ? trimmed.slice(slash + 1) : null;
  let family: 4 | 6;
  if (isIPv4(addrText)) family = 4;
  else if (isIPv6(addrText) && !addrText.includes("%")) family = 6;
  else return { ok: false, message: `"${text}" is not an IP address or CIDR prefix` };
  let len = bits(family);
  if (lenText !== null) {
    if (!/^\d{1,3}$/.test(lenText)) {
      return { ok: false, message: `"${text}": prefix length must be a number (netmask notation and non-contiguous masks are not accepted)` };
    }
    len = Number(lenText);
    if (len > bits(family)) return { ok: false, message: `"${text}": prefix length ${len} exceeds ${bits(family)}` };
  }
  const raw = family === 4 ? parseV4(addrText) : parseV6(addrText);
  const addr = raw & mask(family, len);
  return { ok: true, prefix: { family, addr, len }, hostBitsSet: addr !== raw };
}

export function formatPrefix(p: IpPrefix): string {
  if (p.family === 4) {
    const parts = [24n, 16n, 8n, 0n].map((s) => String((p.addr >> s) & 0xffn));
    return `${parts.join(".")}/${p.len}`;
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((p.addr >> BigInt(i * 16)) & 0xffffn).toString(16));
  // The WHATWG URL serializer writes IPv6 hosts in RFC 5952 form (longest zero run compressed).
  const text = new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
  return `${text}/${p.len}`;
}

/** Whether `inner` lies inside `outer` (equal counts). */
export function prefixContains(outer: IpPrefix, inner: IpPrefix): boolean {
  if (outer.family !== inner.family || inner.len < outer.len) return false;
  return (inner.addr & mask(outer.family, outer.len)) === outer.addr;
}

export function prefixEquals(a: IpPrefix, b: IpPrefix): boolean {
  return a.family === b.family && a.len === b.len && a.addr === b.addr;
}

/** Canonical text of a prefix (host bits cleared, IPv6 compressed). */
export function normalizePrefixText(text: string): string | null {
  const r = parsePrefix(text);
  return r.ok ? formatPrefix(r.prefix) : null;
}
