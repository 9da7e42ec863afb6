// Process supervisor, for real: containers are processes in a real netns; restarts, back-off,
// SIGTERM/SIGKILL and "nothing left behind" are observed through the kernel (/proc, ip netns pids).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Backoff } from "../backoff.js";
import { PROBE_READY_MARKER } from "../images.js";
import { NetnsOps } from "../netns.js";
import { ContainerRunner, killRecordedProcesses } from "./container.js";
import type { ContainerLaunchSpec, ContainerSnapshot, RestartPolicy } from "./container.js";

const here = dirname(fileURLToPath(import.meta.url));
const FAKE_PROBE = join(here, "../testdata/fake-probe.js");
const NS = `cft-kl-sup-${process.pid}`;
let dir = "";
const netns = new NetnsOps();
const runners: ContainerRunner[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "cft-kl-sup-"));
  await netns.ensure(NS);
});

after(async () => {
  await Promise.all(runners.map((r) => r.stop(0)));
  await netns.remove(NS);
  rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !existsSync(`/proc/${pid}/stat`) ? false : !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

function pidsInNetns(): number[] {
  return execFileSync("ip", ["netns", "pids", NS], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map(Number);
}

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function runner(name: string, argv: string[], policy: RestartPolicy, opts: { backoffMs?: number; readiness?: "marker" | "running"; netns?: string | null } = {}) {
  const states: ContainerSnapshot[] = [];
  const spec: ContainerLaunchSpec = {
    name,
    image: "conform/probe:test",
    argv,
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", POD_NAME: name, POD_NAMESPACE: "ns1", MY_IP: "10.0.0.9" },
    workDir: join(dir, name),
    logPath: join(dir, `${name}.log`),
    pidPath: join(dir, `${name}.pid`),
    netns: opts.netns === undefined ? NS : opts.netns,
    readiness: opts.readiness === "running" ? { kind: "running" } : { kind: "stdout-marker", markers: [PROBE_READY_MARKER] },
    restartPolicy: policy,
  };
  const ms = opts.backoffMs ?? 200;
  const r = new ContainerRunner(spec, { backoff: new Backoff({ initialMs: ms, maxMs: ms * 4, immediateFirst: true }), podDisplayName: `${name}_ns1(x)` }, {
    onChange: () => states.push(r.snapshot()),
  });
  runners.push(r);
  return { r, states, spec };
}

test("a container runs in the pod netns, becomes ready on the marker line, and logs its output", async () => {
  const { r, spec } = runner("web", [process.execPath, FAKE_PROBE, "--port", "8080"], "Always");
  r.start();
  const pid = await waitFor("running", () => r.pid);
  assert.equal(r.snapshot().ready, false, "not ready before the marker (or at least not synchronously)");
  await waitFor("ready", () => r.snapshot().ready);
  assert.ok(pidsInNetns().includes(pid), `pid ${pid} must be inside netns ${NS}`);
  // Reach it over the pod netns' loopback: the listener is really bound inside that namespace.
  const reply = execFileSync("ip", ["netns", "exec", NS, process.execPath, "-e", "require('net').connect(8080,'127.0.0.1').on('data',d=>{process.stdout.write(d);process.exit(0)})"], {
    encoding: "utf8",
    timeout: 10_000,
  });
  assert.equal(reply.trim(), "hello from web");
  const log = readFileSync(spec.logPath, "utf8");
  assert.match(log, /conform-probe: ready tcp=8080/);
  assert.match(log, /POD_NAMESPACE=ns1 MY_IP=10\.0\.0\.9/, "env reaches the process, stderr goes to the same log");
  assert.ok(existsSync(spec.pidPath), "pid file recorded while running");
  await r.stop(5_000);
  const s = r.snapshot();
  assert.equal(s.state.kind, "terminated");
  assert.equal(s.final, true);
  assert.equal(alive(pid), false);
  assert.equal(existsSync(spec.pidPath), false);
});

test("restartPolicy Always restarts a crashing container with back-off and counts restarts", async () => {
  const { r, states } = runner("crash", [process.execPath, FAKE_PROBE, "--exit-after", "50", "--exit-code", "3"], "Always", { backoffMs: 150 });
  r.start();
  await waitFor("3 restarts", () => r.snapshot().restartCount >= 3, 20_000);
  const backoffs = states.filter((s) => s.state.kind === "waiting" && s.state.reason === "CrashLoopBackOff");
  assert.ok(backoffs.length >= 1, "CrashLoopBackOff was reported between restarts");
  const w = backoffs[0]?.state;
  assert.ok(w?.kind === "waiting" && /back-off 0\.\d+s restarting failed container=crash pod=crash_ns1\(x\)/.test(w.message ?? ""), JSON.stringify(w));
  const last = r.snapshot().lastTerminated;
  assert.equal(last?.exitCode, 3);
  assert.equal(last?.reason, "Error");
  const pids = new Set(states.flatMap((s) => (s.state.kind === "running" ? [s.state.pid] : [])));
  assert.ok(pids.size >= 3, "every restart is a new process");
  await r.stop(2_000);
  for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} left running`);
});

test("restartPolicy OnFailure stops after success, Never never restarts", async () => {
  const ok = runner("ok", [process.execPath, FAKE_PROBE, "--exit-after", "30", "--exit-code", "0"], "OnFailure");
  const fail = runner("fail", [process.execPath, FAKE_PROBE, "--exit-after", "30", "--exit-code", "4"], "OnFailure", { backoffMs: 100 });
  const never = runner("never", [process.execPath, FAKE_PROBE, "--exit-after", "30", "--exit-code", "5"], "Never");
  for (const x of [ok, fail, never]) x.r.start();
  await waitFor("ok final", () => ok.r.snapshot().final);
  await waitFor("never final", () => never.r.snapshot().final);
  await waitFor("fail restarted twice", () => fail.r.snapshot().restartCount >= 2);
  const okS = ok.r.snapshot();
  assert.equal(okS.restartCount, 0);
  assert.ok(okS.state.kind === "terminated" && okS.state.exitCode === 0 && okS.state.reason === "Completed");
  const neverS = never.r.snapshot();
  assert.equal(neverS.restartCount, 0);
  assert.ok(neverS.state.kind === "terminated" && neverS.state.exitCode === 5 && neverS.state.reason === "Error");
  assert.equal(fail.r.snapshot().final, false);
  await fail.r.stop(1_000);
  assert.equal(fail.r.snapshot().final, true);
});

test("stop sends SIGTERM, escalates to SIGKILL after the grace period, and leaves no process in the netns", async () => {
  const polite = runner("polite", [process.execPath, FAKE_PROBE], "Always");
  const stubborn = runner("stubborn", [process.execPath, FAKE_PROBE, "--ignore-sigterm"], "Always");
  // A container that forks: the whole process group must go, as with a PID namespace.
  const forks = runner("forks", ["sh", "-c", "sleep 300 & sleep 300 & echo conform-probe: ready; wait"], "Always");
  for (const x of [polite, stubborn, forks]) x.r.start();
  for (const x of [polite, stubborn, forks]) await waitFor(`${x.spec.name} ready`, () => x.r.snapshot().ready);
  const t0 = Date.now();
  await polite.r.stop(10_000);
  assert.ok(Date.now() - t0 < 5_000, "a process that honours SIGTERM is not waited on for the full grace");
  const ps = polite.r.snapshot().state;
  assert.ok(ps.kind === "terminated" && ps.exitCode === 0, JSON.stringify(ps));

  await stubborn.r.stop(300);
  const ss = stubborn.r.snapshot().state;
  assert.ok(ss.kind === "terminated" && ss.exitCode === 137 && ss.signal === 9, `SIGKILL after grace: ${JSON.stringify(ss)}`);
  assert.match(readFileSync(stubborn.spec.logPath, "utf8"), /ignoring SIGTERM/);

  await forks.r.stop(2_000);
  await waitFor("netns empty", () => pidsInNetns().length === 0, 5_000);
  assert.equal(stubborn.r.snapshot().restartCount, 0, "a stopped container is not restarted");
});

test("a missing executable is a StartError (exit 128) and follows the restart policy", async () => {
  const { r } = runner("missing", ["/nonexistent/bin/probe"], "Never");
  r.start();
  const s = await waitFor("final", () => (r.snapshot().final ? r.snapshot() : undefined));
  assert.ok(s.state.kind === "terminated" && s.state.reason === "StartError" && s.state.exitCode === 128, JSON.stringify(s.state));
  assert.match(s.state.kind === "terminated" ? (s.state.message ?? "") : "", /nonexistent/);
});

test("hostNetwork containers run in the kubelet's own netns", async () => {
  const { r } = runner("hostnet", [process.execPath, FAKE_PROBE], "Always", { netns: null, readiness: "running" });
  r.start();
  const pid = await waitFor("running", () => r.pid);
  assert.equal(r.snapshot().ready, true, "readiness 'running' is immediate");
  assert.equal(execFileSync("readlink", [`/proc/${pid}/ns/net`], { encoding: "utf8" }), execFileSync("readlink", ["/proc/self/ns/net"], { encoding: "utf8" }));
  await r.stop(2_000);
  assert.equal(alive(pid), false);
});

test("pid files let a restarted kubelet kill what a crashed one left behind", async () => {
  const { r, spec } = runner("leftover", [process.execPath, FAKE_PROBE], "Never");
  r.start();
  const pid = await waitFor("running", () => r.pid);
  await waitFor("pid file", () => existsSync(spec.pidPath));
  // Simulate a crashed kubelet: the process is still there, only the pid file knows it.
  assert.equal(killRecordedProcesses(dir), 1);
  await waitFor("leftover gone", () => !alive(pid));
  assert.equal(existsSync(spec.pidPath), false);
});
