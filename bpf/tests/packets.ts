// Crafted packets for BPF_PROG_TEST_RUN: Ethernet + IPv4/IPv6 + TCP/UDP/ICMP, checksums
// filled in so the same bytes would also be valid on a wire.
import { ipToBytes } from "../../native/ip.js";

export const TCP = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10 } as const;

export interface L4Spec {
  proto: "tcp" | "udp" | "icmp" | "icmpv6" | "sctp" | number;
  sport?: number;
  dport?: number;
  /** TCP flags (default SYN). */
  flags?: number;
  /** ICMP type/code and echo id. */
  icmpType?: number;
  icmpCode?: number;
  echoId?: number;
  /** ICMP errors: the embedded packet (its IP header and first 8 bytes of L4). */
  inner?: Buffer;
  payload?: Buffer;
}

export interface PacketSpec extends L4Spec {
  src: string;
  dst: string;
  ttl?: number;
  /** IPv4 fragmentation: identification, fragment offset in 8-byte units, more-fragments. */
  ipId?: number;
  fragOffset?: number;
  moreFragments?: boolean;
}

const PROTO_NUM: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 };

function sum16(buf: Buffer, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) s += buf.readUInt16BE(i);
  if (buf.length & 1) s += (buf[buf.length - 1] ?? 0) << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return s;
}

function checksum(buf: Buffer, initial = 0): number {
  return ~sum16(buf, initial) & 0xffff;
}

function protoNumber(p: L4Spec["proto"]): number {
  return typeof p === "number" ? p : (PROTO_NUM[p] ?? 0);
}

/** The L4 header and payload, checksum not yet filled for TCP/UDP (needs the pseudo header). */
function l4Bytes(s: L4Spec, v6: boolean): Buffer {
  const payload = s.payload ?? Buffer.alloc(0);
  const proto = protoNumber(s.proto);
  if (proto === 6) {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(s.sport ?? 40000, 0);
    h.writeUInt16BE(s.dport ?? 80, 2);
    h.writeUInt32BE(1000, 4);
    h.writeUInt32BE((s.flags ?? TCP.syn) & TCP.ack ? 2000 : 0, 8);
    h[12] = 5 << 4;
    h[13] = s.flags ?? TCP.syn;
    h.writeUInt16BE(65535, 14);
    return Buffer.concat([h, payload]);
  }
  if (proto === 17 || proto === 132) {
    const h = Buffer.alloc(proto === 17 ? 8 : 12);
    h.writeUInt16BE(s.sport ?? 40000, 0);
    h.writeUInt16BE(s.dport ?? 53, 2);
    if (proto === 17) h.writeUInt16BE(8 + payload.length, 4);
    return Buffer.concat([h, payload]);
  }
  if (proto === 1 || proto === 58) {
    const h = Buffer.alloc(8);
    h[0] = s.icmpType ?? (v6 ? 128 : 8);
    h[1] = s.icmpCode ?? 0;
    h.writeUInt16BE(s.echoId ?? 0x1234, 4);
    h.writeUInt16BE(1, 6);
    const body = Buffer.concat([h, s.inner ?? Buffer.alloc(0), payload]);
    if (proto === 1) body.writeUInt16BE(checksum(body), 2);
    return body;
  }
  return payload;
}

/** An IPv4 or IPv6 packet without the Ethernet header (also usable as an ICMP error's inner packet). */
export function ipPacket(s: PacketSpec): Buffer {
  const src = ipToBytes(s.src);
  const dst = ipToBytes(s.dst);
  if (src.family !== dst.family) throw new Error(`mixed address families: ${s.src} -> ${s.dst}`);
  const v6 = src.family === 6;
  const proto = protoNumber(s.proto);
  const l4 = s.fragOffset ? (s.payload ?? Buffer.alloc(8)) : l4Bytes(s, v6);
  let pseudo: Buffer;
  let ip: Buffer;
  if (!v6) {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + l4.length, 2);
    ip.writeUInt16BE(s.ipId ?? 1, 4);
    ip.writeUInt16BE(((s.moreFragments ? 1 : 0) << 13) | (s.fragOffset ?? 0), 6);
    ip[8] = s.ttl ?? 64;
    ip[9] = proto;
    src.bytes.copy(ip, 12);
    dst.bytes.copy(ip, 16);
    ip.writeUInt16BE(checksum(ip), 10);
    pseudo = Buffer.concat([src.bytes, dst.bytes, Buffer.from([0, proto, l4.length >> 8, l4.length & 0xff])]);
  } else {
    ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(l4.length, 4);
    ip[6] = proto;
    ip[7] = s.ttl ?? 64;
    src.bytes.copy(ip, 8);
    dst.bytes.copy(ip, 24);
    const len = Buffer.alloc(8);
    len.writeUInt32BE(l4.length, 0);
    len[7] = proto;
    pseudo = Buffer.concat([src.bytes, dst.bytes, len]);
  }
  if (!s.fragOffset) {
    const off = proto === 6 ? 16 : proto === 17 ? 6 : proto === 58 ? 2 : -1;
    if (off >= 0) l4.writeUInt16BE(checksum(l4, sum16(pseudo)), off);
  }
  return Buffer.concat([ip, l4]);
}

/** A full frame (Ethernet + IP) for a tc program. */
export function frame(s: PacketSpec): Buffer {
  const eth = Buffer.alloc(14);
  Buffer.from([0x02, 0, 0, 0, 0, 0x02]).copy(eth, 0);
  Buffer.from([0x02, 0, 0, 0, 0, 0x01]).copy(eth, 6);
  const v6 = ipToBytes(s.src).family === 6;
  eth.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  return Buffer.concat([eth, ipPacket(s)]);
}

/** An ARP request frame (non-IP traffic, must pass untouched). */
export function arpFrame(): Buffer {
  const f = Buffer.alloc(42);
  f.fill(0xff, 0, 6);
  Buffer.from([0x02, 0, 0, 0, 0, 0x01]).copy(f, 6);
  f.writeUInt16BE(0x0806, 12);
  f.writeUInt16BE(1, 14);
  f.writeUInt16BE(0x0800, 16);
  f[18] = 6;
  f[19] = 4;
  f.writeUInt16BE(1, 20);
  return f;
}
