// A single DNS exchange over UDP or TCP from a bound, known source port. Used by DNS probes and
// to resolve probe targets given by name, so the query's own 5-tuple can be matched to flows too.
import { randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import type * as DnsPacket from "dns-packet";
import type { DnsAnswer } from "./schema.js";
import type { PortAllocator, SocketError } from "./sockets.js";
import { asSocketError, bindConnectedUdp, startTcpConnect } from "./sockets.js";

export interface DnsQuery {
  name: string;
  type: string;
  server: { address: string; port: number };
  transport: "udp" | "tcp";
  localAddress: string;
  fixedPort?: number | undefined;
  ports: PortAllocator;
  timeoutMs: number;
  /** Once the query's source port is bound: a drop notice for its 5-tuple ends the wait (drop-board.ts). */
  watchDrop?: (localPort: number, protocol: "TCP" | "UDP") => { dropped: Promise<string>; stop: () => void };
}

type DnsPacketModule = typeof DnsPacket;
let codec: Promise<DnsPacketModule> | undefined;

/** dns-packet is loaded on the first DNS exchange: batches without names or DNS probes skip it. */
function loadCodec(): Promise<DnsPacketModule> {
  return (codec ??= import("dns-packet").then((m) => (m as unknown as { default: DnsPacketModule }).default));
}

export type DnsExchangeOutcome =
  | { kind: "answer"; rcode: string; answers: DnsAnswer[]; localPort: number; responseMs: number }
  | { kind: "timeout"; localPort: number }
  | { kind: "dropped"; reason: string; localPort: number }
  | { kind: "error"; error: SocketError; localPort: number | null };

function encodeQuery(dp: DnsPacketModule, name: string, type: string, id: number): DnsPacket.Packet {
  return {
    type: "query",
    id,
    flags: dp.RECURSION_DESIRED,
    questions: [{ type: type as DnsPacket.RecordType, name: name.replace(/\.$/, "") }],
  };
}

function answerData(a: DnsPacket.Answer): string {
  if (!("data" in a)) return "";
  const d: unknown = a.data;
  if (typeof d === "string") return d;
  if (Buffer.isBuffer(d)) return d.toString("utf8");
  if (Array.isArray(d)) return d.map((x) => (Buffer.isBuffer(x) ? x.toString("utf8") : String(x))).join("");
  return JSON.stringify(d);
}

export function toAnswers(packet: DnsPacket.Packet): DnsAnswer[] {
  return (packet.answers ?? []).map((a) => ({
    name: a.name,
    type: a.type,
    ttl: "ttl" in a && typeof a.ttl === "number" ? a.ttl : 0,
    data: answerData(a),
  }));
}

function rcodeOf(packet: DnsPacket.DecodedPacket): string {
  // dns-packet decodes the rcode into a field its type definitions do not declare.
  return (packet as unknown as { rcode?: string }).rcode ?? "UNKNOWN";
}

export async function dnsExchange(q: DnsQuery): Promise<DnsExchangeOutcome> {
  const dp = await loadCodec();
  return q.transport === "udp" ? udpExchange(dp, q) : tcpExchange(dp, q);
}

async function udpExchange(dp: DnsPacketModule, q: DnsQuery): Promise<DnsExchangeOutcome> {
  let bound;
  try {
    bound = await bindConnectedUdp({ host: q.server.address, port: q.server.port, localAddress: q.localAddress, fixedPort: q.fixedPort, ports: q.ports });
  } catch (err) {
    return { kind: "error", error: asSocketError(err), localPort: null };
  }
  const { socket, localPort } = bound;
  const id = randomInt(0, 65536);
  const started = performance.now();
  const watch = q.watchDrop?.(localPort, "UDP");
  return new Promise((resolve) => {
    let settled = false;
    const finish = (o: DnsExchangeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      watch?.stop();
      socket.close();
      resolve(o);
    };
    void watch?.dropped.then((reason) => finish({ kind: "dropped", reason, localPort }));
    const timer = setTimeout(() => finish({ kind: "timeout", localPort }), q.timeoutMs);
    socket.on("error", (err) => finish({ kind: "error", error: err as SocketError, localPort }));
    socket.on("message", (msg) => {
      let packet: DnsPacket.DecodedPacket;
      try {
        packet = dp.decode(msg);
      } catch {
        return; // not a DNS answer; keep waiting for one
      }
      if (packet.id !== id) return;
      finish({ kind: "answer", rcode: rcodeOf(packet), answers: toAnswers(packet), localPort, responseMs: performance.now() - started });
    });
    socket.send(dp.encode(encodeQuery(dp, q.name, q.type, id)), (err) => {
      if (err) finish({ kind: "error", error: err as SocketError, localPort });
    });
  });
}

async function tcpExchange(dp: DnsPacketModule, q: DnsQuery): Promise<DnsExchangeOutcome> {
  const deadline = performance.now() + q.timeoutMs;
  let started;
  try {
    started = await startTcpConnect({ host: q.server.address, port: q.server.port, localAddress: q.localAddress, fixedPort: q.fixedPort, ports: q.ports });
  } catch (err) {
    return { kind: "error", error: asSocketError(err), localPort: null };
  }
  const { socket, localPort } = started.attempt;
  const id = randomInt(0, 65536);
  const watch = q.watchDrop?.(localPort, "TCP");
  return new Promise((resolve) => {
    let settled = false;
    let sentAt = 0;
    const finish = (o: DnsExchangeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      watch?.stop();
      socket.destroy();
      resolve(o);
    };
    void watch?.dropped.then((reason) => finish({ kind: "dropped", reason, localPort }));
    const timer = setTimeout(() => finish({ kind: "timeout", localPort }), Math.max(0, deadline - performance.now()));
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      try {
        const packet = dp.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        finish({ kind: "answer", rcode: rcodeOf(packet), answers: toAnswers(packet), localPort, responseMs: performance.now() - sentAt });
      } catch (err) {
        finish({ kind: "error", error: Object.assign(asSocketError(err), { code: "EBADRESP" }), localPort });
      }
    });
    socket.on("error", (err) => finish({ kind: "error", error: err as SocketError, localPort }));
    socket.on("end", () => finish({ kind: "error", error: Object.assign(new Error("server closed the connection without an answer"), { code: "ECONNRESET" }), localPort }));
    started.connected.then(
      () => {
        sentAt = performance.now();
        socket.write(dp.streamEncode(encodeQuery(dp, q.name, q.type, id)));
      },
      (err: unknown) => finish({ kind: "error", error: asSocketError(err), localPort }),
    );
  });
}

/** Nameserver addresses from resolv.conf text, in order. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (m?.[1]) out.push(m[1].replace(/%.*$/, ""));
  }
  return out;
}

/** The pod's default resolver, as a pod's own libc would pick it. */
export async function defaultNameserver(path = "/etc/resolv.conf"): Promise<string | undefined> {
  try {
    return parseResolvConf(await readFile(path, "utf8"))[0];
  } catch {
    return undefined;
  }
}
