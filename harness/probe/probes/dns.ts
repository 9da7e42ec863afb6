// DNS probe: one query, classified by the response code.
import { classifyDnsRcode } from "../classify.js";
import { dnsExchange } from "../dns-client.js";
import type { DnsProbe, ProbeResult } from "../schema.js";
import { parseServerAddress } from "../schema.js";
import type { ProbeContext } from "./context.js";
import { ResultDraft, round, sourceAddressFor } from "./context.js";

export async function runDnsProbe(probe: DnsProbe, ctx: ProbeContext): Promise<ProbeResult> {
  const draft = new ResultDraft(probe, ctx);
  const serverText = probe.server ?? (await ctx.nameserver());
  const server = serverText ? parseServerAddress(serverText) : undefined;
  if (!server) return draft.finish({ outcome: "PROBE_ERROR", detail: "no server given and no usable nameserver in /etc/resolv.conf" });
  draft.result.destination = { address: server.address, port: server.port };
  const exchange = {
    name: probe.name,
    type: probe.type,
    server: { address: server.address, port: server.port },
    source: draft.result.source,
    transport: probe.transport,
    rcode: null as string | null,
    answers: [] as { name: string; type: string; ttl: number; data: string }[],
  };
  draft.result.dns = exchange;
  const src = await sourceAddressFor(draft, ctx, server.address);
  if (typeof src !== "string") return src;
  const o = await dnsExchange({
    name: probe.name,
    type: probe.type,
    server,
    transport: probe.transport,
    localAddress: src,
    fixedPort: probe.sourcePort,
    ports: ctx.ports,
    timeoutMs: Math.max(1, probe.timeoutMs - draft.elapsed()),
    watchDrop: (port, protocol) => ctx.drops.watch({ protocol, source: { address: src, port }, destination: { address: server.address, port: server.port } }),
  });
  draft.result.source.port = o.localPort;
  if (o.kind === "dropped") return draft.finishDropped(o.reason, `the DNS query to ${server.address}:${server.port}`);
  if (o.kind === "timeout") {
    return draft.finish({ outcome: "TIMEOUT", detail: `no DNS answer from ${server.address}:${server.port} within ${probe.timeoutMs} ms` });
  }
  if (o.kind === "error") return draft.failSocket(o.error);
  draft.result.timings.responseMs = round(o.responseMs);
  exchange.rcode = o.rcode;
  exchange.answers = o.answers;
  return draft.finish(classifyDnsRcode(o.rcode, o.answers.length));
}
