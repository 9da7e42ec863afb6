// Where the build artefacts live. Compiled code runs from dist/native/, sources sit at the
// repo root, so everything is resolved from the repo root found above this module.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cachedRoot: string | undefined;

/** The conform checkout this module belongs to (the directory of its package.json). */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "conform") {
      cachedRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the conform repo root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The compiled addon, built by `npx node-gyp rebuild --directory native --nodedir=/usr`. */
export function addonPath(): string {
  return join(repoRoot(), "native", "build", "Release", "conform_native.node");
}

/** A BPF object built by `make -C bpf`, e.g. `bpfObjectPath("endpoint")` or `"tests/broken"`. */
export function bpfObjectPath(name: string): string {
  return join(repoRoot(), "bpf", "build", `${name}.o`);
}
