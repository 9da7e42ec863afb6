// Named network namespaces (iproute2's /run/netns convention) for pod sandboxes.
//
// `ip netns add` makes the name visible by bind-mounting the new namespace onto /run/netns/<name>.
// If the kubelet itself was started with `ip netns exec <node-ns>`, it lives in a private mount
// namespace whose /run/netns is a *slave* of the host's: mounts made there never reach the host,
// so pods' netns would be invisible (and unusable) to everyone else. In that case netns add/del
// run through nsenter in a mount namespace handle that does share /run/netns with the host.
import { existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { execCapture, execOrThrow } from "./exec.js";

export const NETNS_DIR = "/run/netns";

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

/** Propagation tags ("shared:1", "master:1", …) of the mount at `mountPoint`, or null if none is mounted there. */
export function mountPropagation(mountinfo: string, mountPoint: string): string[] | null {
  let found: string[] | null = null;
  for (const line of mountinfo.split("\n")) {
    const [left] = line.split(" - ");
    const fields = (left ?? "").split(" ");
    // mountinfo: id parent major:minor root mount-point options optional-fields…
    if (fields[4] === mountPoint) found = fields.slice(6).filter((f) => f.length > 0);
  }
  return found;
}

function mountNsId(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

/**
 * A mount namespace whose /run/netns is the master (shared peer group `peerGroup`) of ours: the
 * parent's if it qualifies, else any process's. Found by content, not by PID, so it works even
 * when the process that started the kubelet has exited.
 */
function findMountNsSharing(peerGroup: string, ours: string | null): { path: string; id: string; pid: number } | null {
  if (!peerGroup) return null;
  const pids = [process.ppid, ...readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number)];
  for (const pid of pids) {
    if (pid === process.pid || pid <= 1) continue;
    const path = `/proc/${pid}/ns/mnt`;
    const id = mountNsId(path);
    if (id === null || id === ours) continue;
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/mountinfo`, "utf8");
    } catch {
      continue;
    }
    if (mountPropagation(info, NETNS_DIR)?.includes(`shared:${peerGroup}`)) return { path, id, pid };
  }
  return null;
}

export interface NetnsOpsOptions {
  /** Explicit host mount namespace (config.hostMountNamespace). */
  readonly hostMountNamespace?: string | undefined;
}

export class NetnsOps {
  /** argv prefix for commands that must run in the host's mount namespace; empty when we are in it. */
  private readonly hostMountPrefix: string[];
  readonly note: string;

  constructor(opts: NetnsOpsOptions = {}) {
    const ours = mountNsId("/proc/self/ns/mnt");
    const useHandle = (path: string, why: string) => {
      // Keep the namespace open for the kubelet's lifetime: the process it came from may exit.
      const fd = openSync(path, "r");
      return { prefix: ["nsenter", `--mount=/proc/${process.pid}/fd/${fd}`, "--"], note: why };
    };
    let chosen: { prefix: string[]; note: string };
    const propagation = mountPropagation(readFileSync("/proc/self/mountinfo", "utf8"), NETNS_DIR);
    const isSlaveOnly = propagation !== null && propagation.some((t) => t.startsWith("master:")) && !propagation.some((t) => t.startsWith("shared:"));
    if (opts.hostMountNamespace) {
      chosen =
        mountNsId(opts.hostMountNamespace) === ours
          ? { prefix: [], note: "running in the configured host mount namespace" }
          : useHandle(opts.hostMountNamespace, `netns are created in mount namespace ${opts.hostMountNamespace}`);
    } else if (!isSlaveOnly) {
      chosen = { prefix: [], note: "running in a mount namespace that shares /run/netns" };
    } else {
      const master = propagation?.find((t) => t.startsWith("master:"))?.slice("master:".length) ?? "";
      const host = findMountNsSharing(master, ours);
      if (!host) {
        throw new Error(
          `${NETNS_DIR} is a slave mount here (the kubelet was probably started with \`ip netns exec\`), so pod netns would be invisible outside, ` +
            `and no process in a mount namespace holding its master (peer group ${master}) was found; ` +
            "start it with `nsenter --net=/run/netns/<node-netns> -- node …` or set hostMountNamespace in the config",
        );
      }
      chosen = useHandle(host.path, `private mount namespace detected; netns are created in ${host.id} (found via pid ${host.pid})`);
    }
    this.hostMountPrefix = chosen.prefix;
    this.note = chosen.note;
  }

  private ipArgv(args: readonly string[]): [string, string[]] {
    const argv = [...this.hostMountPrefix, "ip", ...args];
    return [argv[0] ?? "ip", argv.slice(1)];
  }

  /** True when /run/netns/<name> is a live namespace (not a stale file left by a crash). */
  async isLive(name: string): Promise<boolean> {
    if (!existsSync(netnsPath(name))) return false;
    const r = await execCapture("ip", ["-n", name, "link", "show", "lo"], { timeoutMs: 10_000 });
    return r.code === 0;
  }

  /** Creates the namespace (unless it is already live) with `lo` up. */
  async ensure(name: string): Promise<void> {
    if (!(await this.isLive(name))) {
      if (existsSync(netnsPath(name))) await this.remove(name);
      const [file, args] = this.ipArgv(["netns", "add", name]);
      await execOrThrow(file, args, { timeoutMs: 10_000 });
    }
    await execOrThrow("ip", ["-n", name, "link", "set", "lo", "up"], { timeoutMs: 10_000 });
  }

  /** Deletes the namespace; a missing one is not an error (delete is idempotent). */
  async remove(name: string): Promise<void> {
    if (!existsSync(netnsPath(name))) return;
    const [file, args] = this.ipArgv(["netns", "delete", name]);
    const r = await execCapture(file, args, { timeoutMs: 10_000 });
    if (r.code !== 0 && existsSync(netnsPath(name))) throw new Error(`ip netns delete ${name}: ${r.stderr.trim() || `exit status ${r.code}`}`);
  }

  /** Names under /run/netns starting with `prefix`. */
  list(prefix: string): string[] {
    try {
      return readdirSync(NETNS_DIR).filter((n) => n.startsWith(prefix) && statSync(netnsPath(n), { throwIfNoEntry: false }) !== undefined);
    } catch {
      return [];
    }
  }

  /** argv that runs `argv` inside the named netns (own mount ns with that netns' /sys). */
  execArgv(name: string, argv: readonly string[]): string[] {
    return ["ip", "netns", "exec", name, ...argv];
  }
}
