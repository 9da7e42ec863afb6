// CNI ADD/DEL latency of the conform plugin (node process + agent over the unix socket) against
// the reference ptp + host-local plugins (Go binaries), side by side in one node netns, pods
// interleaved so both see the same machine state. Printed, never asserted.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execCapture } from "../../harness/cluster/local/kubelet/exec.js";
import { cniBinDir } from "../../harness/cluster/local/paths.js";
import { run } from "../../harness/util/exec.js";
import { waitFor } from "../../harness/util/wait.js";

const PODS = 20;
const NODE = "cft-ag-bench-node";
const podNs = (i: number) => `cft-ag-bench-p${i}`;
const dir = mkdtempSync(join(tmpdir(), "cft-ag-bench-"));
const here = dirname(fileURLToPath(import.meta.url));
const socketPath = join(dir, "run", "agent.sock");
const binDir = join(dir, "bin");

const conformConf = JSON.stringify({ cniVersion: "1.0.0", name: "conform", type: "conform-cni", socketPath });
const ptpConf = JSON.stringify({
  cniVersion: "1.0.0",
  name: "bench-ptp",
  type: "ptp",
  ipMasq: false,
  ipam: { type: "host-local", ranges: [[{ subnet: "10.244.212.0/24" }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(dir, "host-local") },
});

async function invoke(plugin: string, conf: string, command: string, i: number, ifName: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await execCapture("ip", ["netns", "exec", NODE, plugin], {
    stdin: conf,
    timeoutMs: 30_000,
    env: {
      PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: command,
      CNI_CONTAINERID: `bench-${ifName}-${i}`,
      CNI_NETNS: `/var/run/netns/${podNs(i)}`,
      CNI_IFNAME: ifName,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=p${i}`,
      CNI_PATH: `${binDir}:${cniBinDir()}`,
    },
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new Error(`${plugin} ${command} failed: ${r.stdout}${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

let agentPid: number | undefined;
try {
  await run("ip", ["netns", "add", NODE]);
  await run("ip", ["-n", NODE, "link", "set", "lo", "up"]);
  for (let i = 0; i < PODS; i++) await run("ip", ["netns", "add", podNs(i)]);
  mkdirSync(binDir, { recursive: true });
  const cfg = join(dir, "agent.json");
  writeFileSync(cfg, JSON.stringify({ nodeName: "bench", stateDir: join(dir, "state"), socketPath, podCIDR: "10.244.211.0/24", cniBinDir: binDir }));
  let log = "";
  const agent = spawn("ip", ["netns", "exec", NODE, process.execPath, resolve(here, "cni-agent-main.js"), "--config", cfg], { stdio: ["ignore", "pipe", "pipe"] });
  agentPid = agent.pid;
  agent.stdout.on("data", (b: Buffer) => (log += b.toString()));
  agent.stderr.on("data", (b: Buffer) => (log += b.toString()));
  await waitFor("agent ready", async () => (log.includes("agent ready") ? true : undefined), { timeoutMs: 20_000, intervalMs: 50 });

  const conform = join(binDir, "conform-cni");
  const ptp = join(cniBinDir(), "ptp");
  const t = { conformAdd: [] as number[], conformDel: [] as number[], ptpAdd: [] as number[], ptpDel: [] as number[], conformVersion: [] as number[], ptpVersion: [] as number[] };
  for (let i = 0; i < PODS; i++) {
    // Each pod gets both attachments (eth0 conform, eth1 ptp); the order alternates.
    if (i % 2 === 0) {
      t.conformAdd.push(await invoke(conform, conformConf, "ADD", i, "eth0"));
      t.ptpAdd.push(await invoke(ptp, ptpConf, "ADD", i, "eth1"));
    } else {
      t.ptpAdd.push(await invoke(ptp, ptpConf, "ADD", i, "eth1"));
      t.conformAdd.push(await invoke(conform, conformConf, "ADD", i, "eth0"));
    }
    t.conformVersion.push(await invoke(conform, "{}", "VERSION", i, "eth0"));
    t.ptpVersion.push(await invoke(ptp, '{"cniVersion":"1.0.0"}', "VERSION", i, "eth1"));
  }
  for (let i = 0; i < PODS; i++) {
    t.conformDel.push(await invoke(conform, conformConf, "DEL", i, "eth0"));
    t.ptpDel.push(await invoke(ptp, ptpConf, "DEL", i, "eth1"));
  }
  const row = (what: string, a: number[], b: number[]) =>
    console.log(`${what.padEnd(26)} conform median ${median(a).toFixed(1)} ms (p90 ${p90(a).toFixed(1)})   ptp+host-local median ${median(b).toFixed(1)} ms (p90 ${p90(b).toFixed(1)})   ratio ${(median(a) / median(b)).toFixed(2)}x`);
  console.log(`${PODS} pods, one node netns, interleaved`);
  row("ADD (exec to result)", t.conformAdd, t.ptpAdd);
  row("DEL", t.conformDel, t.ptpDel);
  row("VERSION (process start)", t.conformVersion, t.ptpVersion);
  const agentMs = (cmd: string) => [...log.matchAll(new RegExp(`CNI request done command=${cmd} .* ms=(\\d+)`, "g"))].map((m) => Number(m[1]));
  console.log(`agent-side time (socket request to answer): ADD median ${median(agentMs("ADD"))} ms, DEL median ${median(agentMs("DEL"))} ms`);
} finally {
  if (agentPid !== undefined) {
    try {
      process.kill(agentPid, "SIGTERM");
    } catch {
      // already gone
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  for (let i = 0; i < PODS; i++) await run("ip", ["netns", "delete", podNs(i)]).catch(() => undefined);
  await run("ip", ["netns", "delete", NODE]).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
