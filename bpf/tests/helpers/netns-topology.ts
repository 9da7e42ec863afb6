// A node netns holding the host-side veth ends of two pod netns, as the local cluster
// wires pods: /32 pod addresses, a gateway address on the node's lo, routes per veth.
// Nothing is created in the root netns.
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export interface PodSpec {
  name: string;
  ip: string;
  /** Host-side veth name in the node netns (<= 15 chars). */
  hostIf: string;
}

export interface Topology {
  node: string;
  pods: Record<string, { netns: string; ip: string; hostIf: string }>;
  gateway: string;
}

function ip(args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Build the topology; names start with `prefix` (unique per test run). */
export function createTopology(prefix: string, gateway: string, pods: PodSpec[]): Topology {
  const node = `${prefix}-node`;
  const topo: Topology = { node, pods: {}, gateway };
  ip(["netns", "add", node]);
  try {
    ip(["-n", node, "link", "set", "lo", "up"]);
    ip(["-n", node, "addr", "add", `${gateway}/32`, "dev", "lo"]);
    execFileSync("ip", ["netns", "exec", node, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    for (const p of pods) {
      const ns = `${prefix}-${p.name}`;
      ip(["netns", "add", ns]);
      topo.pods[p.name] = { netns: ns, ip: p.ip, hostIf: p.hostIf };
      ip(["-n", node, "link", "add", p.hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      ip(["-n", node, "link", "set", p.hostIf, "up"]);
      ip(["-n", node, "route", "add", `${p.ip}/32`, "dev", p.hostIf]);
      ip(["-n", ns, "link", "set", "lo", "up"]);
      ip(["-n", ns, "addr", "add", `${p.ip}/32`, "dev", "eth0"]);
      ip(["-n", ns, "link", "set", "eth0", "up"]);
      ip(["-n", ns, "route", "add", gateway, "dev", "eth0", "scope", "link"]);
      ip(["-n", ns, "route", "add", "default", "via", gateway, "dev", "eth0"]);
    }
  } catch (e) {
    destroyTopology(topo);
    throw e;
  }
  return topo;
}

/** Delete every netns of the topology (veths go with them). Safe to call twice. */
export function destroyTopology(topo: Topology): void {
  for (const p of Object.values(topo.pods)) spawnSync("ip", ["netns", "del", p.netns]);
  spawnSync("ip", ["netns", "del", topo.node]);
}

const peerScript = join(dirname(fileURLToPath(import.meta.url)), "peer.js");

/** A peer process in a netns, with line-based expectations on its output. */
export class Peer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  #waiters: Array<() => void> = [];
  #consumed = 0;

  constructor(netns: string, args: string[]) {
    this.child = spawn("ip", ["netns", "exec", netns, process.execPath, peerScript, ...args]);
    createInterface({ input: this.child.stdout }).on("line", (l) => {
      this.lines.push(l);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.child.stderr.on("data", (d: Buffer) => process.stderr.write(`[peer ${netns}] ${d.toString()}`));
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Next unread line starting with one of the prefixes within timeoutMs, else undefined. */
  async next(prefixes: string[], timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#consumed < this.lines.length) {
        const l = this.lines[this.#consumed++] ?? "";
        if (prefixes.some((p) => l.startsWith(p))) return l;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.pid) {
      try {
        process.kill(this.child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  }
}
