import { execFile, spawn } from "node:child_process";

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${code ?? "signal"}): ${stderr.trim() || "(no output)"}`);
    this.name = "CommandError";
  }
}

/** Runs a command to completion; rejects with its stderr when it exits non-zero. */
export function run(file: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new CommandError([file, ...args].join(" "), typeof err.code === "number" ? err.code : null, String(stderr || err.message)));
      else resolve(String(stdout));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** `ip` with its arguments; `netns` runs it against that namespace (`ip -n`). */
export function ip(args: readonly string[], netns?: string): Promise<string> {
  return run("ip", netns ? ["-n", netns, ...args] : [...args]);
}

/** Runs several `ip` commands in one process (`ip -batch -`), failing on the first error. */
export function ipBatch(lines: readonly string[], netns?: string): Promise<string> {
  if (lines.length === 0) return Promise.resolve("");
  return run("ip", [...(netns ? ["-n", netns] : []), "-batch", "-"], { input: lines.join("\n") + "\n" });
}

/**
 * Starts a long-running process detached from us (own session), so it outlives the CLI that
 * started it; stdout and stderr go to `logFile`. Returns its PID. With `netns` it is started
 * through `nsenter --net`, which execs the program in place (the PID is the program's). Unlike
 * `ip netns exec` it keeps the host's mount namespace and /sys, so what the process creates under
 * /run/netns is visible to everyone and /sys/fs/bpf and /sys/fs/cgroup stay reachable.
 */
export function spawnDetached(
  file: string,
  args: readonly string[],
  opts: { netns?: string; logFd: number; env?: NodeJS.ProcessEnv; cwd?: string },
): number {
  const [cmd, argv] = opts.netns ? ["nsenter", [`--net=/run/netns/${opts.netns}`, "--", file, ...args]] : [file, [...args]];
  const child = spawn(cmd, argv, {
    detached: true,
    stdio: ["ignore", opts.logFd, opts.logFd],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  if (child.pid === undefined) throw new Error(`could not start ${file}`);
  child.unref();
  return child.pid;
}
