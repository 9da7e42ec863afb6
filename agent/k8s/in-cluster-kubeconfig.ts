// The API client config of an agent running as a pod: client-node's `loadFromCluster` (the
// service-account token file, re-read as the kubelet refreshes it, and KUBERNETES_SERVICE_HOST/PORT).
import { existsSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export class InClusterConfigError extends Error {
  override name = "InClusterConfigError";
}

export function inClusterKubeConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  if (!env["KUBERNETES_SERVICE_HOST"] || !env["KUBERNETES_SERVICE_PORT"]) {
    throw new InClusterConfigError("no kubeconfig given and KUBERNETES_SERVICE_HOST/PORT are not set: not running in a pod");
  }
  const tokenFile = `${SERVICE_ACCOUNT_DIR}/token`;
  if (!existsSync(tokenFile)) throw new InClusterConfigError(`no kubeconfig given and ${tokenFile} is missing (automountServiceAccountToken: false?)`);
  const kc = new KubeConfig();
  kc.loadFromCluster();
  return kc;
}
