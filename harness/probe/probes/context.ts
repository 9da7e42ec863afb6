// What every probe runner shares: the batch's port allocator, its clock, the default resolver,
// and a small builder that fills in the result fields common to all kinds.
import { isIP } from "node:net";
import type { Classified, SocketErrorLike } from "../classify.js";
import { classifyDnsRcode, classifySocketError } from "../classify.js";
import { defaultNameserver, dnsExchange } from "../dns-client.js";
import { DropBoard } from "../drop-board.js";
import type { FiveTuple } from "../drop-board.js";
import type { DnsExchange, Probe, ProbeResult } from "../schema.js";
import { parseServerAddress } from "../schema.js";
import type { PortAllocator } from "../sockets.js";
import { asSocketError, routeSourceAddress } from "../sockets.js";

export interface ProbeContext {
  /** performance.now() at batch start; result.timings.startMs is relative to it. */
  batchStart: number;
  ports: PortAllocator;
  /** Memoised per batch: the first nameserver of the pod's resolv.conf. */
  nameserver(): Promise<string | undefined>;
  /** Memoised per batch and destination: routes do not change under a batch. */
  sourceFor(dest: string): Promise<string>;
  /** Drop notices from the harness, for ending a probe whose packet the datapath dropped. */
  drops: DropBoard;
}

export function createContext(ports: PortAllocator, batchStart = performance.now(), drops = new DropBoard()): ProbeContext {
  let ns: Promise<string | undefined> | undefined;
  const sources = new Map<string, Promise<string>>();
  return {
    batchStart,
    ports,
    drops,
    nameserver: () => (ns ??= defaultNameserver()),
    sourceFor: (dest) => {
      let p = sources.get(dest);
      if (!p) {
        p = routeSourceAddress(dest);
        sources.set(dest, p);
        p.catch(() => undefined);
      }
      return p;
    },
  };
}

export class ResultDraft {
  readonly t0 = performance.now();
  readonly result: ProbeResult;

  constructor(probe: Probe, ctx: ProbeContext) {
    this.result = {
      id: probe.id,
      kind: probe.kind,
      outcome: "PROBE_ERROR",
      detail: "",
      source: { address: null, port: null },
      destination: { address: null, port: "port" in probe ? probe.port : null },
      timings: { startedAt: new Date().toISOString(), startMs: round(this.t0 - ctx.batchStart), totalMs: 0 },
    };
  }

  elapsed(): number {
    return performance.now() - this.t0;
  }

  finish(c: Classified): ProbeResult {
    this.result.outcome = c.outcome;
    this.result.detail = c.detail;
    this.result.timings.totalMs = round(this.elapsed());
    return this.result;
  }

  /** The wait for an answer ended because the harness saw the packet dropped (drop-board.ts). */
  finishDropped(reason: string, what: string): ProbeResult {
    const afterMs = round(this.elapsed());
    this.result.endedEarly = { reason, afterMs };
    return this.finish({ outcome: "TIMEOUT", detail: `no answer to ${what}: the datapath dropped it (${reason}), so the probe stopped waiting after ${afterMs} ms` });
  }

  /** The 5-tuple this probe's packets carry, once its socket is bound. */
  tuple(protocol: FiveTuple["protocol"]): FiveTuple | undefined {
    const { source, destination } = this.result;
    if (source.address === null || source.port === null || destination.address === null || destination.port === null) return undefined;
    return { protocol, source: { address: source.address, port: source.port }, destination: { address: destination.address, port: destination.port } };
  }

  failSocket(err: SocketErrorLike, prefix = ""): ProbeResult {
    const e = asSocketError(err);
    if (e.code) this.result.error = { code: e.code, ...(e.syscall ? { syscall: e.syscall } : {}) };
    const c = classifySocketError(e);
    return this.finish({ outcome: c.outcome, detail: prefix + c.detail });
  }
}

export function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Source address lookup; a routing failure is itself the probe's answer (no route → REJECTED). */
export async function sourceAddressFor(draft: ResultDraft, ctx: ProbeContext, dest: string): Promise<string | ProbeResult> {
  try {
    const address = await ctx.sourceFor(dest);
    draft.result.source.address = address;
    return address;
  } catch (err) {
    const e = asSocketError(err);
    if (e.code === "ENETUNREACH" || e.code === "EHOSTUNREACH") {
      draft.result.error = { code: e.code, syscall: "connect" };
      return draft.finish({ outcome: "REJECTED", detail: `no route from this pod to ${dest} (${e.code}); nothing was sent` });
    }
    return draft.failSocket(e, "before sending: ");
  }
}

/**
 * Turns `host` into an address. Names go through one DNS A query (absolute name, no search list)
 * to `dnsServer` or the pod's resolver; a name that does not resolve makes the probe DNS_FAILED,
 * whatever stopped the answer, because the probe never got to its real destination.
 */
export async function resolveHost(
  draft: ResultDraft,
  ctx: ProbeContext,
  probe: { host: string; dnsServer?: string | undefined; timeoutMs: number },
): Promise<string | ProbeResult> {
  if (isIP(probe.host) !== 0) {
    draft.result.destination.address = probe.host;
    return probe.host;
  }
  const serverText = probe.dnsServer ?? (await ctx.nameserver());
  const server = serverText ? parseServerAddress(serverText) : undefined;
  if (!server) {
    return draft.finish({ outcome: "PROBE_ERROR", detail: `cannot resolve ${probe.host}: no dnsServer given and no usable nameserver in /etc/resolv.conf` });
  }
  const exchange: DnsExchange = {
    name: probe.host,
    type: "A",
    server: { address: server.address, port: server.port },
    source: { address: null, port: null },
    transport: "udp",
    rcode: null,
    answers: [],
  };
  draft.result.dns = exchange;
  let localAddress: string;
  try {
    localAddress = await ctx.sourceFor(server.address);
  } catch (err) {
    const c = classifySocketError(asSocketError(err));
    return draft.finish({ outcome: "DNS_FAILED", detail: `resolving ${probe.host}: ${c.detail}` });
  }
  exchange.source.address = localAddress;
  const t = performance.now();
  const o = await dnsExchange({
    name: probe.host,
    type: "A",
    server,
    transport: "udp",
    localAddress,
    ports: ctx.ports,
    timeoutMs: Math.max(1, probe.timeoutMs - draft.elapsed()),
  });
  draft.result.timings.dnsMs = round(performance.now() - t);
  exchange.source.port = o.localPort;
  if (o.kind === "timeout" || o.kind === "dropped") {
    return draft.finish({ outcome: "DNS_FAILED", detail: `resolving ${probe.host}: no DNS answer from ${serverText} before the timeout` });
  }
  if (o.kind === "error") {
    const c = classifySocketError(o.error);
    return draft.finish({ outcome: c.outcome === "PROBE_ERROR" ? "PROBE_ERROR" : "DNS_FAILED", detail: `resolving ${probe.host}: ${c.detail}` });
  }
  exchange.rcode = o.rcode;
  exchange.answers = o.answers;
  const a = o.answers.find((x) => x.type === "A");
  if (o.rcode !== "NOERROR" || !a) {
    const c = classifyDnsRcode(o.rcode, 0);
    return draft.finish({ outcome: "DNS_FAILED", detail: `resolving ${probe.host}: ${c.outcome === "ALLOWED" ? "no A record" : c.detail}` });
  }
  draft.result.destination.address = a.data;
  return a.data;
}
