import { stringify } from "yaml";
import type { CrdManifest } from "./schema/definitions.js";

const HEADER = [
  "# Generated from agent/deploy/crds/schema/*.ts by agent/deploy/crds/generate.ts; do not edit by hand.",
  "# Regenerate: npx tsc -p tsconfig.json && node dist/agent/deploy/crds/generate.js",
].join("\n");

/** The exact text of a CRD file; the unit test compares files against this to catch stale YAML. */
export function renderCrdYaml(crd: CrdManifest): string {
  // lineWidth 0: long regex patterns must stay on one line to be readable and diffable.
  return `${HEADER}\n${stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
