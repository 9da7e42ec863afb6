// The only images the local cluster can "run": each maps to a program of this repository, started
// as a plain process. Add a row to IMAGE_TABLE to make another image runnable.
import { join } from "node:path";

/** When a container counts as ready (there are no readiness probes on the local cluster). */
export type Readiness =
  /** Ready once the process has printed a line containing one of `markers` on stdout. */
  | { readonly kind: "stdout-marker"; readonly markers: readonly string[] }
  /** Ready as soon as the process is running. */
  | { readonly kind: "running" };

/**
 * The readiness contract of the probe server: it prints one stdout line containing this text once
 * its listeners are bound (see kubelet/README.md).
 */
export const PROBE_READY_MARKER = "conform-probe: ready";
/** The probe server's JSON "ready" log event (`{"time":…,"event":"ready",…}`) is accepted too. */
export const PROBE_READY_EVENT = '"event":"ready"';

/** The agent's start-up line (agent/run-main.ts): serving, with policy in force. */
export const AGENT_READY_MARKER = "] agent ready";

interface ImageEntry {
  /** Repository as written in manifests, without registry, tag or digest. */
  readonly repository: string;
  /** The image's ENTRYPOINT equivalent, given the repo root. */
  readonly entrypoint: (repoRoot: string) => readonly string[];
  readonly readiness: Readiness;
}

const IMAGE_TABLE: readonly ImageEntry[] = [
  {
    repository: "conform/probe",
    entrypoint: (root) => [process.execPath, join(root, "dist/probe-image/main.mjs")],
    readiness: { kind: "stdout-marker", markers: [PROBE_READY_MARKER, PROBE_READY_EVENT] },
  },
  {
    repository: "conform/agent",
    entrypoint: (root) => [process.execPath, join(root, "dist/agent/main.js")],
    // run-main.ts logs it once policy is in force and the CNI config is written.
    readiness: { kind: "stdout-marker", markers: [AGENT_READY_MARKER] },
  },
];

export const RUNNABLE_IMAGES: readonly string[] = IMAGE_TABLE.map((e) => e.repository);

/**
 * The repository part of an image reference: drops the tag/digest and a registry host
 * (`ghcr.io/conform/probe:v1` → `conform/probe`), and Docker Hub's `library/` prefix.
 */
export function imageRepository(image: string): string {
  let ref = image.trim();
  const at = ref.indexOf("@");
  if (at >= 0) ref = ref.slice(0, at);
  const lastSlash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  if (colon > lastSlash) ref = ref.slice(0, colon);
  const parts = ref.split("/");
  const first = parts[0] ?? "";
  // Same rule as the Docker reference grammar: a first component with a dot, a port or
  // "localhost" is a registry host, not part of the repository.
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) parts.shift();
  if (parts.length > 1 && parts[0] === "library") parts.shift();
  return parts.join("/");
}

export interface ResolvedImage {
  readonly repository: string;
  readonly entrypoint: readonly string[];
  readonly readiness: Readiness;
}

export type ImageResolution =
  | ({ readonly ok: true } & ResolvedImage)
  | { readonly ok: false; readonly reason: "ImageNotRunnableLocally"; readonly message: string };

export function resolveImage(image: string, repoRoot: string): ImageResolution {
  const repository = imageRepository(image);
  const entry = IMAGE_TABLE.find((e) => e.repository === repository);
  if (!entry) {
    return {
      ok: false,
      reason: "ImageNotRunnableLocally",
      message: `image "${image}" cannot run on the local cluster (containers are processes); runnable images: ${RUNNABLE_IMAGES.join(", ")} (any tag)`,
    };
  }
  return { ok: true, repository, entrypoint: entry.entrypoint(repoRoot), readiness: entry.readiness };
}

/**
 * Kubernetes' rule for the process argv: `command` replaces the image ENTRYPOINT and `args`
 * replaces its CMD (our images have no CMD, so a `command` without `args` runs bare).
 */
export function containerArgv(image: ResolvedImage, command: readonly string[] | undefined, args: readonly string[] | undefined): string[] {
  const head = command && command.length > 0 ? command : image.entrypoint;
  return [...head, ...(args ?? [])];
}
