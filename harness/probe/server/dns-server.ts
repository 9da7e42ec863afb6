// Authoritative DNS for test zones, over UDP and TCP on the same port: A/AAAA from the zone,
// NXDOMAIN for unknown names inside a zone, REFUSED for anything outside (it is no resolver).
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";
import { listen } from "./http-echo.js";
import type { Listener } from "./listener.js";
import type { ServerLog } from "./log.js";
import { peer } from "./log.js";
import { bindUdp } from "./stream-echo.js";
import type { Zone } from "./zone.js";
import { lookupZone } from "./zone.js";

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODE;

function soa(zone: Zone): dnsPacket.Answer {
  return {
    type: "SOA",
    name: zone.origin,
    ttl: zone.ttl,
    data: { mname: `ns.${zone.origin}`, rname: `hostmaster.${zone.origin}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: zone.ttl },
  };
}

/** Builds the answer packet for one query; pure, so it is unit-tested without sockets. */
export function answerQuery(zones: readonly Zone[], query: dnsPacket.DecodedPacket): { packet: dnsPacket.Packet; rcode: Rcode; name: string; type: string } {
  const rd = query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0;
  const questions = query.questions ?? [];
  const q = questions[0];
  const reply = (rcode: Rcode, extra: Partial<dnsPacket.Packet> = {}, aa = true) => ({
    packet: {
      type: "response" as const,
      id: query.id ?? 0,
      flags: (aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rd | RCODE[rcode],
      questions,
      ...extra,
    },
    rcode,
    name: q?.name ?? "",
    type: q?.type ?? "",
  });
  const opcode = (query as unknown as { opcode?: string }).opcode;
  if (opcode && opcode !== "QUERY") return reply("NOTIMP", {}, false);
  if (!q || questions.length !== 1) return reply("FORMERR", {}, false);
  if (q.type === "SOA") {
    const found = lookupZone(zones, q.name, "SOA");
    if (found.rcode === "REFUSED") return reply("REFUSED", {}, false);
    if (found.zone.origin === q.name.toLowerCase().replace(/\.$/, "")) return reply("NOERROR", { answers: [soa(found.zone)] });
    return reply(found.rcode, { authorities: [soa(found.zone)] });
  }
  const found = lookupZone(zones, q.name, q.type);
  if (found.rcode === "REFUSED") return reply("REFUSED", {}, false);
  const answers = found.answers.map((a) => ({ type: a.type, name: q.name, ttl: found.zone.ttl, data: a.data }));
  // Negative answers carry the SOA so resolvers in between can cache them properly.
  return reply(found.rcode, answers.length > 0 ? { answers } : { authorities: [soa(found.zone)] });
}

export async function startDnsServer(opts: { port: number; bind: string; zones: readonly Zone[]; log: ServerLog }): Promise<Listener> {
  const udp = dgram.createSocket(net.isIPv6(opts.bind) ? "udp6" : "udp4");
  udp.on("message", (msg, rinfo) => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // not DNS; a real server would also stay silent
    }
    const a = answerQuery(opts.zones, query);
    udp.send(dnsPacket.encode(a.packet), rinfo.port, rinfo.address);
    opts.log({ proto: "dns", transport: "udp", client: peer(rinfo.address, rinfo.port), name: a.name, type: a.type, rcode: a.rcode });
  });
  const udpListener = await bindUdp(udp, opts.port, opts.bind, "dns");

  const tcp = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        let query: dnsPacket.DecodedPacket;
        try {
          query = dnsPacket.decode(msg);
        } catch {
          socket.destroy();
          return;
        }
        const a = answerQuery(opts.zones, query);
        socket.write(dnsPacket.streamEncode(a.packet));
        opts.log({ proto: "dns", transport: "tcp", client: peer(socket.remoteAddress, socket.remotePort), name: a.name, type: a.type, rcode: a.rcode });
      }
    });
  });
  let tcpListener: Listener;
  try {
    tcpListener = await listen(tcp, udpListener.port, opts.bind, "dns");
  } catch (err) {
    await udpListener.close();
    throw err;
  }
  return {
    proto: "dns",
    port: udpListener.port,
    close: async () => {
      await Promise.all([udpListener.close(), tcpListener.close()]);
    },
  };
}
