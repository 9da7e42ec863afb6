// Stand-in for the probe server in kubelet tests, honouring the same readiness contract: it prints
// a line containing "conform-probe: ready" once its TCP listener is bound.
//   node fake-probe.js [--port N] [--exit-after MS] [--exit-code N] [--ignore-sigterm] [--no-ready]
import { createServer } from "node:net";

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = Number(opt("--port") ?? "0");
const exitAfter = opt("--exit-after");
const exitCode = Number(opt("--exit-code") ?? "0");

if (args.includes("--ignore-sigterm")) process.on("SIGTERM", () => console.log("fake-probe: ignoring SIGTERM"));
else process.on("SIGTERM", () => process.exit(0));

const server = createServer((sock) => {
  sock.end(`hello from ${process.env["POD_NAME"] ?? "?"}\n`);
});
server.listen(port, () => {
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  console.error(`fake-probe: env POD_NAMESPACE=${process.env["POD_NAMESPACE"] ?? ""} MY_IP=${process.env["MY_IP"] ?? ""}`);
  if (!args.includes("--no-ready")) console.log(`conform-probe: ready tcp=${bound}`);
  if (exitAfter !== undefined) setTimeout(() => process.exit(exitCode), Number(exitAfter));
});
