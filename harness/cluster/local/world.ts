// The "world" host outside the cluster: the probe server (HTTP, TCP and UDP echo) and an
// authoritative DNS server for the test zone, so FQDN and world tests need no internet.
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnDetached } from "../../util/exec.js";
import { logFile } from "./control-plane.js";
import { netnsNames } from "./names.js";
import { repoRoot } from "./paths.js";
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

export function startWorld(cluster: string, stateDir: string): number {
  const zoneFile = join(stateDir, "world-zone.json");
  writeFileSync(zoneFile, JSON.stringify({ zone: WORLD_ZONE, records: WORLD_RECORDS }, null, 2) + "\n");
  const fd = openSync(logFile(stateDir, "world"), "a");
  try {
    return spawnDetached(
      process.execPath,
      [
        join(repoRoot, "dist/harness/probe/main.js"),
        "serve",
        "--http",
        WORLD_PORTS.http.join(","),
        "--tcp",
        WORLD_PORTS.tcp.join(","),
        "--udp",
        WORLD_PORTS.udp.join(","),
        "--dns",
        String(WORLD_PORTS.dns),
        "--zone",
        zoneFile,
      ],
      { netns: netnsNames.world(cluster), logFd: fd, env: { ...process.env, POD_NAME: "world", POD_NAMESPACE: "", NODE_NAME: "world" } },
    );
  } finally {
    closeSync(fd);
  }
}
