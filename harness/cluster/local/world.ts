// The "world" hosts outside the cluster: probe servers (HTTP, TCP and UDP echo) and an
// authoritative DNS server for the test zone, so FQDN and world tests need no internet.
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { probeMainPath } from "../../probe/executor.js";
import { spawnDetached } from "../../util/exec.js";
import { logFile } from "./control-plane.js";
import { netnsNames } from "./names.js";
import { WORLD_HOSTS } from "./topology.js";

export const WORLD_ZONE = "conform.test";
export const WORLD_PORTS = { http: [80, 8080], tcp: [9000], udp: [9001], dns: 53 } as const;

/** Names the world DNS server answers; anything else in the zone is NXDOMAIN. */
export const WORLD_RECORDS: Readonly<Record<string, readonly string[]>> = {
  [`world.${WORLD_ZONE}`]: [WORLD_HOSTS.web],
  [`api.${WORLD_ZONE}`]: [WORLD_HOSTS.web],
  [`other.${WORLD_ZONE}`]: [WORLD_HOSTS.extra],
  [`dns.${WORLD_ZONE}`]: [WORLD_HOSTS.dns],
};

/**
 * Starts one server per world address, each bound to its own address: a UDP socket bound to
 * 0.0.0.0 answers from whatever source the route picks (198.18.0.254), and clients drop answers
 * that do not come from the address they asked. Returns the PIDs by host name.
 */
export function startWorld(cluster: string, stateDir: string): Record<string, number> {
  const zoneFile = join(stateDir, "world-zone.json");
  writeFileSync(zoneFile, JSON.stringify({ zone: WORLD_ZONE, records: WORLD_RECORDS }, null, 2) + "\n");
  const echo = ["--http", WORLD_PORTS.http.join(","), "--tcp", WORLD_PORTS.tcp.join(","), "--udp", WORLD_PORTS.udp.join(",")];
  const hosts: Record<string, readonly string[]> = {
    web: echo,
    extra: echo,
    dns: ["--dns", String(WORLD_PORTS.dns), "--zone", zoneFile],
  };
  const pids: Record<string, number> = {};
  for (const [host, args] of Object.entries(hosts)) {
    const address = WORLD_HOSTS[host as keyof typeof WORLD_HOSTS];
    const fd = openSync(logFile(stateDir, `world-${host}`), "a");
    try {
      pids[`world-${host}`] = spawnDetached(process.execPath, [probeMainPath(), "serve", "--bind", address, ...args], {
        netns: netnsNames.world(cluster),
        logFd: fd,
        env: { ...process.env, POD_NAME: `world-${host}`, POD_NAMESPACE: "", NODE_NAME: "world" },
      });
    } finally {
      closeSync(fd);
    }
  }
  return pids;
}
