import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { KubernetesObject } from "@kubernetes/client-node";
import { repoRoot } from "./paths.js";

/** The CRDs conform installs into every cluster it creates (agent/deploy/crds/*.yaml). */
export function clusterCrds(): KubernetesObject[] {
  const dir = join(repoRoot, "agent/deploy/crds");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), "utf8")).map((d) => d.toJS() as KubernetesObject))
    .filter((o) => o?.kind === "CustomResourceDefinition");
}
