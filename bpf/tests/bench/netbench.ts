// Driving cf-netbench (netbench.c, built by bpf/Makefile) from a bench: one run inside a netns,
// its rate (operations per second) parsed from the "<metric> <count> <seconds>" line it prints.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../../native/paths.js";

export const NETBENCH = join(repoRoot(), "bpf", "build", "tools", "cf-netbench");

export function runNetbench(netns: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", netns, NETBENCH, ...args]);
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("close", (code) => {
      const [, count, secs] = out.trim().split(" ");
      if (code !== 0 || !count || !secs) reject(new Error(`cf-netbench ${args.join(" ")}: exit ${code}: ${err}`));
      else resolve(Number(count) / Number(secs));
    });
  });
}

export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
}
