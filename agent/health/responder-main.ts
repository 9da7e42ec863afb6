#!/usr/bin/env node
/**
 * The health endpoint's listener: an HTTP server on the given port, run by the agent inside the
 * health endpoint's netns (`nsenter --net=<netns> node responder-main.js --port 4240`). It answers
 * every request with 200 and a small JSON body, like cilium-health's `/hello`.
 *
 * It lives exactly as long as its agent: stdin is a pipe from the agent, so when the agent exits
 * (even by SIGKILL) stdin ends and the responder exits too, leaving no orphan behind.
 */
import { createServer } from "node:http";

function portArg(argv: readonly string[]): number {
  const i = argv.indexOf("--port");
  const port = Number(i >= 0 ? argv[i + 1] : NaN);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write("usage: responder-main.js --port <1-65535> [--node <name>]\n");
    process.exit(2);
  }
  return port;
}

const argv = process.argv.slice(2);
const port = portArg(argv);
const nodeIndex = argv.indexOf("--node");
const node = nodeIndex >= 0 ? (argv[nodeIndex + 1] ?? "") : "";

const server = createServer((req, res) => {
  req.resume();
  const body = JSON.stringify({ status: "ok", node });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
const exit = (): void => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
server.listen(port, "0.0.0.0", () => process.stdout.write(`ready ${port}\n`));
server.on("error", (err) => {
  process.stderr.write(`health responder: ${err.message}\n`);
  process.exit(1);
});
process.stdin.on("end", exit);
process.stdin.on("close", exit);
process.stdin.resume();
process.on("SIGTERM", exit);
process.on("SIGINT", exit);
