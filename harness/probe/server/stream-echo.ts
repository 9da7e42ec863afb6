// TCP and UDP echo services: whatever arrives goes back to the sender unchanged.
import dgram from "node:dgram";
import net from "node:net";
import { listen } from "./http-echo.js";
import type { Listener } from "./listener.js";
import type { ServerLog } from "./log.js";
import { peer } from "./log.js";

export function startTcpEcho(opts: { port: number; bind: string; log: ServerLog }): Promise<Listener> {
  const server = net.createServer((socket) => {
    const client = peer(socket.remoteAddress, socket.remotePort);
    const port = socket.localPort;
    let bytes = 0;
    socket.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      socket.write(chunk);
    });
    socket.on("end", () => socket.end());
    // A reset from the client is normal for probes that only test the connect.
    socket.on("error", () => undefined);
    socket.on("close", () => opts.log({ proto: "tcp", port, client, bytes }));
  });
  return listen(server, opts.port, opts.bind, "tcp");
}

export function startUdpEcho(opts: { port: number; bind: string; log: ServerLog }): Promise<Listener> {
  const socket = dgram.createSocket(net.isIPv6(opts.bind) ? "udp6" : "udp4");
  socket.on("message", (msg, rinfo) => {
    socket.send(msg, rinfo.port, rinfo.address);
    opts.log({ proto: "udp", port: socket.address().port, client: peer(rinfo.address, rinfo.port), bytes: msg.length });
  });
  return bindUdp(socket, opts.port, opts.bind, "udp");
}

export function bindUdp(socket: dgram.Socket, port: number, bind: string, proto: "udp" | "dns"): Promise<Listener> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, bind, () => {
      socket.off("error", reject);
      // Late errors (e.g. ICMP for a vanished client) must not kill the server.
      socket.on("error", () => undefined);
      resolve({ proto, port: socket.address().port, close: () => new Promise<void>((done) => socket.close(() => done())) });
    });
  });
}
