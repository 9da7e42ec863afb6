// The CNI plugin and the agent's socket server without the kernel side: a real unix socket and
// the real plugin binary (agent/cni/plugin, built by setup.sh), with a fake handler standing in
// for the EndpointManager (the full path with veths and traffic is cni.int.test.ts).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EndpointError } from "../endpoint/errors.js";
import type { AddRequest, AddResult, DelRequest } from "../endpoint/manager.js";
import { conformConflist, installCniPlugin, writeConflist } from "./install.js";
import { PLUGIN_BINARY } from "./install.js";
import { CniServer, handleRequestLine, replayDeleteQueue } from "./server.js";
import type { CniHandler } from "./server.js";
import { CNI_ERROR } from "./wire.js";

/** Runs the plugin binary as a kubelet would: CNI_* environment, the config on stdin. */
function runPlugin(io: { env: NodeJS.ProcessEnv; stdin: string }): Promise<{ exitCode: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(PLUGIN_BINARY, [], { env: io.env }, (err, stdout) => {
      const code = err && typeof err.code === "number" ? err.code : err ? -1 : 0;
      if (err && code === -1) reject(err);
      else resolve({ exitCode: code, stdout });
    });
    child.stdin?.end(io.stdin);
  });
}

const dir = mkdtempSync(join(tmpdir(), "cft-ag-cni-unit-"));
const socketPath = join(dir, "run", "agent.sock");
const queueDir = join(dir, "run", "delete-queue");

const RESULT: AddResult = {
  cniVersion: "1.0.0",
  interfaces: [
    { name: "lxc0123456789ab", mac: "02:00:00:00:00:01" },
    { name: "eth0", mac: "02:00:00:00:00:02", sandbox: "/var/run/netns/x" },
  ],
  ips: [{ address: "10.244.1.2/32", gateway: "10.244.1.1", interface: 1 }],
  routes: [{ dst: "0.0.0.0/0", gw: "10.244.1.1" }],
  dns: {},
};

class FakeHandler implements CniHandler {
  readonly calls: string[] = [];
  failWith: unknown;
  async add(req: AddRequest): Promise<AddResult> {
    this.calls.push(`ADD ${req.containerId} ${req.ifName} ${req.netns} ${req.pod.namespace}/${req.pod.name} ${req.pod.uid ?? "-"}`);
    if (this.failWith) throw this.failWith;
    return RESULT;
  }
  async del(req: DelRequest): Promise<void> {
    this.calls.push(`DEL ${req.containerId} ${req.ifName}`);
    if (this.failWith) throw this.failWith;
  }
  async check(req: { containerId: string; ifName: string }): Promise<void> {
    this.calls.push(`CHECK ${req.containerId} ${req.ifName}`);
    if (this.failWith) throw this.failWith;
  }
}

const conf = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ cniVersion: "1.0.0", name: "conform", type: "conform-cni", socketPath, deleteQueueDir: queueDir, ...extra });

const env = (command: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: "c1",
  CNI_NETNS: "/var/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_UID=u-1",
  CNI_PATH: "/opt/cni/bin",
  ...extra,
});

function errorOf(stdout: string): { code: number; msg: string; cniVersion: string } {
  return JSON.parse(stdout) as { code: number; msg: string; cniVersion: string };
}

