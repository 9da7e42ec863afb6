// Writes the CRD YAML files from the schema code, or with --check reports which files are stale.
//
//   node dist/agent/deploy/crds/generate.js [--check]
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CRD_DIRECTORY } from "./index.js";
import { renderCrdYaml } from "./render.js";
import { buildCrds } from "./schema/definitions.js";

/** File name → expected text for every CRD. */
export function expectedCrdFiles(): Map<string, string> {
  return new Map(Object.entries(buildCrds()).map(([file, crd]) => [file, renderCrdYaml(crd)]));
}

/** Names of CRD files whose content differs from what the schema code produces. */
export function staleCrdFiles(directory = CRD_DIRECTORY): string[] {
  const stale: string[] = [];
  for (const [file, text] of expectedCrdFiles()) {
    let current: string | undefined;
    try {
      current = readFileSync(join(directory, file), "utf8");
    } catch {
      current = undefined;
    }
    if (current !== text) stale.push(file);
  }
  return stale;
}

function main(argv: readonly string[]): number {
  if (argv.includes("--check")) {
    const stale = staleCrdFiles();
    for (const file of stale) console.error(`stale: ${join(CRD_DIRECTORY, file)}`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const [file, text] of expectedCrdFiles()) {
    writeFileSync(join(CRD_DIRECTORY, file), text);
    console.log(`wrote ${join(CRD_DIRECTORY, file)}`);
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exitCode = main(process.argv.slice(2));
}
