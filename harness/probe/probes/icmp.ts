// ICMP echo via the system's iputils ping: Node has no raw or ping sockets, and the probe image
// stays free of native code. Without ping the probe cannot run, which is PROBE_ERROR.
import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { isIPv6 } from "node:net";
import { classifyPing } from "../classify.js";
import type { IcmpProbe, ProbeResult } from "../schema.js";
import type { ProbeContext } from "./context.js";
import { ResultDraft, resolveHost, sourceAddressFor } from "./context.js";

let pingPath: Promise<string | undefined> | undefined;

async function findPing(): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/bin", "/bin", "/usr/sbin", "/sbin"]);
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, "ping");
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

export async function runIcmpProbe(probe: IcmpProbe, ctx: ProbeContext): Promise<ProbeResult> {
  const draft = new ResultDraft(probe, ctx);
  const ping = await (pingPath ??= findPing());
  if (!ping) {
    return draft.finish({
      outcome: "PROBE_ERROR",
      detail: "ICMP probes need the ping program (iputils-ping) in the probe pod; none found on PATH",
    });
  }
  const dest = await resolveHost(draft, ctx, probe);
  if (typeof dest !== "string") return dest;
  const src = await sourceAddressFor(draft, ctx, dest);
  if (typeof src !== "string") return src;
  const remainingMs = Math.max(1, probe.timeoutMs - draft.elapsed());
  // -W wants seconds (fractions accepted by iputils ≥ 2020); our own timer is the hard stop.
  const args = ["-n", "-c", "1", "-W", (remainingMs / 1000).toFixed(3), "-I", src, ...(isIPv6(dest) ? ["-6"] : ["-4"]), dest];
  const { code, output, timedOut, spawnError } = await new Promise<{ code: number | null; output: string; timedOut: boolean; spawnError?: Error }>(
    (resolve) => {
      const child = spawn(ping, args, { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      let timedOut = false;
      child.stdout.on("data", (d: Buffer) => (output += d.toString()));
      child.stderr.on("data", (d: Buffer) => (output += d.toString()));
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, remainingMs + 500);
      child.on("error", (err) => {
        clearTimeout(timer);
        resolve({ code: null, output, timedOut, spawnError: err });
      });
      child.on("close", (c) => {
        clearTimeout(timer);
        resolve({ code: c, output, timedOut });
      });
    },
  );
  if (spawnError) return draft.finish({ outcome: "PROBE_ERROR", detail: `could not run ${ping}: ${spawnError.message}` });
  if (timedOut) return draft.finish({ outcome: "TIMEOUT", detail: "no ICMP echo reply before the timeout (ping killed)" });
  const c = classifyPing(code, output);
  draft.result.icmp = { rttMs: c.rttMs };
  return draft.finish({ outcome: c.outcome, detail: c.detail });
}
