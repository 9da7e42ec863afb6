// Starts the probe server's listeners together and stops them together.
import { startDnsServer } from "./dns-server.js";
import type { Route } from "./routes.js";
import { startHttpEcho } from "./http-echo.js";
import type { Listener, PodIdentity } from "./listener.js";
import type { ServerLog } from "./log.js";
import { startTcpEcho, startUdpEcho } from "./stream-echo.js";
import type { Zone } from "./zone.js";

export interface ServeOptions {
  http: number[];
  tcp: number[];
  udp: number[];
  dns: number[];
  zones: Zone[];
  routes: Route[];
  /** Listen address; 0.0.0.0 covers every IPv4 address of the pod. */
  bind: string;
  identity: PodIdentity;
  log: ServerLog;
}

export interface RunningServer {
  listeners: Listener[];
  close(): Promise<void>;
}

export function identityFromEnv(env: NodeJS.ProcessEnv = process.env): PodIdentity {
  return { pod: env.POD_NAME ?? env.HOSTNAME ?? "", namespace: env.POD_NAMESPACE ?? "", node: env.NODE_NAME ?? "" };
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  if (opts.dns.length > 0 && opts.zones.length === 0) throw new Error("--dns needs at least one --zone file");
  const listeners: Listener[] = [];
  const close = async () => {
    await Promise.all(listeners.map((l) => l.close()));
  };
  const starts: [string, number, () => Promise<Listener>][] = [
    ...opts.http.map((port): [string, number, () => Promise<Listener>] => ["http", port, () => startHttpEcho({ port, bind: opts.bind, routes: opts.routes, identity: opts.identity, log: opts.log })]),
    ...opts.tcp.map((port): [string, number, () => Promise<Listener>] => ["tcp", port, () => startTcpEcho({ port, bind: opts.bind, log: opts.log })]),
    ...opts.udp.map((port): [string, number, () => Promise<Listener>] => ["udp", port, () => startUdpEcho({ port, bind: opts.bind, log: opts.log })]),
    ...opts.dns.map((port): [string, number, () => Promise<Listener>] => ["dns", port, () => startDnsServer({ port, bind: opts.bind, zones: opts.zones, log: opts.log })]),
  ];
  for (const [proto, port, start] of starts) {
    try {
      listeners.push(await start());
    } catch (err) {
      await close();
      const e = err as NodeJS.ErrnoException;
      throw new Error(`cannot listen for ${proto} on ${opts.bind}:${port}: ${e.code ?? e.message}`, { cause: err });
    }
  }
  return { listeners, close };
}
