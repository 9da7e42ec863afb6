/**
 * The agent API: HTTP on a unix socket (mode 0600, for local tools) and on a TCP address
 * (the node address, for `conform observe` across nodes; port 4244 by default, Hubble's peer
 * port). Routes are listed in README.md.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import type { z } from "zod";
import { AgentMetrics } from "../metrics/agent-metrics.js";
import type { StoredFlow } from "../observer/decode.js";
import { FilterError } from "../observer/filters.js";
import { flowLine } from "../observer/flow.js";
import type { FlowObserver } from "../observer/observer.js";
import { matchesQuery, parseFlowQuery, selectFlows, type FlowQuery } from "../observer/query.js";
import {
  AgentStatusSchema,
  checkRevision,
  EndpointStatusSchema,
  IdentityStatusSchema,
  PolicyStatusSchema,
  type AgentStatusProvider,
} from "./provider.js";

export const DEFAULT_API_PORT = 4244;
/** A follower that stops reading is cut off rather than buffering without bound. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export interface AgentApiOptions {
  readonly observer: FlowObserver;
  readonly provider: AgentStatusProvider;
  /** Created (and fed from the observer) when absent. */
  readonly metrics?: AgentMetrics;
  /** Unix socket path; its directory is created. */
  readonly socketPath?: string;
  /** TCP listen address; `port` defaults to 4244, 0 picks a free port. */
  readonly tcp?: { readonly host: string; readonly port?: number };
}

export interface AgentApi {
  readonly metrics: AgentMetrics;
  readonly socketPath?: string;
  readonly tcp?: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function ndjson(f: StoredFlow): string {
  return `${JSON.stringify(flowLine(f.flow))}\n`;
}

function parseQuery(url: URL): FlowQuery {
  try {
    return parseFlowQuery((name) => url.searchParams.getAll(name));
  } catch (err) {
    if (err instanceof FilterError) throw new HttpError(400, err.message, err.flag);
    throw err;
  }
}

function serveFlows(observer: FlowObserver, url: URL, req: IncomingMessage, res: ServerResponse): void {
  const query = parseQuery(url);
  const history = selectFlows(observer.flows(), query);
  res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
  for (const f of history) res.write(ndjson(f));
  if (!query.follow) {
    res.end();
    return;
  }
  res.flushHeaders();
  // History and subscription happen in one tick: no flow can fall between them.
  const off = observer.follow((f) => {
    if (!matchesQuery(f, query)) return;
    if (res.writableLength > MAX_PENDING_BYTES) {
      off();
      res.destroy(new Error("flow follower too slow"));
      return;
    }
    res.write(ndjson(f));
  });
  req.on("close", off);
  res.on("close", off);
}

async function provided<S extends z.ZodType>(schema: S, value: unknown, what: string): Promise<z.infer<S>> {
  const r = schema.safeParse(await value);
  if (!r.success) throw new HttpError(500, `agent returned an invalid ${what}: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return r.data;
}

async function route(opts: AgentApiOptions, metrics: AgentMetrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://agent");
  if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, `${req.method} not allowed; the agent API is read-only`);
  const { provider } = opts;
  switch (url.pathname) {
    case "/v1/flows":
      return serveFlows(opts.observer, url, req, res);
    case "/v1/status": {
      const status = await provided(AgentStatusSchema, provider.status(), "status");
      const wanted = url.searchParams.get("revision");
      if (wanted === null) return sendJson(res, 200, status);
      if (!/^\d+$/.test(wanted)) throw new HttpError(400, `revision must be a non-negative integer, not "${wanted}"`, "revision");
      const policy = await provided(PolicyStatusSchema, provider.policy(), "policy status");
      return sendJson(res, 200, { ...status, revisionCheck: checkRevision(status, policy, Number(wanted)) });
    }
    case "/v1/endpoints":
      return sendJson(res, 200, await provided(EndpointStatusSchema.array(), provider.endpoints(), "endpoint list"));
    case "/v1/identities":
      return sendJson(res, 200, await provided(IdentityStatusSchema.array(), provider.identities(), "identity list"));
    case "/v1/policy":
      return sendJson(res, 200, await provided(PolicyStatusSchema, provider.policy(), "policy status"));
    case "/metrics": {
      const text = await metrics.text();
      res.writeHead(200, { "content-type": metrics.contentType });
      res.end(text);
      return;
    }
    default:
      throw new HttpError(404, `no route ${url.pathname} (routes: /v1/flows, /v1/status, /v1/endpoints, /v1/identities, /v1/policy, /metrics)`);
  }
}

function listen(server: Server, target: string | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = (): void => {
      server.off("error", reject);
      resolve();
    };
    if (typeof target === "string") {
      // The socket must never be reachable by other users, not even between bind and chmod.
      const previous = process.umask(0o177);
      try {
        server.listen(target, done);
      } finally {
        process.umask(previous);
      }
    } else server.listen(target.port, target.host, done);
  });
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
    else throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

export async function startAgentApi(opts: AgentApiOptions): Promise<AgentApi> {
  if (!opts.socketPath && !opts.tcp) throw new Error("agent API: give a socketPath, a tcp address or both");
  const { provider, observer } = opts;
  const metrics =
    opts.metrics ??
    new AgentMetrics({
      policyCount: async () => (await provider.policy()).policies.length,
      policyRevision: async () => (await provider.status()).policyRevision,
      endpointCount: async () => (await provider.endpoints()).length,
      lostEvents: () => observer.lostEvents(),
    });
  const stopCounting = observer.follow((f) => metrics.observeFlow(f));
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(opts, metrics, req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy(err as Error);
        return;
      }
      const status = err instanceof HttpError ? err.status : 500;
      sendJson(res, status, { error: (err as Error).message, ...(err instanceof HttpError && err.param ? { param: err.param } : {}) });
    });
  };
  const servers: Server[] = [];
  const close = async (): Promise<void> => {
    stopCounting();
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    if (opts.socketPath) removeStaleSocket(opts.socketPath);
  };
  try {
    let tcp: { host: string; port: number } | undefined;
    if (opts.socketPath) {
      mkdirSync(dirname(opts.socketPath), { recursive: true, mode: 0o700 });
      removeStaleSocket(opts.socketPath);
      const server = createServer(handler);
      servers.push(server);
      await listen(server, opts.socketPath);
      chmodSync(opts.socketPath, 0o600);
    }
    if (opts.tcp) {
      const server = createServer(handler);
      servers.push(server);
      await listen(server, { host: opts.tcp.host, port: opts.tcp.port ?? DEFAULT_API_PORT });
      tcp = { host: opts.tcp.host, port: (server.address() as AddressInfo).port };
    }
    return { metrics, ...(opts.socketPath ? { socketPath: opts.socketPath } : {}), ...(tcp ? { tcp } : {}), close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
