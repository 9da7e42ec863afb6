/**
 * Client side of the agent API, for `conform observe` and the harness: endpoints are
 * `unix:/path/to.sock`, `http://host:port` or `host:port`.
 */
import { request, type IncomingMessage } from "node:http";
import { createInterface } from "node:readline";
import { FlowLineSchema, type FlowLine } from "../observer/flow.js";

export interface AgentAddress {
  /** As the user wrote it, for messages. */
  readonly label: string;
  readonly socketPath?: string;
  readonly host?: string;
  readonly port?: number;
}

export function parseAgentAddress(spec: string): AgentAddress {
  if (spec.startsWith("unix:")) {
    const path = spec.slice("unix:".length).replace(/^\/\/(?=\/)/, "");
    if (!path) throw new Error(`--server ${spec}: missing socket path after unix:`);
    return { label: spec, socketPath: path };
  }
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(spec) ? spec : `http://${spec}`);
  } catch {
    throw new Error(`--server ${spec}: expected unix:<path>, http://<host>:<port> or <host>:<port>`);
  }
  if (url.protocol !== "http:") throw new Error(`--server ${spec}: only http:// and unix: are supported`);
  return { label: spec, host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port ? Number(url.port) : 4244 };
}

function get(addr: AgentAddress, path: string, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(
      { method: "GET", path, ...(addr.socketPath ? { socketPath: addr.socketPath } : { host: addr.host, port: addr.port }), ...(signal ? { signal } : {}) },
      resolve,
    );
    req.on("error", (err) => reject(new Error(`agent ${addr.label}: ${err.message}`)));
    req.end();
  });
}

async function failure(addr: AgentAddress, res: IncomingMessage): Promise<Error> {
  let body = "";
  for await (const chunk of res) body += String(chunk);
  let message = body.trim();
  try {
    message = (JSON.parse(body) as { error?: string }).error ?? message;
  } catch {
    // not JSON: keep the raw body
  }
  return new Error(`agent ${addr.label}: HTTP ${res.statusCode}: ${message}`);
}

export async function getAgentJson(addr: AgentAddress, path: string): Promise<unknown> {
  const res = await get(addr, path);
  if (res.statusCode !== 200) throw await failure(addr, res);
  let body = "";
  for await (const chunk of res) body += String(chunk);
  return JSON.parse(body);
}

/**
 * Streams `/v1/flows` lines to `onLine` until the agent ends the response (or `signal`
 * aborts). Lines that are not JSON or carry no known record are reported, never fatal.
 */
export async function streamAgentFlows(
  addr: AgentAddress,
  params: URLSearchParams,
  onLine: (line: FlowLine) => void,
  opts: { signal?: AbortSignal; onBadLine?: (text: string) => void; onConnected?: () => void } = {},
): Promise<void> {
  const query = params.toString();
  const res = await get(addr, `/v1/flows${query ? `?${query}` : ""}`, opts.signal);
  if (res.statusCode !== 200) throw await failure(addr, res);
  // Under follow the agent sends headers once it is subscribed: flows from now on will arrive.
  opts.onConnected?.();
  const lines = createInterface({ input: res, crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      if (!text.trim()) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        opts.onBadLine?.(text);
        continue;
      }
      const r = FlowLineSchema.safeParse(parsed);
      if (r.success) onLine(r.data);
      else opts.onBadLine?.(text);
    }
  } catch (err) {
    if (!opts.signal?.aborted) throw new Error(`agent ${addr.label}: ${(err as Error).message}`);
  }
}
