// HTTP echo server: answers every request with a JSON document describing what it saw (the peer
// address after any NAT or proxy, method, path, headers), with per-path status codes.
import http from "node:http";
import type net from "node:net";
import type { HttpEcho } from "../schema.js";
import type { Listener, PodIdentity } from "./listener.js";
import type { Route } from "./routes.js";
import { statusFor } from "./routes.js";
import type { ServerLog } from "./log.js";
import { peer } from "./log.js";

function flatten(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

export function startHttpEcho(opts: { port: number; bind: string; routes: readonly Route[]; identity: PodIdentity; log: ServerLog }): Promise<Listener> {
  const server = http.createServer((req, res) => {
    let bodyBytes = 0;
    req.on("data", (c: Buffer) => (bodyBytes += c.length));
    req.on("end", () => {
      const url = req.url ?? "/";
      const path = url.split("?")[0] ?? "/";
      const status = statusFor(opts.routes, path);
      const echo: HttpEcho = {
        ...opts.identity,
        client: { address: req.socket.remoteAddress ?? "", port: req.socket.remotePort ?? 0 },
        server: { address: req.socket.localAddress ?? "", port: req.socket.localPort ?? 0 },
        method: req.method ?? "",
        path,
        url,
        headers: flatten(req.headers),
        bodyBytes,
        status,
      };
      const body = `${JSON.stringify(echo)}\n`;
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
      opts.log({ proto: "http", port: echo.server.port, client: peer(echo.client.address, echo.client.port), method: echo.method, path: url, status });
    });
  });
  return listen(server, opts.port, opts.bind, "http");
}

/** Listens and returns a Listener whose close() also ends open connections (SIGTERM must not wait). */
export function listen(server: net.Server, port: number, bind: string, proto: "http" | "tcp" | "dns"): Promise<Listener> {
  const open = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    open.add(s);
    s.once("close", () => open.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, bind, () => {
      server.off("error", reject);
      const addr = server.address();
      resolve({
        proto,
        port: typeof addr === "object" && addr ? addr.port : port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of open) s.destroy();
          }),
      });
    });
  });
}
