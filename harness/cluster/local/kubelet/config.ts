// The netns kubelet's configuration file (JSON or YAML, one per node), written by the local
// provider. Bad input fails fast with file, line and field, before anything touches the cluster.
import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { z } from "zod";
import { parseYamlWithSchema } from "../../../util/yaml-schema.js";
import { CLUSTER_NAME_RE } from "../names.js";

/**
 * NodeRestriction refuses kubelets that set labels under kubernetes.io / k8s.io other than the
 * well-known ones below, and any node-restriction.kubernetes.io label. Checking here turns an
 * opaque 403 at registration into a config error that names the label.
 */
const KUBELET_SETTABLE_LABELS = new Set([
  "kubernetes.io/hostname",
  "kubernetes.io/os",
  "kubernetes.io/arch",
  "beta.kubernetes.io/os",
  "beta.kubernetes.io/arch",
  "topology.kubernetes.io/zone",
  "topology.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "failure-domain.beta.kubernetes.io/region",
  "node.kubernetes.io/instance-type",
  "beta.kubernetes.io/instance-type",
]);

function labelNamespace(key: string): string {
  const slash = key.indexOf("/");
  return slash < 0 ? "" : key.slice(0, slash);
}

function inDomain(ns: string, domain: string): boolean {
  return ns === domain || ns.endsWith(`.${domain}`);
}

/** Why NodeRestriction would refuse this label on the kubelet's own Node, or null if it is allowed. */
export function forbiddenNodeLabelReason(key: string): string | null {
  const ns = labelNamespace(key);
  if (inDomain(ns, "node-restriction.kubernetes.io")) return "node-restriction.kubernetes.io labels can only be set by administrators";
  const kubernetesNs = inDomain(ns, "kubernetes.io") || inDomain(ns, "k8s.io");
  if (!kubernetesNs) return null;
  if (KUBELET_SETTABLE_LABELS.has(key) || inDomain(ns, "kubelet.kubernetes.io") || inDomain(ns, "node.kubernetes.io")) return null;
  return "the NodeRestriction admission plugin forbids kubelets to set this kubernetes.io/k8s.io label";
}

const LABEL_KEY_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const NODE_NAME_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const absolutePath = z.string().min(1).refine(isAbsolute, { message: "must be an absolute path" });

const backoffSchema = z.strictObject({
  initialSeconds: z.number().positive(),
  maxSeconds: z.number().positive(),
});

export const KubeletConfigSchema = z
  .strictObject({
    /** Cluster name; every netns the kubelet creates carries it (names.ts). */
    cluster: z.string().regex(CLUSTER_NAME_RE, "must be a lowercase DNS label of at most 32 characters"),
    /** Node object name, e.g. `node1`; the node netns is `cf-<cluster>-<nodeName>`. */
    nodeName: z.string().regex(NODE_NAME_RE, "must be a lowercase DNS label"),
    /** The node's underlay address (InternalIP, hostIP, and podIP of hostNetwork pods). */
    nodeIP: z.ipv4(),
    /** Kubeconfig with token auth as user `system:node:<nodeName>` in group `system:nodes`. */
    kubeconfig: absolutePath,
    /** Per-node directory the kubelet owns: pod logs, working dirs, CNI result cache, pid files. */
    stateDir: absolutePath,
    /** Where CNI plugin binaries live (CNI_PATH). */
    cniBinDir: absolutePath,
    /** Where the network configuration lives; the lexically first *.conflist/*.conf/*.json wins. */
    cniConfDir: absolutePath,
    /**
     * hostPath volumes: node path prefix → directory of this machine, for paths a real node keeps
     * to itself. The CNI dirs map to cniBinDir/cniConfDir without an entry; see README "Volumes".
     */
    hostPaths: z.record(absolutePath, absolutePath).default({}),
    /** The conform checkout; image commands run `dist/…` programs from it. */
    repoRoot: absolutePath,
    /** Extra node labels, set when the Node is registered. */
    labels: z
      .record(z.string().regex(LABEL_KEY_RE, "invalid label key"), z.string().regex(LABEL_VALUE_RE, "invalid label value"))
      .default({})
      .superRefine((labels, ctx) => {
        for (const key of Object.keys(labels)) {
          const reason = forbiddenNodeLabelReason(key);
          if (reason) ctx.addIssue({ code: "custom", path: [key], message: reason });
        }
      }),
    /** Reported as nodeInfo.kubeletVersion; must match the control plane's version skew rules. */
    kubernetesVersion: z.string().regex(/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, "must look like v1.36.3"),

    // Tuning knobs; the defaults mirror the real kubelet where it has one.
    /** How often node readiness is re-evaluated and the Lease renewed. */
    nodeStatusUpdateSeconds: z.number().positive().default(10),
    /** Report the node status at least this often even when nothing changed (Ready heartbeat). */
    nodeStatusReportSeconds: z.number().positive().default(60),
    leaseDurationSeconds: z.number().int().positive().default(40),
    /** Re-run every pod's sync this often, whatever the watch says. */
    resyncSeconds: z.number().positive().default(10),
    /** Container restart back-off (CrashLoopBackOff): first restart is immediate, then initial, doubling, capped. */
    restartBackoff: backoffSchema.default({ initialSeconds: 10, maxSeconds: 300 }),
    /** Retry back-off after a failed CNI ADD / netns setup. */
    sandboxRetryBackoff: backoffSchema.default({ initialSeconds: 1, maxSeconds: 30 }),
    maxPods: z.number().int().positive().default(110),
    /** Grace given to containers when the kubelet itself is stopped (SIGTERM/SIGINT); keep it below the provider's kill timeout. */
    shutdownGraceSeconds: z.number().nonnegative().default(3),
    /**
     * A mount namespace (e.g. `/proc/<pid>/ns/mnt`) in which pod netns are created, for when the
     * kubelet runs in a private mount namespace (see README). Auto-detected when omitted.
     */
    hostMountNamespace: absolutePath.optional(),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.restartBackoff.maxSeconds < cfg.restartBackoff.initialSeconds)
      ctx.addIssue({ code: "custom", path: ["restartBackoff", "maxSeconds"], message: "must be at least initialSeconds" });
    if (cfg.sandboxRetryBackoff.maxSeconds < cfg.sandboxRetryBackoff.initialSeconds)
      ctx.addIssue({ code: "custom", path: ["sandboxRetryBackoff", "maxSeconds"], message: "must be at least initialSeconds" });
    if (cfg.leaseDurationSeconds <= cfg.nodeStatusUpdateSeconds)
      ctx.addIssue({ code: "custom", path: ["leaseDurationSeconds"], message: "must exceed nodeStatusUpdateSeconds, or the Lease expires between renewals" });
  });

export type KubeletConfig = z.output<typeof KubeletConfigSchema>;
/** What the provider writes (defaults may be omitted). */
export type KubeletConfigInput = z.input<typeof KubeletConfigSchema>;

/** Reads and validates a config file; throws InputError naming file, line and field. */
export function loadKubeletConfig(file: string): KubeletConfig {
  return parseKubeletConfig(file, readFileSync(file, "utf8"));
}

export function parseKubeletConfig(file: string, text: string): KubeletConfig {
  return parseYamlWithSchema(file, text, KubeletConfigSchema);
}
