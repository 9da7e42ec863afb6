// Where the local provider finds its binaries and keeps per-cluster state. The Kubernetes and
// CNI versions are read from the wrapper go.mod files setup.sh builds from, so they are recorded
// in exactly one place.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (this file is dist/harness/cluster/local/paths.js once built). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const cacheDir = process.env.CONFORM_CACHE ?? join(homedir(), ".cache/conform");
export const stateRoot = process.env.CONFORM_STATE_DIR ?? "/run/conform";

function goModVersion(dir: string, module: string): string {
  const gomod = readFileSync(join(repoRoot, dir, "go.mod"), "utf8");
  const m = new RegExp(`^\\s*(?:require\\s+)?${module.replaceAll(".", "\\.")}\\s+(v\\S+)`, "m").exec(gomod);
  if (!m?.[1]) throw new Error(`${dir}/go.mod does not require ${module}`);
  return m[1];
}

export const kubernetesVersion = (): string => goModVersion("clusters/local/build/kubernetes", "k8s.io/kubernetes");
export const cniVersion = (): string => goModVersion("clusters/local/build/cni", "github.com/containernetworking/plugins");

export function kubeBinDir(): string {
  return process.env.CONFORM_KUBE_BIN ?? join(cacheDir, "kubernetes", kubernetesVersion());
}
export function cniBinDir(): string {
  return process.env.CONFORM_CNI_BIN ?? join(cacheDir, "cni", cniVersion());
}

/** Path of a Kubernetes binary, with a clear error when setup.sh has not built it. */
export function kubeBin(name: "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kubectl"): string {
  const path = join(kubeBinDir(), name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run ./setup.sh to build the Kubernetes ${kubernetesVersion()} binaries`);
  return path;
}

export const clusterStateDir = (cluster: string): string => join(stateRoot, cluster);
