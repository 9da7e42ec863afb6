import { readFileSync } from "node:fs";

/** The command line of a live process, or undefined when it is gone. */
export function processCmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return processCmdline(pid) !== undefined && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

/**
 * Ends the given processes by PID: SIGTERM, then SIGKILL for those still alive after `graceMs`.
 * Callers pass only PIDs they started (recorded PIDs, or the members of a netns they created).
 */
export async function terminate(pids: readonly number[], graceMs = 5000): Promise<void> {
  const live = pids.filter(isAlive);
  for (const pid of live) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && live.some(isAlive)) await new Promise((r) => setTimeout(r, 50));
  for (const pid of live.filter(isAlive)) signal(pid, "SIGKILL");
  const killDeadline = Date.now() + 2000;
  while (Date.now() < killDeadline && live.some(isAlive)) await new Promise((r) => setTimeout(r, 20));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
