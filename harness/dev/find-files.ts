import { readdirSync } from "node:fs";
import { join } from "node:path";

/** Files below `root` whose names end with `suffix`, sorted, skipping node_modules. */
export function findFiles(root: string, suffix: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(suffix)) out.push(path);
    }
  };
  walk(root);
  return out.sort();
}
