// One place that turns a kubeconfig file into API clients (@kubernetes/client-node).
import { request } from "node:https";
import { readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/**
 * GET a raw API path (such as /readyz) with the kubeconfig's credentials; resolves the status
 * code and body. Used for health endpoints, which the generated clients do not cover.
 */
export function rawGet(kc: KubeConfig, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const url = new URL(path, cluster.server);
  const ca = cluster.caFile ? readFileSync(cluster.caFile) : cluster.caData ? Buffer.from(cluster.caData, "base64") : undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "GET", ca, headers: user?.token ? { authorization: `Bearer ${user.token}` } : {}, timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${url.href} timed out`)));
    req.on("error", reject);
    req.end();
  });
}
