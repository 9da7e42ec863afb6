// Where each node's agent listens locally. The local provider runs one agent per node and
// `conform observe` finds them all by this layout when no --server is given.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const agentStateRoot = (): string => process.env.CONFORM_STATE_DIR ?? "/run/conform";

/** `<state>/<cluster>/agent/<node>/api.sock` */
export function agentApiSocketPath(cluster: string, node: string, stateRoot = agentStateRoot()): string {
  return join(stateRoot, cluster, "agent", node, "api.sock");
}

/** Agent sockets present for a cluster (every cluster when none is named), as `unix:` endpoints. */
export function discoverLocalAgents(cluster?: string, stateRoot = agentStateRoot()): string[] {
  const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);
  const clusters = cluster ? [cluster] : list(stateRoot);
  return clusters.flatMap((c) =>
    list(join(stateRoot, c, "agent"))
      .map((node) => agentApiSocketPath(c, node, stateRoot))
      .filter((p) => existsSync(p))
      .map((p) => `unix:${p}`),
  );
}
