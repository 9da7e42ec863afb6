// The local cluster definition (clusters/local/*.yaml), one zod schema; TS types are inferred.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ENFORCEMENT_MODES } from "../../../agent/policy/types.js";
import { parseYamlWithSchema } from "../../util/yaml-schema.js";
import { CLUSTER_NAME_RE } from "./names.js";

const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, "expected an IPv4 CIDR such as 10.244.0.0/16");

export const ROUTING_MODES = ["tunnel", "native"] as const;
export type RoutingMode = (typeof ROUTING_MODES)[number];

/** The bundled agent tunnels like Cilium's default; ptp can only route natively. */
export const defaultRouting = (cni: "ptp" | "conform"): RoutingMode => (cni === "conform" ? "tunnel" : "native");

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
      /** Which CNI the netns kubelets call: the bundled agent's (its DaemonSet), or the reference ptp+host-local plugins. */
      cni: z.enum(["ptp", "conform"]).default("conform"),
      /**
       * How pod traffic crosses nodes. `tunnel` (default with `cni: conform`): the agents carry it
       * in VXLAN between node addresses; `native`: the underlay routes every node's pod CIDR.
       * The ptp plugin has no tunnel, so with `cni: ptp` only `native` is valid (and the default).
       */
      routing: z.enum(ROUTING_MODES).optional(),
      podCIDR: cidr.default("10.244.0.0/16"),
      nodeCIDRMaskSize: z.int().min(16).max(28).default(24),
      /** Pod capacity of each node (the kubelet's maxPods); more than ~250 also needs a wider nodeCIDRMaskSize. */
      maxPods: z.int().min(1).max(4000).default(110),
      serviceCIDR: cidr.default("10.96.0.0/16"),
      /** A "world" netns outside the cluster serving HTTP, TCP/UDP echo and DNS on 203.0.113.0/24. */
      world: z.boolean().default(true),
      /**
       * Policy settings of the bundled agent, written into its ConfigMap (`policy.*` of
       * `kube-system/conform-agent-config`) at `up`: Cilium's `enable-policy` and
       * `policy-audit-mode`. Absent fields keep the agent's defaults (default, false).
       */
      agent: z
        .strictObject({
          enforcementMode: z.enum(ENFORCEMENT_MODES).optional(),
          auditMode: z.boolean().optional(),
        })
        .optional(),
    })
    .superRefine((spec, ctx) => {
      if (spec.cni === "ptp" && spec.routing === "tunnel") {
        ctx.addIssue({ code: "custom", path: ["routing"], message: "cni ptp routes natively only; use routing: native or cni: conform" });
      }
      if (spec.cni === "ptp" && spec.agent !== undefined) {
        ctx.addIssue({ code: "custom", path: ["agent"], message: "cni ptp runs no agent; agent settings need cni: conform" });
      }
    })
    .transform((spec) => ({ ...spec, routing: spec.routing ?? defaultRouting(spec.cni) }))
    .prefault({}),
});

export type LocalClusterConfig = z.infer<typeof localClusterConfigSchema>;

/**
 * The routing a cluster really has: ptp installs per-pod routes and has no tunnel, whatever a
 * state file written before `routing` was checked against `cni` may say.
 */
export function effectiveRouting(config: LocalClusterConfig): RoutingMode {
  return config.spec.cni === "conform" ? config.spec.routing : "native";
}

/** The agent ConfigMap settings `up` writes for this cluster (agentDeployObjects merges them over the manifest's). */
export function agentSettings(config: LocalClusterConfig): Record<string, unknown> {
  const policy = config.spec.agent;
  return { routing: effectiveRouting(config), ...(policy && Object.keys(policy).length > 0 ? { policy } : {}) };
}

export function defaultLocalConfig(): LocalClusterConfig {
  return localClusterConfigSchema.parse({ apiVersion: "conform.dev/v1alpha1", kind: "LocalCluster", metadata: {} });
}

/** Loads and validates a cluster file; errors name the file, line and field. */
export function loadLocalConfig(file: string): LocalClusterConfig {
  return parseYamlWithSchema(file, readFileSync(file, "utf8"), localClusterConfigSchema);
}