describe("CNI plugin ↔ agent socket (fake handler)", () => {
  const handler = new FakeHandler();
  let server: CniServer;

  before(async () => {
    server = await CniServer.listen({ socketPath, handler });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the socket is mode 0600 in a 0700 directory", () => {
    assert.equal(statSync(socketPath).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "run")).mode & 0o777, 0o700);
  });

  test("a second server on a live socket is refused", async () => {
    await assert.rejects(CniServer.listen({ socketPath, handler }), /already serving/);
  });

  test("ADD forwards the runtime parameters and prints the 1.0.0 result", async () => {
    handler.failWith = undefined;
    const out = await runPlugin({ env: env("ADD"), stdin: conf() });
    assert.equal(out.exitCode, 0);
    assert.deepEqual(JSON.parse(out.stdout), RESULT);
    assert.equal(handler.calls.at(-1), "ADD c1 eth0 /var/run/netns/x shop/web-1 u-1");
  });

  test("ADD with a 0.4.0 or 0.3.1 config gets a result of that version (ips carry version, the interface index stays)", async () => {
    for (const cniVersion of ["0.4.0", "0.3.1"]) {
      const out = await runPlugin({ env: env("ADD"), stdin: conf({ cniVersion }) });
      const r = JSON.parse(out.stdout) as { cniVersion: string; ips: { version: string }[] };
      assert.equal(r.cniVersion, cniVersion);
      assert.deepEqual(r.ips[0], { version: "4", address: "10.244.1.2/32", gateway: "10.244.1.1", interface: 1 });
    }
  });

  test("CNI_ARGS values keep their '='; empty items are skipped", async () => {
    const out = await runPlugin({ env: env("ADD", { CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web=1;;K8S_POD_UID=u-1" }), stdin: conf() });
    assert.equal(out.exitCode, 0, out.stdout);
    assert.equal(handler.calls.at(-1), "ADD c1 eth0 /var/run/netns/x shop/web=1 u-1");
  });

  test("DEL and CHECK print nothing on success", async () => {
    for (const cmd of ["DEL", "CHECK"]) {
      const out = await runPlugin({ env: env(cmd), stdin: conf() });
      assert.deepEqual(out, { exitCode: 0, stdout: "" });
      assert.equal(handler.calls.at(-1), `${cmd} c1 eth0`);
    }
  });

  test("VERSION needs no agent and lists the supported versions", async () => {
    const out = await runPlugin({ env: { CNI_COMMAND: "VERSION" }, stdin: "" });
    assert.deepEqual(JSON.parse(out.stdout), { cniVersion: "1.0.0", supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0"] });
  });

  test("spec error codes: 1 version, 4 environment, 6 undecodable stdin, 7 invalid config", async () => {
    const cases: [NodeJS.ProcessEnv, string, number, RegExp][] = [
      [env("ADD"), conf({ cniVersion: "2.0.0" }), CNI_ERROR.incompatibleVersion, /not supported/],
      [env("CHECK"), conf({ cniVersion: "0.3.1" }), CNI_ERROR.incompatibleVersion, /CHECK needs cniVersion 0.4.0/],
      [env("ADD", { CNI_NETNS: "" }), conf(), CNI_ERROR.invalidEnvironment, /CNI_NETNS/],
      [env("ADD", { CNI_COMMAND: "BOGUS" }), conf(), CNI_ERROR.invalidEnvironment, /CNI_COMMAND "BOGUS"/],
      [env("ADD", { CNI_ARGS: "K8S_POD_NAMESPACE=shop" }), conf(), CNI_ERROR.invalidEnvironment, /K8S_POD_NAME/],
      [env("ADD", { CNI_ARGS: "garbage" }), conf(), CNI_ERROR.invalidEnvironment, /CNI_ARGS: item "garbage"/],
      [env("ADD"), "{not json", CNI_ERROR.decodeFailure, /not a JSON object/],
      [env("ADD"), conf({ timeoutSeconds: "soon" }), CNI_ERROR.invalidConfig, /network config: timeoutSeconds/],
      [env("ADD"), conf({ type: "ptp" }), CNI_ERROR.invalidConfig, /network config: type/],
    ];
    for (const [e, stdin, code, msg] of cases) {
      const out = await runPlugin({ env: e, stdin });
      assert.equal(out.exitCode, 1, `${JSON.stringify(e)}`);
      const err = errorOf(out.stdout);
      assert.equal(err.code, code, out.stdout);
      assert.match(err.msg, msg);
    }
  });

  test("endpoint failures map to codes: 3 unknown, 11 try again, 100 exhausted, 101 check failed, 5 I/O", async () => {
    const cases: [EndpointError, number][] = [
      [new EndpointError("not-found", "pod shop/web-1 does not exist in the API"), CNI_ERROR.unknownContainer],
      [new EndpointError("try-again", "API down"), CNI_ERROR.tryAgainLater],
      [new EndpointError("exhausted", "no free address"), CNI_ERROR.addressesExhausted],
      [new EndpointError("check-failed", "route missing", "a; b"), CNI_ERROR.checkFailed],
      [new EndpointError("io", "ip link add failed"), CNI_ERROR.ioFailure],
    ];
    for (const [failure, code] of cases) {
      handler.failWith = failure;
      const out = await runPlugin({ env: env(failure.kind === "check-failed" ? "CHECK" : "ADD"), stdin: conf() });
      const err = errorOf(out.stdout) as { code: number; msg: string; details?: string };
      assert.equal(out.exitCode, 1);
      assert.equal(err.code, code);
      assert.equal(err.msg, failure.message);
      if (failure.details) assert.equal(err.details, failure.details);
    }
    handler.failWith = undefined;
  });

  test("a malformed request line gets a decode error, not a crash", async () => {
    const resp = await handleRequestLine(handler, JSON.stringify({ v: 1, command: "ADD" }));
    assert.equal(resp.ok, false);
    if (!resp.ok) {
      assert.equal(resp.error.code, CNI_ERROR.decodeFailure);
      assert.match(resp.error.msg, /request containerId/);
    }
  });
});

describe("CNI plugin with the agent down (fake handler replays)", () => {
  const qdir = mkdtempSync(join(tmpdir(), "cft-ag-cni-queue-"));
  const deadSocket = join(qdir, "nobody.sock");
  after(() => rmSync(qdir, { recursive: true, force: true }));

  test("ADD fails with 11 (try again later) naming the socket", async () => {
    const out = await runPlugin({ env: env("ADD"), stdin: conf({ socketPath: deadSocket }) });
    const err = errorOf(out.stdout);
    assert.equal(err.code, CNI_ERROR.tryAgainLater);
    assert.ok(err.msg.includes(deadSocket));
  });

  test("DEL is queued and succeeds; the agent replays the queue on start", async () => {
    const q = join(qdir, "queue");
    const out = await runPlugin({ env: env("DEL", { CNI_CONTAINERID: "gone-1", CNI_NETNS: "" }), stdin: conf({ socketPath: deadSocket, deleteQueueDir: q }) });
    assert.deepEqual(out, { exitCode: 0, stdout: "" });
    assert.deepEqual(readdirSync(q), ["gone-1.eth0.json"]);
    const handler = new FakeHandler();
    assert.deepEqual(await replayDeleteQueue(q, handler), { done: 1, failed: 0 });
    assert.deepEqual(handler.calls, ["DEL gone-1 eth0"]);
    assert.deepEqual(readdirSync(q), []);
  });

  test("a queued DEL that fails stays queued", async () => {
    const q = join(qdir, "queue2");
    await runPlugin({ env: env("DEL", { CNI_CONTAINERID: "gone-2" }), stdin: conf({ socketPath: deadSocket, deleteQueueDir: q }) });
    const handler = new FakeHandler();
    handler.failWith = new EndpointError("io", "boom");
    assert.deepEqual(await replayDeleteQueue(q, handler), { done: 0, failed: 1 });
    assert.equal(readdirSync(q).length, 1);
  });
});

describe("CNI encoding helpers and installation", () => {
  const idir = mkdtempSync(join(tmpdir(), "cft-ag-cni-install-"));
  after(() => rmSync(idir, { recursive: true, force: true }));


  test("the conflist names the plugin type, socket and delete queue", () => {
    const path = writeConflist(idir, { socketPath: "/run/conform/c/n1/agent.sock" });
    assert.ok(path.endsWith("05-conform.conflist"));
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), conformConflist({ socketPath: "/run/conform/c/n1/agent.sock" }));
    assert.deepEqual(conformConflist({ socketPath: "/run/x/agent.sock" }).plugins[0], {
      type: "conform-cni",
      socketPath: "/run/x/agent.sock",
      deleteQueueDir: "/run/x/delete-queue",
    });
  });

  test("the installed plugin is executable and answers VERSION", async () => {
    const shim = installCniPlugin(join(idir, "bin"));
    assert.ok(existsSync(shim));
    assert.equal(statSync(shim).mode & 0o777, 0o755);
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(shim, [], { env: { CNI_COMMAND: "VERSION", PATH: "/usr/bin:/bin" } }, (err, out) => (err ? reject(err) : resolve(out))),
    );
    assert.deepEqual(JSON.parse(stdout).supportedVersions, ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]);
  });
});
