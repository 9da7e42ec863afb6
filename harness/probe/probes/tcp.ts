// TCP connect probe, and the connection step the HTTP probe builds on.
import type net from "node:net";
import type { ProbeResult, TcpProbe } from "../schema.js";
import { asSocketError, startTcpConnect } from "../sockets.js";
import type { ProbeContext } from "./context.js";
import { ResultDraft, resolveHost, round, sourceAddressFor } from "./context.js";

export type Raced<T> = { kind: "ok"; value: T } | { kind: "timeout" } | { kind: "error"; error: unknown };

export function raceTimeout<T>(p: Promise<T>, ms: number): Promise<Raced<T>> {
  return raceAnswer(p, ms) as Promise<Raced<T>>;
}

/** Waits for `p`, at most `ms`, and no longer than until `dropped` (a drop notice) resolves. */
export function raceAnswer<T>(p: Promise<T>, ms: number, dropped?: Promise<string>): Promise<Raced<T> | { kind: "dropped"; reason: string }> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ kind: "timeout" }), Math.max(0, ms));
    void dropped?.then((reason) => {
      clearTimeout(timer);
      resolve({ kind: "dropped", reason });
    });
    p.then(
      (value) => {
        clearTimeout(timer);
        resolve({ kind: "ok", value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ kind: "error", error });
      },
    );
  });
}

/**
 * Resolves the target, binds a known source and completes the handshake within the probe's
 * budget. Returns the connected socket, or the finished result when the probe ended here.
 */
export async function connectForProbe(
  draft: ResultDraft,
  ctx: ProbeContext,
  probe: { host: string; port: number; dnsServer?: string | undefined; timeoutMs: number; sourcePort?: number | undefined },
): Promise<net.Socket | ProbeResult> {
  const dest = await resolveHost(draft, ctx, probe);
  if (typeof dest !== "string") return dest;
  const src = await sourceAddressFor(draft, ctx, dest);
  if (typeof src !== "string") return src;
  const t = performance.now();
  let started;
  try {
    started = await startTcpConnect({ host: dest, port: probe.port, localAddress: src, fixedPort: probe.sourcePort, ports: ctx.ports });
  } catch (err) {
    return draft.failSocket(asSocketError(err));
  }
  const { socket, localPort } = started.attempt;
  draft.result.source.port = localPort;
  const tuple = draft.tuple("TCP");
  const watch = tuple ? ctx.drops.watch(tuple) : undefined;
  const r = await raceAnswer(started.connected, probe.timeoutMs - draft.elapsed(), watch?.dropped);
  watch?.stop();
  if (r.kind === "timeout" || r.kind === "dropped") {
    socket.destroy();
    if (r.kind === "dropped") return draft.finishDropped(r.reason, `the TCP SYN to ${dest}:${probe.port}`);
    return draft.finish({ outcome: "TIMEOUT", detail: `no answer to the TCP SYN to ${dest}:${probe.port} within ${probe.timeoutMs} ms` });
  }
  if (r.kind === "error") {
    socket.destroy();
    return draft.failSocket(asSocketError(r.error));
  }
  draft.result.timings.connectMs = round(performance.now() - t);
  return socket;
}

export async function runTcpProbe(probe: TcpProbe, ctx: ProbeContext): Promise<ProbeResult> {
  const draft = new ResultDraft(probe, ctx);
  const socket = await connectForProbe(draft, ctx, probe);
  if (!("write" in socket)) return socket;
  if (probe.payload === undefined) {
    socket.destroy();
    return draft.finish({ outcome: "ALLOWED", detail: "TCP connection established" });
  }
  const sent = Buffer.from(probe.payload, "utf8");
  const exchange = { bytesSent: sent.length, bytesReceived: 0, echoMatches: null as boolean | null };
  draft.result.tcp = exchange;
  const chunks: Buffer[] = [];
  const t = performance.now();
  const echoed = new Promise<"complete" | "closed">((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      if (chunks.length === 0) draft.result.timings.responseMs = round(performance.now() - t);
      chunks.push(chunk);
      exchange.bytesReceived += chunk.length;
      if (exchange.bytesReceived >= sent.length) resolve("complete");
    });
    socket.on("end", () => resolve("closed"));
    socket.on("error", reject);
  });
  socket.write(sent);
  const r = await raceTimeout(echoed, probe.timeoutMs - draft.elapsed());
  socket.destroy();
  if (exchange.bytesReceived > 0) exchange.echoMatches = Buffer.concat(chunks).subarray(0, sent.length).equals(sent);
  if (r.kind === "error") return draft.failSocket(asSocketError(r.error), "after connect: ");
  if (r.kind === "timeout") {
    return draft.finish({
      outcome: "TIMEOUT",
      detail: `connected, but only ${exchange.bytesReceived} of ${sent.length} bytes came back within ${probe.timeoutMs} ms`,
    });
  }
  if (r.value === "closed" && exchange.bytesReceived < sent.length) {
    return draft.finish({ outcome: "REJECTED", detail: `connected, but the peer closed after ${exchange.bytesReceived} of ${sent.length} bytes` });
  }
  return draft.finish({ outcome: "ALLOWED", detail: exchange.echoMatches ? "TCP connected, payload echoed" : "TCP connected, answer differs from the payload" });
}
