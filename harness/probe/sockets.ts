// Socket plumbing shared by the probes: choosing the local port up front (so the harness knows
// the 5-tuple even when nothing answers), finding the source address the kernel will use, and
// binding with a retry on port conflicts.
import { randomInt } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";
import { isPortConflict } from "./classify.js";

/**
 * Below the kernel's default ephemeral range start would be safer from autobind collisions, but a
 * pod's own servers live there; the whole span is fine because a conflict simply picks again.
 */
export const SOURCE_PORT_MIN = 20000;
export const SOURCE_PORT_MAX = 60999;
const BIND_ATTEMPTS = 8;

/** Hands out distinct random ports within one batch, so no two probes share a 5-tuple. */
export class PortAllocator {
  private readonly used = new Set<number>();

  next(): number {
    for (;;) {
      const p = randomInt(SOURCE_PORT_MIN, SOURCE_PORT_MAX + 1);
      if (!this.used.has(p)) {
        this.used.add(p);
        return p;
      }
    }
  }
}

export interface SocketError extends Error {
  code?: string;
  syscall?: string;
}

export function asSocketError(err: unknown): SocketError {
  return err instanceof Error ? (err as SocketError) : Object.assign(new Error(String(err)), { code: "UNKNOWN" });
}

/**
 * The source address the kernel picks for `dest`, found by connecting a UDP socket (a route
 * lookup; no packet is sent). Fails like a real send would on a missing route.
 */
export function routeSourceAddress(dest: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(dest) ? "udp6" : "udp4");
    sock.once("error", (err) => {
      sock.close();
      reject(err);
    });
    // dgram hands connect errors (e.g. ENETUNREACH) to the callback, not to "error".
    sock.connect(9, dest, (err?: Error) => {
      if (err) {
        sock.close();
        return reject(err);
      }
      const { address } = sock.address();
      sock.close();
      resolve(address);
    });
  });
}

export interface TcpConnectAttempt {
  socket: net.Socket;
  localAddress: string;
  localPort: number;
}

/**
 * Starts a TCP connect from (localAddress, a chosen port). Resolves once the connect is in flight
 * with the socket and the port actually bound; connect completion is left to the caller, which
 * owns timeouts. Retries another port when the bind or the 4-tuple conflicts.
 */
export async function startTcpConnect(opts: {
  host: string;
  port: number;
  localAddress: string;
  fixedPort?: number | undefined;
  ports: PortAllocator;
}): Promise<{ attempt: TcpConnectAttempt; connected: Promise<void> }> {
  let lastErr: SocketError | undefined;
  const attempts = opts.fixedPort === undefined ? BIND_ATTEMPTS : 1;
  for (let i = 0; i < attempts; i++) {
    const localPort = opts.fixedPort ?? opts.ports.next();
    const socket = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress, localPort });
    socket.setNoDelay(true);
    // A bind conflict is reported asynchronously; wait for either connect, an error or the
    // bind to be past (the socket getting a local port means bind succeeded).
    const early = await new Promise<{ kind: "pending" } | { kind: "error"; err: SocketError }>((resolve) => {
      const onError = (err: Error) => resolve({ kind: "error", err: err as SocketError });
      socket.once("error", onError);
      socket.once("connect", () => {
        socket.off("error", onError);
        resolve({ kind: "pending" });
      });
      // libuv binds and issues connect() synchronously after the (skipped) lookup, one tick in.
      setImmediate(() => {
        if (socket.connecting && !socket.destroyed) {
          socket.off("error", onError);
          resolve({ kind: "pending" });
        }
      });
    });
    if (early.kind === "error") {
      socket.destroy();
      lastErr = early.err;
      if (isPortConflict(early.err) && opts.fixedPort === undefined) continue;
      throw early.err;
    }
    const connected = new Promise<void>((resolve, reject) => {
      if (!socket.connecting && !socket.destroyed) return resolve();
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    // The caller may abandon `connected` (timeout); keep that from being an unhandled rejection.
    connected.catch(() => undefined);
    return { attempt: { socket, localAddress: opts.localAddress, localPort }, connected };
  }
  throw lastErr ?? new Error("could not bind a local port");
}

/** A UDP socket bound to (localAddress, a chosen port) and connected to the destination. */
export async function bindConnectedUdp(opts: {
  host: string;
  port: number;
  localAddress: string;
  fixedPort?: number | undefined;
  ports: PortAllocator;
}): Promise<{ socket: dgram.Socket; localPort: number }> {
  let lastErr: SocketError | undefined;
  const attempts = opts.fixedPort === undefined ? BIND_ATTEMPTS : 1;
  for (let i = 0; i < attempts; i++) {
    const localPort = opts.fixedPort ?? opts.ports.next();
    const socket = dgram.createSocket(net.isIPv6(opts.host) ? "udp6" : "udp4");
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind({ address: opts.localAddress, port: localPort, exclusive: true }, () => {
          socket.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      const e = asSocketError(err);
      // dgram reports bind failures with syscall "bind"; make sure classification sees that.
      e.syscall ??= "bind";
      lastErr = e;
      if (isPortConflict(e) && opts.fixedPort === undefined) continue;
      throw e;
    }
    // Connecting makes the kernel deliver ICMP errors (port unreachable → ECONNREFUSED) to us.
    await new Promise<void>((resolve, reject) => {
      socket.connect(opts.port, opts.host, (err?: Error) => (err ? reject(err) : resolve()));
    }).catch((err: unknown) => {
      socket.close();
      throw err;
    });
    return { socket, localPort };
  }
  throw lastErr ?? new Error("could not bind a local port");
}
