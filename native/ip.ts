// IP address <-> bytes, for codecs whose kernel fields hold addresses in network order.
import { isIPv4, isIPv6 } from "node:net";

export type IpFamily = 4 | 6;

/** 4 or 16 network-order bytes of an address; throws naming the bad text. */
export function ipToBytes(text: string): { family: IpFamily; bytes: Buffer } {
  if (isIPv4(text)) return { family: 4, bytes: Buffer.from(text.split(".").map((p) => Number(p))) };
  if (!isIPv6(text)) throw new TypeError(`not an IP address: "${text}"`);
  let s = text;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hextets.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted?.[1]) {
    const b = Buffer.from(dotted[1].split(".").map((p) => Number(p)));
    s = s.slice(0, -dotted[1].length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head = "", tail] = s.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  return { family: 6, bytes };
}

// Decimal text of every octet, so formatting an IPv4 address is three concatenations.
const OCTET = Array.from({ length: 256 }, (_, i) => String(i));

/** Text form of an address held in `bytes` at `offset` (4 bytes for IPv4, 16 for IPv6). */
export function bytesToIp(bytes: Uint8Array, family: IpFamily, offset = 0): string {
  if (family === 4) {
    return `${OCTET[bytes[offset] ?? 0]}.${OCTET[bytes[offset + 1] ?? 0]}.${OCTET[bytes[offset + 2] ?? 0]}.${OCTET[bytes[offset + 3] ?? 0]}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[offset + 2 * i] ?? 0) << 8) | (bytes[offset + 2 * i + 1] ?? 0));
  // RFC 5952: compress the longest run (length >= 2) of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/** Parse "10.0.0.0/8" or "2001:db8::/32"; a bare address gets the full length. */
export function parseCidr(text: string): { family: IpFamily; bytes: Buffer; prefixLen: number } {
  const slash = text.indexOf("/");
  const addr = slash >= 0 ? text.slice(0, slash) : text;
  const { family, bytes } = ipToBytes(addr);
  const max = family === 4 ? 32 : 128;
  const prefixLen = slash >= 0 ? Number(text.slice(slash + 1)) : max;
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max || (slash >= 0 && text.slice(slash + 1).trim() === "")) {
    throw new TypeError(`invalid prefix length in "${text}" (0..${max})`);
  }
  // Host bits are cleared, as the LPM trie ignores them anyway and keys must be canonical.
  for (let bit = prefixLen; bit < max; bit++) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) & ~(0x80 >> (bit & 7));
  return { family, bytes, prefixLen };
}
