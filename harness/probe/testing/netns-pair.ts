// Two network namespaces joined by a veth pair, with a probe server running in the first: the
// real setup the probe integration tests and the bench run against. Nothing touches the root
// netns: the veth is created inside A with its peer moved straight into B.
import type { ChildProcess } from "node:child_process";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { probeMainPath } from "../executor.js";

const run = promisify(execFile);

export const PAIR_ADDR = {
  /** The server's address in A. */
  server: "10.244.250.1",
  /** The client's address in B. */
  client: "10.244.250.2",
  /** Also on A, but A's nftables silently drops everything sent to it. */
  dropped: "10.244.250.3",
  /** Also on A; A's nftables answers with ICMP host unreachable (UDP sockets never see it). */
  rejected: "10.244.250.5",
  /** Also on A; A's nftables answers with ICMP admin prohibited (a hard error for UDP too). */
  prohibited: "10.244.250.6",
  /** B routes this subnet via A, which does not forward: packets vanish without an ICMP error. */
  unroutedSubnet: "10.244.251.0/24",
  unrouted: "10.244.251.7",
} as const;

export interface NetnsPair {
  a: string;
  b: string;
  /** Filled once startServer ran. */
  server?: ChildProcess;
  serverLog: string[];
  tmpDir: string;
  startServer(args: string[]): Promise<void>;
  /** (source address, L4 protocol, source port) tuples A saw arriving for PAIR_ADDR.dropped. */
  droppedTuples(): Promise<{ address: string; proto: string; port: number }[]>;
  /** Stops the server (SIGTERM) and returns its exit code; null if it had to be killed. */
  stopServer(): Promise<number | null>;
  destroy(): Promise<void>;
}

async function ip(...args: string[]): Promise<void> {
  await run("ip", args);
}

async function inNs(ns: string, cmd: string, args: string[], input?: string): Promise<string> {
  if (input === undefined) return (await run("ip", ["netns", "exec", ns, cmd, ...args])).stdout;
  return new Promise((resolve, reject) => {
    const child = execFile("ip", ["netns", "exec", ns, cmd, ...args], (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin?.end(input);
  });
}

export async function isRoot(): Promise<boolean> {
  return process.getuid?.() === 0;
}

export async function createNetnsPair(tag = "probe"): Promise<NetnsPair> {
  const id = randomBytes(3).toString("hex");
  const a = `cft-${tag}-a-${id}`;
  const b = `cft-${tag}-b-${id}`;
  const tmpDir = await mkdtemp(join(tmpdir(), `cft-${tag}-`));
  const serverLog: string[] = [];
  let server: ChildProcess | undefined;
  let serverExit: Promise<number | null> | undefined;

  const pair: NetnsPair = {
    a,
    b,
    serverLog,
    tmpDir,
    async startServer(args) {
      const child = spawn("ip", ["netns", "exec", a, process.execPath, probeMainPath(), "serve", ...args], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, POD_NAME: "server-a", POD_NAMESPACE: "probe-test", NODE_NAME: "node-a" },
      });
      server = child;
      pair.server = child;
      serverExit = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const lines = createInterface({ input: child.stdout });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`probe server did not get ready: ${stderr}`)), 10_000);
        lines.on("line", (line) => {
          serverLog.push(line);
          if (line.includes('"event":"ready"')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`probe server exited (${code}): ${stderr}`));
        });
      });
    },
    async droppedTuples() {
      const out = JSON.parse(await inNs(a, "nft", ["-j", "list", "set", "inet", "cftprobe", "seen"])) as {
        nftables: { set?: { elem?: { concat: (string | number)[] }[] } }[];
      };
      const elems = out.nftables.find((x) => x.set)?.set?.elem ?? [];
      return elems.map((e) => ({ address: String(e.concat[0]), proto: String(e.concat[1]), port: Number(e.concat[2]) }));
    },
    async stopServer() {
      if (!server || server.exitCode !== null || server.signalCode !== null) return server?.exitCode ?? null;
      // The pid is the node process itself: `ip netns exec` execs its command.
      server.kill("SIGTERM");
      const code = await Promise.race([serverExit, new Promise<"late">((r) => setTimeout(() => r("late"), 5000))]);
      if (code === "late") {
        server.kill("SIGKILL");
        return null;
      }
      return code ?? null;
    },
    async destroy() {
      await pair.stopServer().catch(() => undefined);
      for (const ns of [a, b]) await ip("netns", "del", ns).catch(() => undefined);
      await rm(tmpDir, { recursive: true, force: true });
    },
  };

  try {
    await ip("netns", "add", a);
    await ip("netns", "add", b);
    await ip("-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b);
    for (const [ns, addrs] of [
      [a, [PAIR_ADDR.server, PAIR_ADDR.dropped, PAIR_ADDR.rejected, PAIR_ADDR.prohibited]],
      [b, [PAIR_ADDR.client]],
    ] as const) {
      for (const addr of addrs) await ip("-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0");
      await ip("-n", ns, "link", "set", "lo", "up");
      await ip("-n", ns, "link", "set", "eth0", "up");
    }
    await ip("-n", b, "route", "add", PAIR_ADDR.unroutedSubnet, "via", PAIR_ADDR.server);
    await inNs(a, "sysctl", ["-q", "-w", "net.ipv4.ip_forward=0"]);
    // The set records every tuple that reached the drop rule, so tests can check the source port a
    // probe reported against what was on the wire.
    await inNs(
      a,
      "nft",
      ["-f", "-"],
      `table inet cftprobe {
  set seen { type ipv4_addr . inet_proto . inet_service; flags dynamic; size 65535; }
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr ${PAIR_ADDR.dropped} meta l4proto { tcp, udp } add @seen { ip saddr . meta l4proto . th sport }
    ip daddr ${PAIR_ADDR.dropped} drop
    ip daddr ${PAIR_ADDR.rejected} reject with icmp type host-unreachable
    ip daddr ${PAIR_ADDR.prohibited} reject with icmp type admin-prohibited
  }
}
`,
    );
  } catch (err) {
    await pair.destroy();
    throw err;
  }
  return pair;
}

export async function writeTestZone(pair: NetnsPair): Promise<string> {
  const file = join(pair.tmpDir, "zone.yaml");
  await writeFile(
    file,
    [
      "zone: world.test",
      "ttl: 5",
      "records:",
      `  api: ${PAIR_ADDR.server}`,
      `  multi.world.test: [${PAIR_ADDR.server}, ${PAIR_ADDR.rejected}]`,
      `  blackhole: ${PAIR_ADDR.dropped}`,
      "",
    ].join("\n"),
  );
  return file;
}
