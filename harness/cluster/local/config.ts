// The local cluster definition (clusters/local/*.yaml), one zod schema; TS types are inferred.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseYamlWithSchema } from "../../util/yaml-schema.js";
import { CLUSTER_NAME_RE } from "./names.js";

const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, "expected an IPv4 CIDR such as 10.244.0.0/16");

export const localClusterConfigSchema = z.strictObject({
  apiVersion: z.literal("conform.dev/v1alpha1"),
  kind: z.literal("LocalCluster"),
  metadata: z.strictObject({
    name: z.string().regex(CLUSTER_NAME_RE, "lower-case letters, digits and '-', at most 32 characters").default("conform"),
  }),
  spec: z
    .strictObject({
      /** Worker nodes; each is a network namespace on the underlay bridge. */
      nodes: z.int().min(1).max(8).default(2),
      /** Which CNI the netns kubelets call: the reference ptp+host-local plugins, or the bundled agent's. */
      cni: z.enum(["ptp", "conform"]).default("ptp"),
      /** How pod traffic crosses nodes (used by the bundled agent; ptp always routes natively). */
      routing: z.enum(["tunnel", "native"]).default("tunnel"),
      podCIDR: cidr.default("10.244.0.0/16"),
      nodeCIDRMaskSize: z.int().min(16).max(28).default(24),
      /** Pod capacity of each node (the kubelet's maxPods); more than ~250 also needs a wider nodeCIDRMaskSize. */
      maxPods: z.int().min(1).max(4000).default(110),
      serviceCIDR: cidr.default("10.96.0.0/16"),
      /** A "world" netns outside the cluster serving HTTP, TCP/UDP echo and DNS on 203.0.113.0/24. */
      world: z.boolean().default(true),
    })
    .prefault({}),
});

export type LocalClusterConfig = z.infer<typeof localClusterConfigSchema>;

export function defaultLocalConfig(): LocalClusterConfig {
  return localClusterConfigSchema.parse({ apiVersion: "conform.dev/v1alpha1", kind: "LocalCluster", metadata: {} });
}

/** Loads and validates a cluster file; errors name the file, line and field. */
export function loadLocalConfig(file: string): LocalClusterConfig {
  return parseYamlWithSchema(file, readFileSync(file, "utf8"), localClusterConfigSchema);
}
