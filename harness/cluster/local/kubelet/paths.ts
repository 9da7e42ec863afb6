// Where the kubelet keeps per-pod files under its state dir, so the provider, tests and people
// can find a pod's logs:  <stateDir>/pods/<namespace>_<name>_<uid>/<container>.log
import { join } from "node:path";

export interface PodKey {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export const podPaths = {
  root: (stateDir: string) => join(stateDir, "pods"),
  dir: (stateDir: string, pod: PodKey) => join(stateDir, "pods", `${pod.namespace}_${pod.name}_${pod.uid}`),
  /** Parses a pod dir name back into its key (names and namespaces cannot contain "_"). */
  parseDirName: (dirName: string): PodKey | null => {
    const m = /^([^_]+)_([^_]+)_([^_]+)$/.exec(dirName);
    return m ? { namespace: m[1] ?? "", name: m[2] ?? "", uid: m[3] ?? "" } : null;
  },
  containerLog: (podDir: string, container: string) => join(podDir, `${container}.log`),
  containerWorkDir: (podDir: string, container: string) => join(podDir, container),
  containerPidFile: (podDir: string, container: string) => join(podDir, `${container}.pid`),
  sandboxRecord: (podDir: string) => join(podDir, "sandbox.json"),
} as const;
