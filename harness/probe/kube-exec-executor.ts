// Kubernetes executor (kind and existing clusters): runs the batch client in the probe pod's
// container through the API server's exec subresource. The probe image there carries node and
// the compiled probe at PROBE_IMAGE_MAIN.
import { PassThrough, Writable } from "node:stream";
import type { KubeConfig, V1Status } from "@kubernetes/client-node";
import { Exec } from "@kubernetes/client-node";
import type { ProbeExecutor, ProbePod, RunBatchOptions } from "./executor.js";
import { batchArgs, batchStdin, EXECUTOR_GRACE_MS, forwardDrops, resolvedOptions, resultsFromRun } from "./executor.js";
import type { ProbeInput, ProbeResult } from "./schema.js";

/** Where the probe image built for real clusters keeps the compiled probe. */
export const PROBE_IMAGE_MAIN = "/opt/conform/dist/probe-image/main.mjs";

export interface KubeExecProbeExecutorOptions {
  /** Time allowed beyond the in-pod deadline before the batch is abandoned; default EXECUTOR_GRACE_MS. */
  graceMs?: number;
  kubeConfig: KubeConfig;
  /** Default `["node", PROBE_IMAGE_MAIN]`. */
  command?: readonly string[];
  /** Used when the pod reference names no container; "" lets the API server pick the only one. */
  container?: string;
}

class Collector extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.text += chunk.toString("utf8");
    done();
  }
}

function statusText(s: V1Status): string {
  if (s.status === "Success") return "exit 0";
  const code = s.details?.causes?.find((c) => c.reason === "ExitCode")?.message;
  return code ? `exit ${code}` : `${s.status ?? "unknown status"}: ${s.message ?? s.reason ?? ""}`.trim();
}

export class KubeExecProbeExecutor implements ProbeExecutor {
  private readonly exec: Exec;
  private readonly command: readonly string[];

  constructor(private readonly options: KubeExecProbeExecutorOptions) {
    this.exec = new Exec(options.kubeConfig);
    this.command = options.command ?? ["node", PROBE_IMAGE_MAIN];
  }

  async runBatch(pod: ProbePod, probes: readonly ProbeInput[], options?: RunBatchOptions): Promise<ProbeResult[]> {
    if (probes.length === 0) return [];
    const opts = resolvedOptions(probes, options);
    const what = `exec into ${pod.namespace}/${pod.name}`;
    const limitMs = opts.deadlineMs + (this.options.graceMs ?? EXECUTOR_GRACE_MS);
    const stdout = new Collector();
    const stderr = new Collector();
    // Never ended: over v4.channel.k8s.io the client closes the whole session when stdin ends,
    // so the batch client stops reading at the newline instead.
    const stdin = new PassThrough();
    const run = await new Promise<{ ended: string; timedOut: boolean; startError?: string }>((resolve) => {
      let status: V1Status | undefined;
      let settled = false;
      const finish = (r: { ended: string; timedOut: boolean; startError?: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      let closeSocket: () => void = () => undefined;
      const timer = setTimeout(() => {
        closeSocket();
        finish({ ended: "stopped", timedOut: true });
      }, limitMs);
      this.exec
        .exec(pod.namespace, pod.name, pod.container ?? this.options.container ?? "", [...this.command, ...batchArgs(opts)], stdout, stderr, stdin, false, (s) => {
          status = s;
          finish({ ended: statusText(s), timedOut: false });
        })
        .then(
          (ws) => {
            closeSocket = () => ws.close();
            ws.on("close", () => finish({ ended: status ? statusText(status) : "exec stream closed without a status", timedOut: false }));
            stdin.write(batchStdin(probes));
            const stop = forwardDrops(options?.drops, (line) => stdin.write(line));
            ws.on("close", stop);
          },
          (err: unknown) => finish({ ended: "not started", timedOut: false, startError: describeError(err) }),
        );
    });
    return resultsFromRun(probes, {
      what,
      stdout: stdout.text,
      stderr: stderr.text,
      ended: run.ended,
      ...(run.timedOut ? { timedOutAfterMs: limitMs } : {}),
      ...(run.startError ? { startError: run.startError } : {}),
    });
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  // The ws library rejects with an ErrorEvent-like object carrying `message` and `error`.
  const e = err as { message?: string; error?: { message?: string } } | undefined;
  return e?.error?.message ?? e?.message ?? String(err);
}
