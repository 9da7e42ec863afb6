// UDP probe: one datagram to an echo service; any reply means the path works both ways.
import type { ProbeResult, UdpProbe } from "../schema.js";
import { asSocketError, bindConnectedUdp } from "../sockets.js";
import type { ProbeContext } from "./context.js";
import { ResultDraft, resolveHost, round, sourceAddressFor } from "./context.js";
import { raceAnswer } from "./tcp.js";

export async function runUdpProbe(probe: UdpProbe, ctx: ProbeContext): Promise<ProbeResult> {
  const draft = new ResultDraft(probe, ctx);
  const dest = await resolveHost(draft, ctx, probe);
  if (typeof dest !== "string") return dest;
  const src = await sourceAddressFor(draft, ctx, dest);
  if (typeof src !== "string") return src;
  let bound;
  try {
    bound = await bindConnectedUdp({ host: dest, port: probe.port, localAddress: src, fixedPort: probe.sourcePort, ports: ctx.ports });
  } catch (err) {
    return draft.failSocket(asSocketError(err));
  }
  const { socket, localPort } = bound;
  draft.result.source.port = localPort;
  const sent = Buffer.from(probe.payload ?? `conform-probe ${probe.id}`, "utf8");
  const exchange = { bytesSent: 0, bytesReceived: 0, echoMatches: null as boolean | null };
  draft.result.udp = exchange;
  const t = performance.now();
  const reply = new Promise<Buffer>((resolve, reject) => {
    // On a connected UDP socket the kernel turns an ICMP port unreachable into ECONNREFUSED here.
    socket.on("error", reject);
    socket.on("message", (msg) => resolve(msg));
    socket.send(sent, (err) => {
      if (err) reject(err);
      else exchange.bytesSent = sent.length;
    });
  });
  const tuple = draft.tuple("UDP");
  const watch = tuple ? ctx.drops.watch(tuple) : undefined;
  const r = await raceAnswer(reply, probe.timeoutMs - draft.elapsed(), watch?.dropped);
  watch?.stop();
  socket.close();
  if (r.kind === "dropped") return draft.finishDropped(r.reason, `the UDP datagram to ${dest}:${probe.port}`);
  if (r.kind === "timeout") {
    return draft.finish({ outcome: "TIMEOUT", detail: `no UDP reply from ${dest}:${probe.port} within ${probe.timeoutMs} ms` });
  }
  if (r.kind === "error") return draft.failSocket(asSocketError(r.error));
  draft.result.timings.responseMs = round(performance.now() - t);
  exchange.bytesReceived = r.value.length;
  exchange.echoMatches = r.value.equals(sent);
  return draft.finish({ outcome: "ALLOWED", detail: exchange.echoMatches ? "UDP datagram echoed" : "UDP reply received (differs from the payload)" });
}
