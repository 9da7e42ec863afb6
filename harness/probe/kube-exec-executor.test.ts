// The Kubernetes exec executor without a cluster: a local stand-in for the API server's exec
// endpoint speaks the channel protocol (v4, the version whose clients cannot close stdin) and runs
// the real batch client as the "container". What this cannot show: API server auth, a real
// kubelet/CRI exec, and the probe image's file layout; those need kind or an existing cluster.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import type net from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { WebSocketServer } from "ws";
import { probeMainPath } from "./executor.js";
import { KubeExecProbeExecutor, PROBE_IMAGE_MAIN } from "./kube-exec-executor.js";
import type { RunningServer } from "./server/serve.js";
import { startServer } from "./server/serve.js";
import { silentLog } from "./server/log.js";

interface ExecRequest {
  path: string;
  container: string | null;
  command: string[];
}

let apiServer: http.Server;
let apiPort = 0;
let echo: RunningServer;
let tcpPort = 0;
const requests: ExecRequest[] = [];
/** The stand-in runs this instead of the requested command's first two words (node + image path). */
const localProbe = [process.execPath, probeMainPath()];

function status(code: number | null): string {
  if (code === 0) return JSON.stringify({ metadata: {}, status: "Success" });
  return JSON.stringify({
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  });
}

function frame(channel: number, data: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);
}

before(async () => {
  echo = await startServer({ http: [], tcp: [0], udp: [], dns: [], zones: [], routes: [], bind: "127.0.0.1", identity: { pod: "e", namespace: "n", node: "x" }, log: silentLog });
  tcpPort = echo.listeners[0]?.port ?? 0;
  apiServer = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: apiServer, handleProtocols: (protocols) => (protocols.has("v4.channel.k8s.io") ? "v4.channel.k8s.io" : false) });
  wss.on("connection", (ws, req) => {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const command = url.searchParams.getAll("command");
    requests.push({ path: url.pathname, container: url.searchParams.get("container"), command });
    // Swap the image path for this checkout's build; keep every argument the executor passed.
    const argv = command[1] === PROBE_IMAGE_MAIN ? [...localProbe, ...command.slice(2)] : command;
    const child = spawn(argv[0] ?? "false", argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.on("error", () => undefined);
    ws.on("message", (data: Buffer) => {
      if (data[0] === 0) child.stdin.write(data.subarray(1));
    });
    child.stdout.on("data", (d: Buffer) => ws.send(frame(1, d)));
    child.stderr.on("data", (d: Buffer) => ws.send(frame(2, d)));
    child.on("close", (code) => {
      ws.send(frame(3, status(code)));
      ws.close();
    });
    ws.on("close", () => child.kill("SIGKILL"));
  });
  await new Promise<void>((r) => apiServer.listen(0, "127.0.0.1", () => r()));
  apiPort = (apiServer.address() as net.AddressInfo).port;
});

after(async () => {
  await echo.close();
  apiServer.closeAllConnections();
  await new Promise((r) => apiServer.close(r));
});

function kubeConfig(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "stand-in", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "c", cluster: "stand-in", user: "u" }],
    currentContext: "c",
  });
  return kc;
}

test("kube exec executor, no cluster (stand-in exec endpoint, v4): runs the batch and maps results", async () => {
  const executor = new KubeExecProbeExecutor({ kubeConfig: kubeConfig(apiPort), container: "probe" });
  const results = await executor.runBatch({ namespace: "ns1", name: "pod1" }, [
    { kind: "tcp", id: "open", host: "127.0.0.1", port: tcpPort, payload: "hi" },
    { kind: "tcp", id: "closed", host: "127.0.0.1", port: 1 },
  ]);
  assert.deepEqual(results.map((r) => [r.id, r.outcome]), [["open", "ALLOWED"], ["closed", "REJECTED"]]);
  const req = requests.at(-1);
  assert.equal(req?.path, "/api/v1/namespaces/ns1/pods/pod1/exec");
  assert.equal(req?.container, "probe");
  assert.deepEqual(req?.command.slice(0, 3), ["node", PROBE_IMAGE_MAIN, "batch"]);
});

test("kube exec executor, no cluster (stand-in exec endpoint): a failing command makes every probe PROBE_ERROR with stderr", async () => {
  const executor = new KubeExecProbeExecutor({
    kubeConfig: kubeConfig(apiPort),
    command: [process.execPath, "-e", "process.stdout.write('{oops'); console.error('probe exploded'); process.exit(3)"],
  });
  const results = await executor.runBatch({ namespace: "ns1", name: "pod1", container: "c2" }, [{ kind: "icmp", id: "x", host: "127.0.0.1" }]);
  assert.equal(results[0]?.outcome, "PROBE_ERROR");
  assert.match(results[0]?.detail ?? "", /exec into ns1\/pod1\) ended \(exit 3\) without a valid JSON document; stdout: \{oops; stderr: probe exploded/);
  assert.equal(requests.at(-1)?.container, "c2");
});

test("kube exec executor, no cluster (stand-in exec endpoint): a hung command is abandoned as PROBE_ERROR", async () => {
  const executor = new KubeExecProbeExecutor({ kubeConfig: kubeConfig(apiPort), command: [process.execPath, "-e", "setTimeout(() => {}, 60000)"], graceMs: 300 });
  const results = await executor.runBatch({ namespace: "ns1", name: "pod1" }, [{ kind: "tcp", id: "x", host: "127.0.0.1", port: 1 }], { deadlineMs: 100 });
  assert.equal(results[0]?.outcome, "PROBE_ERROR");
  assert.match(results[0]?.detail ?? "", /did not finish within 400 ms/);
});

test("kube exec executor, no cluster: an unreachable API server makes every probe PROBE_ERROR", async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const executor = new KubeExecProbeExecutor({ kubeConfig: kubeConfig(port) });
  const results = await executor.runBatch({ namespace: "ns1", name: "pod1" }, [
    { kind: "tcp", id: "a", host: "127.0.0.1", port: 1 },
    { kind: "dns", id: "b", name: "x.test" },
  ]);
  assert.deepEqual(results.map((r) => r.outcome), ["PROBE_ERROR", "PROBE_ERROR"]);
  assert.match(results[0]?.detail ?? "", /could not start the probe batch \(exec into ns1\/pod1\): .*ECONNREFUSED/);
});
