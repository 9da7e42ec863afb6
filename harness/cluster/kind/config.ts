// kind cluster files (clusters/kind/*.yaml): validated enough to give errors with a line, then
// rendered with what conform needs: worker nodes labelled with their scenario node index, and
// conform's pod and service ranges unless the file sets its own. Everything else passes through
// untouched, so any kind option keeps working.
import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { z } from "zod";
import { NODE_INDEX_LABEL } from "../../spec/fixtures.js";
import { parseYamlWithSchema } from "../../util/yaml-schema.js";

export const KIND_API_VERSION = "kind.x-k8s.io/v1alpha4";

const kindNodeSchema = z.looseObject({
  role: z.enum(["control-plane", "worker"]),
  labels: z.record(z.string(), z.string()).optional(),
});

export const kindConfigSchema = z.looseObject({
  kind: z.literal("Cluster"),
  apiVersion: z.literal(KIND_API_VERSION),
  name: z.string().optional(),
  nodes: z.array(kindNodeSchema).min(1).optional(),
  networking: z
    .looseObject({
      podSubnet: z.string().optional(),
      serviceSubnet: z.string().optional(),
      disableDefaultCNI: z.boolean().optional(),
      kubeProxyMode: z.string().optional(),
    })
    .optional(),
});
export type KindConfig = z.infer<typeof kindConfigSchema>;

export const DEFAULT_KIND_CONFIG: KindConfig = {
  kind: "Cluster",
  apiVersion: KIND_API_VERSION,
  nodes: [{ role: "control-plane" }, { role: "worker" }, { role: "worker" }],
};

export function loadKindConfig(file: string): KindConfig {
  return parseYamlWithSchema(file, readFileSync(file, "utf8"), kindConfigSchema);
}

/**
 * The config kind receives. Workers get `conform.dev/node-index` 1..N in file order; a cluster of
 * only a control plane (kind lets it run pods) labels that node 1.
 */
export function renderKindConfig(config: KindConfig, name: string): KindConfig {
  const nodes = (config.nodes ?? [{ role: "control-plane" as const }]).map((n) => ({ ...n, ...(n.labels ? { labels: { ...n.labels } } : {}) }));
  const workers = nodes.filter((n) => n.role === "worker");
  const indexed = workers.length > 0 ? workers : nodes.slice(0, 1);
  indexed.forEach((n, i) => (n.labels = { ...(n.labels ?? {}), [NODE_INDEX_LABEL]: String(i + 1) }));
  const { name: _fileName, ...rest } = config;
  return {
    ...rest,
    // kind's --name wins over the file anyway; writing it keeps the rendered file self-describing.
    name,
    networking: { podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/16", ...(config.networking ?? {}) },
    nodes,
  };
}

export function renderKindConfigYaml(config: KindConfig, name: string): string {
  return stringify(renderKindConfig(config, name));
}

/** How many nodes can run scenario pods (the nodes that carry an index label). */
export function indexedNodeCount(config: KindConfig): number {
  const nodes = config.nodes ?? [{ role: "control-plane" as const }];
  const workers = nodes.filter((n) => n.role === "worker").length;
  return workers > 0 ? workers : 1;
}
