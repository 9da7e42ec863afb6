// The existing provider: any cluster a kubeconfig reaches. It never creates or deletes the
// cluster; release is a no-op. Probes run through the API server's exec subresource.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeExecProbeExecutor } from "../../probe/kube-exec-executor.js";
import { PROBE_CONTAINER } from "../../spec/fixtures.js";
import type { AcquireOptions, ClusterHandle, ClusterProvider, RunnerCapabilities } from "../provider.js";
import { ClusterProviderError } from "../provider.js";
import { agentVersion, discoverNodes, kubernetesVersion, runsKubeProxy } from "./cluster-facts.js";

/** --kubeconfig, else the first file of $KUBECONFIG, else ~/.kube/config. */
export function resolveKubeconfigPath(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (given) return resolve(given);
  const fromEnv = (env.KUBECONFIG ?? "").split(":").find((p) => p.trim() !== "");
  return fromEnv ? resolve(fromEnv) : join(homedir(), ".kube", "config");
}

export function loadExistingKubeConfig(path: string, context: string | undefined): KubeConfig {
  if (!existsSync(path)) throw new ClusterProviderError(`kubeconfig ${path} does not exist (pass --kubeconfig <file> or set KUBECONFIG)`);
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new ClusterProviderError(`kubeconfig ${path} cannot be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === context)) {
      throw new ClusterProviderError(`kubeconfig ${path} has no context "${context}" (contexts: ${kc.getContexts().map((c) => c.name).join(", ") || "none"})`);
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new ClusterProviderError(`kubeconfig ${path} has no current context; pass --name <context>`);
  return kc;
}

/**
 * The handle of a cluster reached through `kc`. Shared with the kind provider, whose clusters are
 * "existing" ones once created. Capabilities the API cannot tell (routing mode, encryption) take
 * the defaults of a plain cluster: tunnel routing, no encryption.
 */
export async function describeCluster(
  kc: KubeConfig,
  base: Pick<ClusterHandle, "provider" | "name" | "kubeconfigPath" | "created" | "keep" | "audit">,
): Promise<ClusterHandle> {
  let facts: Awaited<ReturnType<typeof discoverNodes>>;
  let kubernetes: string;
  try {
    kubernetes = await kubernetesVersion(kc);
    facts = await discoverNodes(kc);
  } catch (err) {
    const server = kc.getCurrentCluster()?.server ?? "(no server)";
    throw new ClusterProviderError(`cannot reach the cluster at ${server}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const agent = await agentVersion(kc).catch(() => undefined);
  const capabilities: RunnerCapabilities = {
    nodes: facts.nodes.length,
    routingMode: "tunnel",
    encryption: "none",
    kubeProxyReplacement: !(await runsKubeProxy(kc).catch(() => true)),
    // A real cluster's CNI is assumed to enforce policy; without one, policy scenarios fail loudly.
    policyEnforcement: true,
    serviceLoadBalancing: true,
    world: false,
  };
  return {
    ...base,
    kubeConfig: kc,
    nodes: facts.nodes,
    capabilities,
    versions: { kubernetes, kernel: facts.kernel, ...(agent ? { agent } : {}) },
    probeExecutor: new KubeExecProbeExecutor({ kubeConfig: kc, container: PROBE_CONTAINER }),
  };
}

export class ExistingProvider implements ClusterProvider {
  readonly name = "existing" as const;

  async acquire(options: AcquireOptions): Promise<ClusterHandle> {
    const path = resolveKubeconfigPath(options.kubeconfig);
    const kc = loadExistingKubeConfig(path, options.name);
    return describeCluster(kc, {
      provider: "existing",
      name: kc.getCurrentContext(),
      kubeconfigPath: path,
      created: false,
      // Nothing to keep or remove: the cluster is never ours.
      keep: true,
      audit: options.audit ?? false,
    });
  }

  async release(_handle: ClusterHandle): Promise<void> {
    // Never deletes the cluster: it belongs to the user.
  }
}
