// HTTP probe: one request over a connection whose source port we bound ourselves.
import http from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import { classifyHttpResponse } from "../classify.js";
import type { HttpEcho, HttpProbe, ProbeResult } from "../schema.js";
import { HttpEchoSchema } from "../schema.js";
import { asSocketError } from "../sockets.js";
import type { ProbeContext } from "./context.js";
import { ResultDraft, round } from "./context.js";
import { connectForProbe, raceTimeout } from "./tcp.js";

/** Enough for any echo document; larger bodies are cut (the probe is about reachability). */
const MAX_BODY_READ = 64 * 1024;
/** What the result carries of the body, to keep batch output small. */
const MAX_BODY_REPORTED = 4096;

export const PROBE_USER_AGENT = "conform-probe/1";

function flattenHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

function parseEcho(body: string): HttpEcho | undefined {
  try {
    const parsed = HttpEchoSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function runHttpProbe(probe: HttpProbe, ctx: ProbeContext): Promise<ProbeResult> {
  const draft = new ResultDraft(probe, ctx);
  const socket = await connectForProbe(draft, ctx, probe);
  if (!("write" in socket)) return socket;
  const hostHeader = probe.port === 80 ? probe.host : `${probe.host.includes(":") ? `[${probe.host}]` : probe.host}:${probe.port}`;
  const headers: Record<string, string> = { host: hostHeader, "user-agent": PROBE_USER_AGENT, connection: "close", ...probe.headers };
  const t = performance.now();
  const exchange = new Promise<{ status: number; headers: Record<string, string>; body: Buffer; truncated: boolean }>((resolve, reject) => {
    const req = http.request({
      method: probe.method,
      path: probe.path,
      headers,
      // Hand the request our already-connected socket; with no agent, Node uses it as is.
      createConnection: () => socket,
    });
    req.on("error", reject);
    req.on("response", (res) => {
      draft.result.timings.responseMs = round(performance.now() - t);
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      res.on("data", (chunk: Buffer) => {
        if (size < MAX_BODY_READ) chunks.push(chunk);
        else truncated = true;
        size += chunk.length;
      });
      res.on("error", reject);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: flattenHeaders(res.headers), body: Buffer.concat(chunks), truncated }));
    });
    req.end(probe.body);
  });
  const r = await raceTimeout(exchange, probe.timeoutMs - draft.elapsed());
  socket.destroy();
  if (r.kind === "timeout") {
    return draft.finish({ outcome: "TIMEOUT", detail: `connected, but no complete HTTP response within ${probe.timeoutMs} ms` });
  }
  if (r.kind === "error") {
    const err = asSocketError(r.error);
    if (err.code?.startsWith("HPE_")) {
      return draft.finish({ outcome: "PROBE_ERROR", detail: `connected, but the answer is not valid HTTP: ${err.message}` });
    }
    return draft.failSocket(err, "during the HTTP exchange: ");
  }
  const { status, headers: resHeaders, body, truncated } = r.value;
  const text = body.toString("utf8");
  const echo = parseEcho(text);
  draft.result.http = {
    status,
    ...(probe.expectStatus !== undefined ? { statusMatches: probe.expectStatus === status } : {}),
    headers: resHeaders,
    body: text.slice(0, MAX_BODY_REPORTED),
    bodyTruncated: truncated || text.length > MAX_BODY_REPORTED,
    ...(echo ? { echo } : {}),
  };
  return draft.finish(classifyHttpResponse(status, resHeaders, text, probe.expectStatus));
}
