/**
 * The agent's CNI server: a unix socket (mode 0600 in a 0700 directory: only root may attach pods)
 * speaking the line-delimited JSON protocol of protocol.ts, dispatching to the EndpointManager.
 * Also replays the delete queue the plugin fills while the agent is down.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { dirname, join } from "node:path";
import type { Logger } from "../k8s/log.js";
import { errorMessage, silentLogger } from "../k8s/log.js";
import { EndpointError } from "../endpoint/errors.js";
import type { AddRequest, AddResult, DelRequest } from "../endpoint/manager.js";
import { agentRequestSchema, firstIssue, netConfSchema, queuedDeleteSchema } from "./protocol.js";
import type { AgentRequest, AgentResponse } from "./protocol.js";
import { CNI_ERROR, CniError } from "./wire.js";

/** The part of the EndpointManager the server needs. */
export interface CniHandler {
  add(req: AddRequest): Promise<AddResult>;
  del(req: DelRequest): Promise<void>;
  check(req: { containerId: string; ifName: string; netns: string }): Promise<void>;
}

const MAX_REQUEST_BYTES = 1 << 20;

/** Maps a failure to the spec's error object. */
export function toCniError(err: unknown): { code: number; msg: string; details?: string } {
  if (err instanceof CniError) return { code: err.code, msg: err.message, ...(err.details ? { details: err.details } : {}) };
  if (err instanceof EndpointError) {
    const code = {
      "invalid-argument": CNI_ERROR.invalidEnvironment,
      "not-found": CNI_ERROR.unknownContainer,
      "try-again": CNI_ERROR.tryAgainLater,
      exhausted: CNI_ERROR.addressesExhausted,
      "check-failed": CNI_ERROR.checkFailed,
      io: CNI_ERROR.ioFailure,
    }[err.kind];
    return { code, msg: err.message, ...(err.details ? { details: err.details } : {}) };
  }
  return { code: CNI_ERROR.internal, msg: errorMessage(err) };
}

function podOf(req: AgentRequest): AddRequest["pod"] {
  const namespace = req.args["K8S_POD_NAMESPACE"];
  const name = req.args["K8S_POD_NAME"];
  if (!namespace || !name) {
    const missing = [!namespace ? "K8S_POD_NAMESPACE" : "", !name ? "K8S_POD_NAME" : ""].filter(Boolean).join(" and ");
    throw new CniError(CNI_ERROR.invalidEnvironment, `CNI_ARGS lacks ${missing}: conform needs the pod to resolve its identity`);
  }
  const uid = req.args["K8S_POD_UID"];
  return { namespace, name, ...(uid ? { uid } : {}) };
}

/** Decodes, validates and executes one request line; never throws. */
export async function handleRequestLine(handler: CniHandler, line: string, log: Logger = silentLogger): Promise<AgentResponse> {
  let req: AgentRequest;
  try {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new CniError(CNI_ERROR.decodeFailure, "request is not JSON");
    }
    const parsed = agentRequestSchema.safeParse(raw);
    if (!parsed.success) throw new CniError(CNI_ERROR.decodeFailure, firstIssue(parsed.error, "request "));
    req = parsed.data;
  } catch (err) {
    return { ok: false, error: toCniError(err) };
  }
  const started = Date.now();
  try {
    if (req.command !== "DEL") {
      // DEL must clean up whatever the config says; ADD and CHECK need a valid one.
      const conf = netConfSchema.safeParse(req.config);
      if (!conf.success) throw new CniError(CNI_ERROR.invalidConfig, firstIssue(conf.error, "network config: "));
    }
    let response: AgentResponse;
    switch (req.command) {
      case "ADD": {
        const result = await handler.add({ containerId: req.containerId, netns: req.netns, ifName: req.ifName, pod: podOf(req) });
        response = { ok: true, result: result as unknown as Record<string, unknown> };
        break;
      }
      case "DEL":
        await handler.del({ containerId: req.containerId, ifName: req.ifName, netns: req.netns });
        response = { ok: true };
        break;
      case "CHECK":
        await handler.check({ containerId: req.containerId, ifName: req.ifName, netns: req.netns });
        response = { ok: true };
        break;
    }
    log.info("CNI request done", { command: req.command, container: req.containerId, pod: `${req.args["K8S_POD_NAMESPACE"] ?? ""}/${req.args["K8S_POD_NAME"] ?? ""}`, ms: Date.now() - started });
    return response;
  } catch (err) {
    const error = toCniError(err);
    log.warn("CNI request failed", { command: req.command, container: req.containerId, code: error.code, error: error.msg, ms: Date.now() - started });
    return { ok: false, error };
  }
}

