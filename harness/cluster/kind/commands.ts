// The `kind` and container-runtime command lines the kind provider runs, built apart from running
// them so they can be checked without Docker.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** `kind create` waits for the control plane; nodes become Ready only once a CNI runs. */
export const KIND_WAIT = "120s";
/** The probe image scenarios' pods run (spec PROBE_IMAGE); kind nodes cannot pull it. */
export const KIND_PROBE_IMAGE = "conform/probe:v1";

export const kindCommands = {
  create: (o: { name: string; configFile: string; kubeconfig: string; image?: string }): string[] => [
    "create",
    "cluster",
    "--name",
    o.name,
    "--config",
    o.configFile,
    "--kubeconfig",
    o.kubeconfig,
    "--wait",
    KIND_WAIT,
    ...(o.image ? ["--image", o.image] : []),
  ],
  delete: (o: { name: string; kubeconfig: string }): string[] => ["delete", "cluster", "--name", o.name, "--kubeconfig", o.kubeconfig],
  getClusters: (): string[] => ["get", "clusters"],
  getKubeconfig: (o: { name: string }): string[] => ["get", "kubeconfig", "--name", o.name],
  loadImage: (o: { name: string; image: string }): string[] => ["load", "docker-image", o.image, "--name", o.name],
} as const;

/** kind picks its node provider from this variable (docker by default, or podman / nerdctl). */
export function containerRuntime(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.KIND_EXPERIMENTAL_PROVIDER?.trim();
  return chosen === "podman" || chosen === "nerdctl" ? chosen : "docker";
}

/** `kind get clusters` output → names (it prints "No kind clusters found." on stderr when empty). */
export function parseClusterList(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("No kind clusters"));
}

/** The executable `name` on PATH, or undefined. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
