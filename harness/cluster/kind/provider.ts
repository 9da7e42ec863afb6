// The kind provider: shells `kind` to create, reuse and delete clusters whose nodes are
// containers, then treats the result like any existing cluster (probes through kubectl-exec).
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadKubeConfig } from "../../kube/client.js";
import { CommandError, run } from "../../util/exec.js";
import { describeCluster } from "../existing/provider.js";
import type { AcquireOptions, ClusterHandle, ClusterProvider } from "../provider.js";
import { ClusterProviderError } from "../provider.js";
import { containerRuntime, findOnPath, KIND_PROBE_IMAGE, kindCommands, parseClusterList } from "./commands.js";
import { DEFAULT_KIND_CONFIG, loadKindConfig, renderKindConfigYaml } from "./config.js";

export const DEFAULT_KIND_NAME = "conform";
/** kind cluster names become container and network names. */
const KIND_NAME_RE = /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/;

export type CommandRunner = (file: string, args: readonly string[], options?: { timeoutMs?: number }) => Promise<string>;

export interface KindProviderOptions {
  /** Runs a command to completion, rejecting with its stderr (default: util/exec `run`). */
  runCommand?: CommandRunner;
  env?: NodeJS.ProcessEnv;
  /** Where rendered configs and kubeconfigs go (default: $TMPDIR/conform-kind). */
  workDir?: string;
}

export class KindProvider implements ClusterProvider {
  readonly name = "kind" as const;
  private readonly runCommand: CommandRunner;
  private readonly env: NodeJS.ProcessEnv;
  private readonly workDir: string;

  constructor(options: KindProviderOptions = {}) {
    this.runCommand = options.runCommand ?? ((file, args, o) => run(file, args, o));
    this.env = options.env ?? process.env;
    this.workDir = options.workDir ?? join(tmpdir(), "conform-kind");
  }

  /** Fails with what to install when kind or its container runtime is missing. */
  async checkTools(): Promise<{ kind: string; runtime: string }> {
    const kind = findOnPath("kind", this.env);
    if (!kind) {
      throw new ClusterProviderError(
        "the kind provider needs the `kind` command, which is not on PATH (install it from https://kind.sigs.k8s.io/docs/user/quick-start/#installation), " +
          "and a running Docker or Podman; without them use --cluster local",
      );
    }
    const runtimeName = containerRuntime(this.env);
    const runtime = findOnPath(runtimeName, this.env);
    if (!runtime) throw new ClusterProviderError(`kind needs ${runtimeName}, which is not on PATH; without it use --cluster local`);
    try {
      await this.runCommand(runtime, ["info"], { timeoutMs: 20_000 });
    } catch (err) {
      const text = err instanceof CommandError ? err.stderr : err instanceof Error ? err.message : String(err);
      const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
      const why = lines.find((l) => /cannot connect|daemon|permission/i.test(l)) ?? lines[0] ?? "no output";
      throw new ClusterProviderError(`kind needs a running ${runtimeName}, but \`${runtimeName} info\` failed: ${why}; without it use --cluster local`);
    }
    return { kind, runtime };
  }

  async acquire(options: AcquireOptions): Promise<ClusterHandle> {
    const name = options.name ?? DEFAULT_KIND_NAME;
    if (!KIND_NAME_RE.test(name)) throw new ClusterProviderError(`--name ${JSON.stringify(name)}: lower-case letters, digits and '-', at most 32 characters`);
    // The config is read before any tool runs, so a bad file is reported even without Docker.
    const config = options.config ? loadKindConfig(options.config) : DEFAULT_KIND_CONFIG;
    const { kind } = await this.checkTools();
    const dir = join(this.workDir, name);
    mkdirSync(dir, { recursive: true });
    const kubeconfig = join(dir, "kubeconfig");

    const existing = parseClusterList(await this.runCommand(kind, kindCommands.getClusters()));
    let created = false;
    if (existing.includes(name)) {
      if (!options.keep) {
        throw new ClusterProviderError(`a kind cluster named "${name}" already exists; reuse it with --keep, or remove it with: kind delete cluster --name ${name}`);
      }
      options.log?.(`reusing kind cluster "${name}"`);
      writeFileSync(kubeconfig, await this.runCommand(kind, kindCommands.getKubeconfig({ name })), { mode: 0o600 });
    } else {
      const configFile = join(dir, "kind-config.yaml");
      writeFileSync(configFile, renderKindConfigYaml(config, name));
      options.log?.(`creating kind cluster "${name}" (${options.config ?? "default config"})`);
      await this.runCommand(kind, kindCommands.create({ name, configFile, kubeconfig }), { timeoutMs: 10 * 60_000 });
      created = true;
    }
    try {
      // Nodes cannot pull conform's probe image from a registry; it must be loaded into them.
      await this.runCommand(kind, kindCommands.loadImage({ name, image: KIND_PROBE_IMAGE }), { timeoutMs: 5 * 60_000 }).catch((err: unknown) => {
        throw new ClusterProviderError(`cannot load the probe image ${KIND_PROBE_IMAGE} into kind cluster "${name}" (build it first): ${err instanceof Error ? err.message : String(err)}`);
      });
      const handle = await describeCluster(loadKubeConfig(kubeconfig), {
        provider: "kind",
        name,
        kubeconfigPath: kubeconfig,
        created,
        keep: options.keep,
        audit: options.audit ?? false,
      });
      // kindnet routes pod traffic natively between the node containers.
      return { ...handle, capabilities: { ...handle.capabilities, routingMode: "native" } };
    } catch (err) {
      if (created && !options.keep) await this.deleteCluster(kind, name, kubeconfig).catch(() => undefined);
      throw err;
    }
  }

  async release(handle: ClusterHandle): Promise<void> {
    if (!handle.created || handle.keep) return;
    const kind = findOnPath("kind", this.env);
    if (!kind) throw new ClusterProviderError(`cannot delete kind cluster "${handle.name}": kind is no longer on PATH`);
    await this.deleteCluster(kind, handle.name, handle.kubeconfigPath);
  }

  private async deleteCluster(kind: string, name: string, kubeconfig: string): Promise<void> {
    await this.runCommand(kind, kindCommands.delete({ name, kubeconfig }), { timeoutMs: 5 * 60_000 });
  }
}
