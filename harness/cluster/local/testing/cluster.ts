// Integration tests that bring up their own local cluster through the CLI, as a user would:
// `conform <args>` with a bound, and `cluster up` from a LocalCluster spec written to a file.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { loadKubeConfig } from "../../../kube/client.js";
import { execCapture } from "../kubelet/exec.js";
import { kubeconfigPath } from "../up.js";
import type { NodeRecord } from "../state.js";
import { readState } from "../state.js";

/** dist/harness/cli/main.js of this checkout. */
export const CONFORM_CLI = fileURLToPath(new URL("../../../cli/main.js", import.meta.url));

/** Runs the CLI; any exit code outside `okCodes` is an error carrying its output. */
export async function conformCli(args: readonly string[], opts: { timeoutMs?: number; okCodes?: readonly number[] } = {}): Promise<string> {
  const r = await execCapture(process.execPath, [CONFORM_CLI, ...args], { timeoutMs: opts.timeoutMs ?? 240_000 });
  if (!(opts.okCodes ?? [0]).includes(r.code ?? -1)) throw new Error(`conform ${args.join(" ")} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `conform cluster up` from `spec` (written to `<dir>/cluster.yaml`); every node must come up. */
export async function upTestCluster(name: string, dir: string, spec: { nodes: number } & Record<string, unknown>): Promise<{ nodes: NodeRecord[]; kc: KubeConfig }> {
  const configFile = join(dir, "cluster.yaml");
  writeFileSync(configFile, stringify({ apiVersion: "conform.dev/v1alpha1", kind: "LocalCluster", metadata: {}, spec }));
  await conformCli(["cluster", "up", "--name", name, "--config", configFile]);
  const nodes = readState(name)?.nodes ?? [];
  if (nodes.length !== spec.nodes) throw new Error(`cluster ${name}: ${nodes.length} nodes came up, expected ${spec.nodes}`);
  return { nodes, kc: loadKubeConfig(kubeconfigPath(name)) };
}
