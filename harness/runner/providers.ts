// Provider selection for `conform run --cluster <name>`.
import { ExistingProvider } from "../cluster/existing/provider.js";
import { KindProvider } from "../cluster/kind/provider.js";
import type { KindProviderOptions } from "../cluster/kind/provider.js";
import { LocalProvider } from "../cluster/local/provider.js";
import type { ClusterProvider } from "../cluster/provider.js";
import { CLUSTER_PROVIDERS, ClusterProviderError, isClusterProviderName } from "../cluster/provider.js";

export function createProvider(name: string, kind: KindProviderOptions = {}): ClusterProvider {
  if (!isClusterProviderName(name)) throw new ClusterProviderError(`--cluster ${JSON.stringify(name)}: unknown provider (choose ${CLUSTER_PROVIDERS.join(", ")})`);
  switch (name) {
    case "local":
      return new LocalProvider();
    case "kind":
      return new KindProvider(kind);
    case "existing":
      return new ExistingProvider();
  }
}

/** Flags that only make sense for some providers, checked before anything is created. */
export function checkProviderFlags(name: string, flags: { kubeconfig?: string; config?: string }): string | undefined {
  if (flags.kubeconfig !== undefined && name !== "existing") return `--kubeconfig is for --cluster existing (the ${name} provider makes its own)`;
  if (flags.config !== undefined && name === "existing") return "--config is a cluster file for the local or kind provider; --cluster existing takes --kubeconfig";
  return undefined;
}