export interface CniServerOptions {
  readonly socketPath: string;
  readonly handler: CniHandler;
  readonly log?: Logger;
}

export class CniServer {
  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
    private readonly sockets: Set<Socket>,
  ) {}

  /** Listens on `socketPath`, replacing a stale socket file but refusing to steal a live one. */
  static async listen(opts: CniServerOptions): Promise<CniServer> {
    const log = opts.log ?? silentLogger;
    mkdirSync(dirname(opts.socketPath), { recursive: true, mode: 0o700 });
    chmodSync(dirname(opts.socketPath), 0o700);
    if (existsSync(opts.socketPath)) {
      if (await isServing(opts.socketPath)) throw new Error(`another agent is already serving CNI on ${opts.socketPath}`);
      unlinkSync(opts.socketPath);
    }
    const sockets = new Set<Socket>();
    const server = createServer((sock) => {
      sockets.add(sock);
      sock.on("close", () => sockets.delete(sock));
      let buf = "";
      let handled = false;
      sock.setEncoding("utf8");
      sock.on("error", (err) => log.warn("CNI connection error", { error: err.message }));
      sock.on("data", (d: string) => {
        if (handled) return;
        buf += d;
        if (buf.length > MAX_REQUEST_BYTES) {
          handled = true;
          sock.end(JSON.stringify({ ok: false, error: { code: CNI_ERROR.decodeFailure, msg: `request larger than ${MAX_REQUEST_BYTES} bytes` } }) + "\n");
          return;
        }
        const nl = buf.indexOf("\n");
        if (nl < 0) return;
        handled = true;
        void handleRequestLine(opts.handler, buf.slice(0, nl), log).then((resp) => {
          if (!sock.destroyed) sock.end(JSON.stringify(resp) + "\n");
        });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
    chmodSync(opts.socketPath, 0o600);
    log.info("CNI server listening", { socket: opts.socketPath });
    return new CniServer(server, opts.socketPath, sockets);
  }

  /** Stops accepting; requests in flight finish, then the socket file is removed. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    try {
      unlinkSync(this.socketPath);
    } catch {
      // Already gone (server.close removes it on most platforms).
    }
  }
}

function isServing(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(socketPath);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Executes the DELs the plugin queued while the agent was down (oldest first) and removes them.
 * A DEL that fails stays queued for the next start; an unreadable file is removed and reported.
 */
export async function replayDeleteQueue(dir: string, handler: CniHandler, log: Logger = silentLogger): Promise<{ done: number; failed: number }> {
  if (!existsSync(dir)) return { done: 0, failed: 0 };
  let done = 0;
  let failed = 0;
  const files = readdirSync(dir).filter((f) => f.endsWith(".json") && !f.startsWith("."));
  const entries = files
    .map((f) => {
      const path = join(dir, f);
      try {
        const parsed = queuedDeleteSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
        if (parsed.success) return { path, req: parsed.data };
        log.error("unreadable queued DEL removed", { file: path, problem: firstIssue(parsed.error) });
      } catch (err) {
        log.error("unreadable queued DEL removed", { file: path, problem: errorMessage(err) });
      }
      unlinkSync(path);
      return undefined;
    })
    .filter((e) => e !== undefined)
    .sort((a, b) => a.req.queuedAt.localeCompare(b.req.queuedAt));
  for (const { path, req } of entries) {
    try {
      await handler.del({ containerId: req.containerId, ifName: req.ifName, netns: req.netns });
      unlinkSync(path);
      done++;
    } catch (err) {
      failed++;
      log.error("queued DEL failed; kept for the next start", { container: req.containerId, error: errorMessage(err) });
    }
  }
  if (done + failed > 0) log.info("replayed queued DELs", { done, failed });
  return { done, failed };
}
