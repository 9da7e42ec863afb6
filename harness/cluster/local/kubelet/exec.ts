// Runs a short-lived helper program (ip, CNI plugins) to completion, capturing its output.
import { spawn } from "node:child_process";

export interface ExecResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  readonly stdin?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Killed with SIGKILL after this long; a hung plugin must not wedge the pod worker forever. */
  readonly timeoutMs?: number;
}

export function execCapture(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
    // A plugin that exits without reading stdin makes the write fail with EPIPE; its exit status
    // is the real answer, so the write error is deliberately ignored.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.stdin ?? "");
  });
}

/** Like execCapture but throws with the command line and stderr when the exit status is not 0. */
export async function execOrThrow(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const r = await execCapture(file, args, opts);
  if (r.code !== 0) {
    const why = r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`;
    throw new Error(`${[file, ...args].join(" ")}: ${why}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ""}`);
  }
  return r.stdout;
}
