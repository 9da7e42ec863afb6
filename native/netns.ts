// Network namespace arguments: a name from `ip netns` or a path (e.g. /proc/<pid>/ns/net).

/** Path of a netns given by name (`ip netns add <name>`) or already as a path. */
export function netnsPath(netns: string): string {
  return netns.includes("/") ? netns : `/run/netns/${netns}`;
}
