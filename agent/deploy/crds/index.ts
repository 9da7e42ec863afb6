/**
 * The CustomResourceDefinitions conform installs into its clusters (cilium.io/v2 policies,
 * identities and endpoints), as files and as parsed objects ready for server-side apply.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

/** metadata.name of each CRD; the file holding it is `<name>.yaml`. */
export const CRD_NAMES = {
  ciliumNetworkPolicy: "ciliumnetworkpolicies.cilium.io",
  ciliumClusterwideNetworkPolicy: "ciliumclusterwidenetworkpolicies.cilium.io",
  ciliumIdentity: "ciliumidentities.cilium.io",
  ciliumEndpoint: "ciliumendpoints.cilium.io",
} as const;
export type CrdName = (typeof CRD_NAMES)[keyof typeof CRD_NAMES];

/**
 * A CRD exactly as written in its file, keys in wire form (`x-kubernetes-validations`, `enum`,
 * `default`), ready for server-side apply (harness/kube/apply.ts sends these intact).
 */
export interface CrdObject {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: CrdName; labels?: Record<string, string> };
  spec: Record<string, unknown> & { group: string; scope: "Namespaced" | "Cluster"; names: { kind: string; plural: string } };
}

// A source file, not a YAML file, marks the directory: the generator must find it before any YAML exists.
const MARKER = "vocabulary.ts";

/**
 * The YAML lives next to the TypeScript sources, not in dist/. Compiled code runs from
 * dist/agent/deploy/crds, so walk up to the directory holding agent/deploy/crds.
 */
function findCrdDirectory(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, MARKER))) return here;
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, "agent", "deploy", "crds");
    if (existsSync(join(candidate, MARKER))) return candidate;
    if (dirname(dir) === dir) throw new Error(`cannot find agent/deploy/crds/${MARKER} above ${here}`);
  }
}

/** Absolute path of the directory holding the CRD files. */
export const CRD_DIRECTORY: string = resolve(findCrdDirectory());

/** Absolute paths of the CRD files, policies first (install order does not matter to the API server). */
export const CRD_FILES: readonly string[] = Object.values(CRD_NAMES).map((name) => join(CRD_DIRECTORY, `${name}.yaml`));

/** Parses one CRD file; errors name the file. */
export function loadCrdFile(path: string): CrdObject {
  const docs = parseAllDocuments(readFileSync(path, "utf8"));
  if (!Array.isArray(docs) || docs.length !== 1) throw new Error(`${path}: expected exactly one YAML document`);
  const doc = docs[0]!;
  if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
  const crd = doc.toJS() as Partial<CrdObject> | null;
  if (crd?.kind !== "CustomResourceDefinition" || crd.apiVersion !== "apiextensions.k8s.io/v1") {
    throw new Error(`${path}: not an apiextensions.k8s.io/v1 CustomResourceDefinition`);
  }
  return crd as CrdObject;
}

/** Every CRD conform installs, parsed from its file. */
export function loadCrds(): CrdObject[] {
  return CRD_FILES.map(loadCrdFile);
}
