// A traffic peer run inside a pod netns (`ip netns exec <ns> node peer.js ...`), driven over
// stdin/stdout by line so tests can hold a connection open across policy changes.
//
//   server tcp|udp <port>            echo server; prints "ready"
//   client tcp <host> <port> <ms>    prints "connected <localPort>" or "error <code>";
//                                    stdin "send <text>" -> sends a line; prints "recv <line>"
//   client udp <host> <port>         prints "ready <localPort>"; stdin "send <text>" -> one
//                                    datagram; prints "recv <text>" per datagram back
import { createSocket } from "node:dgram";
import { connect, createServer } from "node:net";
import { createInterface } from "node:readline";

const [role, proto, a, b, c] = process.argv.slice(2);
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const commands = createInterface({ input: process.stdin });

if (role === "server" && proto === "tcp") {
  const server = createServer((sock) => {
    sock.on("error", () => sock.destroy());
    sock.pipe(sock);
  });
  server.listen(Number(a), "0.0.0.0", () => out("ready"));
} else if (role === "server" && proto === "udp") {
  const sock = createSocket("udp4");
  sock.on("message", (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
  sock.bind(Number(a), "0.0.0.0", () => out("ready"));
} else if (role === "client" && proto === "tcp") {
  const sock = connect({ host: a ?? "", port: Number(b) });
  const timer = setTimeout(() => {
    out("error ETIMEDOUT");
    process.exit(0);
  }, Number(c ?? 2000));
  sock.setNoDelay(true);
  sock.on("connect", () => {
    clearTimeout(timer);
    out(`connected ${sock.localPort}`);
  });
  sock.on("error", (e: NodeJS.ErrnoException) => {
    out(`error ${e.code ?? e.message}`);
    process.exit(0);
  });
  createInterface({ input: sock }).on("line", (l) => out(`recv ${l}`));
  sock.on("close", () => out("closed"));
  commands.on("line", (l) => {
    if (l.startsWith("send ")) sock.write(`${l.slice(5)}\n`);
    if (l === "close") sock.end();
  });
} else if (role === "client" && proto === "udp") {
  const sock = createSocket("udp4");
  sock.on("message", (msg) => out(`recv ${msg.toString()}`));
  sock.bind(0, () => out(`ready ${sock.address().port}`));
  commands.on("line", (l) => {
    if (l.startsWith("send ")) sock.send(l.slice(5), Number(b), a ?? "");
  });
} else {
  process.stderr.write(`usage: peer server|client tcp|udp ...\n`);
  process.exit(2);
}
commands.on("close", () => process.exit(0));
