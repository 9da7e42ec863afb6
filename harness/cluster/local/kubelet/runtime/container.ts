// The container runtime of the local cluster: a container is one process (group) started in the
// pod's netns, supervised here: output to its log file, readiness from its stdout, restarts per
// restartPolicy with CrashLoopBackOff, SIGTERM → grace → SIGKILL on stop.
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { accessSync, constants, createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { WriteStream } from "node:fs";
import { constants as osConstants } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";
import type { Backoff } from "../backoff.js";
import type { Readiness } from "../images.js";
import type { BindMount } from "../volumes/container-mounts.js";
import { mountLauncher } from "./mounts.js";

export type RestartPolicy = "Always" | "OnFailure" | "Never";

export interface ContainerLaunchSpec {
  readonly name: string;
  readonly image: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workDir: string;
  readonly logPath: string;
  readonly pidPath: string;
  /** Pod netns to run in; null runs in the kubelet's own netns (hostNetwork pods). */
  readonly netns: string | null;
  readonly readiness: Readiness;
  readonly restartPolicy: RestartPolicy;
  /** Volumes bound at their mountPaths in a mount namespace of the container's own (mounts.ts). */
  readonly mounts?: readonly BindMount[];
}

export interface TerminatedState {
  readonly kind: "terminated";
  readonly exitCode: number;
  readonly signal?: number;
  readonly reason: "Completed" | "Error" | "StartError";
  readonly message?: string;
  readonly startedAt?: Date;
  readonly finishedAt: Date;
  readonly pid?: number;
}

export type ContainerState =
  | { readonly kind: "waiting"; readonly reason: string; readonly message?: string }
  | { readonly kind: "running"; readonly pid: number; readonly startedAt: Date }
  | TerminatedState;

export interface ContainerSnapshot {
  readonly name: string;
  readonly image: string;
  readonly state: ContainerState;
  readonly lastTerminated?: TerminatedState;
  readonly restartCount: number;
  readonly ready: boolean;
  readonly started: boolean;
  /** No process will be started again (policy said so, or the container was stopped). */
  readonly final: boolean;
}

export interface ContainerEvents {
  onChange(): void;
  onEvent?(type: "Normal" | "Warning", reason: string, message: string): void;
}

export interface ContainerRunnerOptions {
  readonly backoff: Backoff;
  /** Restart count carried over (a kubelet restart adopting a pod continues the count). */
  readonly initialRestartCount?: number;
  /** Used in CrashLoopBackOff messages, e.g. `web_default(uid)`. */
  readonly podDisplayName?: string;
}

/** `setpriv --pdeathsig` makes containers die with the kubelet, so a crashed kubelet leaves no orphans. */
const SETPRIV = (() => {
  for (const dir of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    const p = join(dir, "setpriv");
    try {
      accessSync(p, constants.X_OK);
      return spawnSync(p, ["--help"], { encoding: "utf8" }).stdout.includes("pdeathsig") ? p : null;
    } catch {
      // not here
    }
  }
  return null;
})();

/** Resolves the program like execvp would; null if it cannot be run. */
export function findExecutable(program: string, path: string | undefined, cwd: string): string | null {
  const candidates = program.includes("/") ? [isAbsolute(program) ? program : join(cwd, program)] : (path ?? "").split(delimiter).filter(Boolean).map((d) => join(d, program));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

/** Process start time in clock ticks since boot (/proc/<pid>/stat field 22), to tell a reused PID apart. */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parens; fields resume after the last ")".
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[signal] ?? 0;
}

function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

export class ContainerRunner {
  private state: ContainerState = { kind: "waiting", reason: "ContainerCreating" };
  private lastTerminated: TerminatedState | undefined;
  private restartCount: number;
  private ready = false;
  private everStarted = false;
  private final = false;
  private stopping = false;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly spec: ContainerLaunchSpec,
    private readonly opts: ContainerRunnerOptions,
    private readonly events: ContainerEvents,
  ) {
    this.restartCount = opts.initialRestartCount ?? 0;
  }

  snapshot(): ContainerSnapshot {
    return {
      name: this.spec.name,
      image: this.spec.image,
      state: this.state,
      ...(this.lastTerminated ? { lastTerminated: this.lastTerminated } : {}),
      restartCount: this.restartCount,
      ready: this.ready,
      started: this.state.kind === "running",
      final: this.final,
    };
  }

  get pid(): number | undefined {
    return this.state.kind === "running" ? this.state.pid : undefined;
  }

  /** Starts the first process; later starts are the runner's own business (restart policy). */
  start(): void {
    if (this.child || this.final || this.stopping) return;
    this.launch();
  }

  /**
   * Stops for good: SIGTERM to the process group, SIGKILL after `graceMs`. Resolves once the
   * process has exited (or at once if none runs).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      // Stopped during back-off: the last termination is the final state.
      if (this.state.kind === "waiting" && this.lastTerminated) {
        this.state = this.lastTerminated;
        this.lastTerminated = undefined;
      }
    }
    const child = this.child;
    if (!child || child.pid === undefined) {
      if (this.final) return;
      this.final = true;
      if (this.state.kind === "waiting") this.state = { kind: "terminated", exitCode: 0, reason: "Completed", message: "never started", finishedAt: new Date() };
      this.events.onChange();
      return;
    }
    const pid = child.pid;
    this.events.onEvent?.("Normal", "Killing", `Stopping container ${this.spec.name}`);
    killGroup(pid, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"timeout">((res) => (timer = setTimeout(() => res("timeout"), graceMs)));
    const outcome = await Promise.race([this.exited.then(() => "exited" as const), graceOver]);
    if (timer) clearTimeout(timer);
    if (outcome === "timeout") {
      killGroup(pid, "SIGKILL");
      await this.exited;
    }
  }

  private launch(): void {
    const spec = this.spec;
    mkdirSync(spec.workDir, { recursive: true });
    const resolved = findExecutable(spec.argv[0] ?? "", spec.env["PATH"], spec.workDir);
    if (!resolved) {
      const now = new Date();
      this.onTerminated({
        kind: "terminated",
        exitCode: 128,
        reason: "StartError",
        message: `exec: "${spec.argv[0] ?? ""}": executable file not found in $PATH`,
        startedAt: now,
        finishedAt: now,
      });
      return;
    }
    let mounts: string[];
    try {
      mounts = mountLauncher(spec.mounts ?? [], spec.netns === null);
    } catch (err) {
      const now = new Date();
      this.onTerminated({ kind: "terminated", exitCode: 128, reason: "StartError", message: `mounting volumes: ${err instanceof Error ? err.message : String(err)}`, startedAt: now, finishedAt: now });
      return;
    }
    const prefix = [...(spec.netns ? ["ip", "netns", "exec", spec.netns] : []), ...mounts, ...(SETPRIV ? [SETPRIV, "--pdeathsig", "KILL", "--"] : [])];
    const argv = [...prefix, ...spec.argv];
    const log: WriteStream = createWriteStream(spec.logPath, { flags: "a" });
    log.on("error", () => {}); // a full disk must not crash the kubelet; the container still runs
    const child = spawn(argv[0] ?? "", argv.slice(1), {
      cwd: spec.workDir,
      env: { ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: signals reach everything the container forked, as with a PID namespace.
      detached: true,
    });
    this.child = child;
    const startedAt = new Date();
    let resolveExited: () => void = () => {};
    this.exited = new Promise((res) => (resolveExited = res));
    let openStreams = 2;
    const closeLog = () => {
      if (--openStreams === 0) log.end();
    };

    const readiness = spec.readiness;
    let tail = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      log.write(chunk);
      if (readiness.kind === "stdout-marker" && !this.ready && this.child === child) {
        const text = tail + chunk.toString("utf8");
        if (readiness.markers.some((m) => text.includes(m))) {
          this.ready = true;
          this.events.onChange();
        } else {
          // Keep enough to find a marker split across two chunks.
          tail = text.slice(-Math.max(...readiness.markers.map((m) => m.length)));
        }
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => log.write(chunk));
    child.stdout?.on("close", closeLog);
    child.stderr?.on("close", closeLog);

    child.once("spawn", () => {
      const pid = child.pid ?? -1;
      this.state = { kind: "running", pid, startedAt };
      this.everStarted = true;
      this.ready = readiness.kind === "running";
      try {
        writeFileSync(spec.pidPath, JSON.stringify({ pid, startTicks: processStartTicks(pid) }));
      } catch {
        // best effort: only used to clean up after a crashed kubelet
      }
      this.events.onEvent?.("Normal", "Started", `Started container ${spec.name}`);
      this.events.onChange();
    });
    child.once("error", (err) => {
      // spawn() itself failed (no "exit" will follow).
      if (child.pid !== undefined) return;
      this.child = undefined;
      log.end();
      resolveExited();
      const now = new Date();
      this.onTerminated({ kind: "terminated", exitCode: 128, reason: "StartError", message: err.message, startedAt: now, finishedAt: now });
    });
    child.once("exit", (code, signal) => {
      const pid = child.pid ?? -1;
      // The leader is gone; like a PID namespace teardown, take the rest of the group with it.
      killGroup(pid, "SIGKILL");
      rmSync(spec.pidPath, { force: true });
      this.child = undefined;
      const exitCode = code ?? 128 + (signal ? signalNumber(signal) : 0);
      this.onTerminated({
        kind: "terminated",
        exitCode,
        ...(signal ? { signal: signalNumber(signal), message: `killed by ${signal}` } : {}),
        reason: exitCode === 0 ? "Completed" : "Error",
        startedAt,
        finishedAt: new Date(),
        pid,
      });
      resolveExited();
    });
  }

  private onTerminated(t: TerminatedState): void {
    this.ready = false;
    this.state = t;
    const restart = !this.stopping && (this.spec.restartPolicy === "Always" || (this.spec.restartPolicy === "OnFailure" && t.exitCode !== 0));
    if (!restart) {
      this.final = true;
      this.events.onChange();
      return;
    }
    const ranFor = t.startedAt ? t.finishedAt.getTime() - t.startedAt.getTime() : 0;
    const delay = this.opts.backoff.next(ranFor);
    if (delay === 0) {
      this.relaunch(t);
      return;
    }
    this.lastTerminated = t;
    const secs = Math.round(delay / 100) / 10;
    const message = `back-off ${secs}s restarting failed container=${this.spec.name} pod=${this.opts.podDisplayName ?? ""}`;
    this.state = { kind: "waiting", reason: "CrashLoopBackOff", message };
    this.events.onEvent?.("Warning", "BackOff", "Back-off restarting failed container " + this.spec.name);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping) this.relaunch(t);
    }, delay);
    this.events.onChange();
  }

  private relaunch(previous: TerminatedState): void {
    this.lastTerminated = previous;
    this.restartCount++;
    this.state = { kind: "waiting", reason: "ContainerCreating" };
    this.launch();
    this.events.onChange();
  }

  /** True once a process was ever started (for the `started` vs never-ran distinction). */
  get hasStarted(): boolean {
    return this.everStarted;
  }
}

/**
 * Kills processes a previous kubelet run recorded in `podDir/*.pid` (when the PID still belongs to
 * the same process); returns how many it signalled.
 */
export function killRecordedProcesses(podDir: string): number {
  let killed = 0;
  let names: string[];
  try {
    names = readdirSync(podDir).filter((n) => n.endsWith(".pid"));
  } catch {
    return 0;
  }
  for (const n of names) {
    const file = join(podDir, n);
    try {
      const rec = JSON.parse(readFileSync(file, "utf8")) as { pid?: unknown; startTicks?: unknown };
      if (typeof rec.pid === "number" && rec.pid > 1 && rec.startTicks !== null && processStartTicks(rec.pid) === rec.startTicks) {
        if (killGroup(rec.pid, "SIGKILL")) killed++;
      }
    } catch {
      // unreadable record: nothing we can safely kill
    }
    rmSync(file, { force: true });
  }
  return killed;
}
