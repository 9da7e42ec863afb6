// Local executor: runs the batch client inside the pod's network namespace with
// `ip netns exec <netns> node dist/probe-image/main.mjs batch`, as the local kubelet would.
import { spawn } from "node:child_process";
import type { ProbeExecutor, ProbePod, RunBatchOptions } from "./executor.js";
import { batchArgs, batchStdin, EXECUTOR_GRACE_MS, forwardDrops, probeMainPath, resolvedOptions, resultsFromRun } from "./executor.js";
import type { ProbeInput, ProbeResult } from "./schema.js";

export interface NetnsProbeExecutorOptions {
  /** Time allowed beyond the in-pod deadline before the batch is abandoned; default EXECUTOR_GRACE_MS. */
  graceMs?: number;
  /** Maps a pod to the name of its network namespace (`ip netns list`); the local provider knows it. */
  resolveNetns: (pod: ProbePod) => string | Promise<string>;
  /** The batch client command; default `[<this node>, <checkout>/dist/probe-image/main.mjs]`. */
  command?: readonly string[];
  /** Path of `ip`; default "ip" on PATH. */
  ipCommand?: string;
}

/** Keep this much of stdout/stderr: a result document of thousands of probes still fits. */
const MAX_CAPTURE = 32 * 1024 * 1024;

export class NetnsProbeExecutor implements ProbeExecutor {
  private readonly command: readonly string[];
  private readonly ip: string;

  constructor(private readonly options: NetnsProbeExecutorOptions) {
    this.command = options.command ?? [process.execPath, probeMainPath()];
    this.ip = options.ipCommand ?? "ip";
  }

  async runBatch(pod: ProbePod, probes: readonly ProbeInput[], options?: RunBatchOptions): Promise<ProbeResult[]> {
    if (probes.length === 0) return [];
    const opts = resolvedOptions(probes, options);
    let netns: string;
    try {
      netns = await this.options.resolveNetns(pod);
    } catch (err) {
      return resultsFromRun(probes, {
        what: `pod ${pod.namespace}/${pod.name}`,
        stdout: "",
        stderr: "",
        ended: "not started",
        startError: `no network namespace for the pod: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
    const argv = ["netns", "exec", netns, ...this.command, ...batchArgs(opts)];
    const what = `ip netns exec ${netns} … batch`;
    const limitMs = opts.deadlineMs + (this.options.graceMs ?? EXECUTOR_GRACE_MS);
    const run = await new Promise<{ stdout: string; stderr: string; ended: string; timedOut: boolean; startError?: string }>((resolve) => {
      const child = spawn(this.ip, argv, {
        stdio: ["pipe", "pipe", "pipe"],
        env: {
          ...process.env,
          POD_NAME: pod.name,
          POD_NAMESPACE: pod.namespace,
          NODE_NAME: pod.nodeName ?? "",
        },
      });
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      child.stdout.on("data", (d: Buffer) => {
        if (stdout.length < MAX_CAPTURE) stdout += d.toString("utf8");
      });
      child.stderr.on("data", (d: Buffer) => {
        if (stderr.length < MAX_CAPTURE) stderr += d.toString("utf8");
      });
      // A child that died before reading stdin makes the write fail with EPIPE; its exit says why.
      child.stdin.on("error", () => undefined);
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, limitMs);
      child.on("error", (err) => {
        clearTimeout(timer);
        resolve({ stdout, stderr, ended: "not started", timedOut, startError: err.message });
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ stdout, stderr, ended: signal ? `killed by ${signal}` : `exit ${code}`, timedOut });
      });
      // stdin stays open for drop notices while the runner has a feed; it ends with the batch.
      if (!options?.drops) {
        child.stdin.end(batchStdin(probes));
        return;
      }
      child.stdin.write(batchStdin(probes));
      const stop = forwardDrops(options.drops, (line) => {
        if (child.stdin.writable) child.stdin.write(line);
      });
      child.on("close", () => {
        stop();
        child.stdin.destroy();
      });
    });
    return resultsFromRun(probes, {
      what,
      stdout: run.stdout,
      stderr: run.stderr,
      ended: run.ended,
      ...(run.timedOut ? { timedOutAfterMs: limitMs } : {}),
      ...(run.startError ? { startError: run.startError } : {}),
    });
  }
}
