// The Scenario spec (apiVersion conform.dev/v1alpha1, kind Scenario), defined once as zod schemas.
// TS types are inferred from them and export-schemas.ts turns them into JSON Schema for editors.
// Every object is strict: a typo'd field is an error, never silently ignored. The schemas describe
// the *input* shape only (no transforms or defaults), so the JSON Schema means exactly what the
// loader accepts; normalisation happens in the loader and the expansion functions.
import { z } from "zod";
import { OUTCOMES } from "../probe/outcome.js";
import { DURATION_RE } from "./duration.js";

export const SCENARIO_API_VERSION = "conform.dev/v1alpha1";
export const SCENARIO_KIND = "Scenario";

/** A DNS-1123 label: namespaces, pods, services, step names. */
export const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Scenario and policy names may also contain dots (DNS-1123 subdomain). */
export const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** Kubernetes label key: optional DNS-subdomain prefix, then a name of at most 63 characters. */
const LABEL_KEY_RE = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** `<namespace>/<name>` for a namespaced policy, `<name>` for a clusterwide one. */
export const POLICY_REF_RE = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** Hubble `drop_reason_desc` enum names (POLICY_DENIED, POLICY_DENY, AUTH_REQUIRED, ...). */
export const REASON_RE = /^[A-Z][A-Z0-9_]*$/;

const dnsLabel = z.string().regex(DNS_LABEL_RE, "must be a DNS label: lower-case letters, digits and '-', at most 63 characters");
const duration = z
  .string()
  .regex(DURATION_RE, "must be a duration such as 500ms, 3s or 2m")
  .describe("Duration, e.g. 500ms, 3s, 2m")
  .meta({ id: "Duration" });
const labels = z
  .record(
    z.string().regex(LABEL_KEY_RE, "must be a Kubernetes label key"),
    z.string().regex(LABEL_VALUE_RE, "must be a Kubernetes label value (at most 63 characters of [A-Za-z0-9-_.])"),
  )
  .describe("Kubernetes labels")
  .meta({ id: "Labels" });
const portNumber = z.int().min(1).max(65535);

export const PROTOCOLS = ["tcp", "udp", "http"] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export const protocolSchema = z.enum(PROTOCOLS);

// ---------------------------------------------------------------------------------------------
// Requirements and timeouts

export const requirementsSchema = z
  .strictObject({
    nodes: z.int().min(1).max(64).optional().describe("Minimum number of nodes (pods placed on node N raise it to N)"),
    routingMode: z.enum(["tunnel", "native"]).optional().describe("Required cross-node routing mode"),
    encryption: z.enum(["wireguard"]).optional().describe("Required transparent encryption"),
    kubeProxyReplacement: z.boolean().optional().describe("true: needs the agent's kube-proxy replacement; false: needs kube-proxy"),
  })
  .describe("Cluster requirements; the scenario is skipped with a reason when they are unmet");
export type Requirements = z.infer<typeof requirementsSchema>;

export const timeoutsSchema = z
  .strictObject({
    scenario: duration.optional().describe("Whole scenario, including cleanup (default 10m)"),
    step: duration.optional().describe("Default per step (default 2m)"),
    probe: duration.optional().describe("One probe connection/request (default 3s)"),
    convergence: duration.optional().describe("Waiting for policy convergence (default 30s)"),
  })
  .describe("Timeouts");
export type Timeouts = z.infer<typeof timeoutsSchema>;

// ---------------------------------------------------------------------------------------------
// Fixtures

const portString = z
  .string()
  .regex(/^\d{1,5}\/(tcp|udp|http)$/, 'must be "<port>/<tcp|udp|http>", e.g. "9001/udp"')
  .refine((text) => {
    const port = Number(text.split("/")[0]);
    return port >= 1 && port <= 65535;
  }, "port must be between 1 and 65535");
export const podPortSchema = z
  .union([
    portNumber.describe("TCP port"),
    portString,
    z.strictObject({
      port: portNumber,
      protocol: protocolSchema.optional().describe("tcp (default), udp, or http (an HTTP server on TCP)"),
      name: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/, "must be an IANA service name (at most 15 characters)").optional().describe("Container port name, for named ports in policies"),
    }),
  ])
  .describe('A port the probe server listens on: 8080, "9001/udp", "8080/http" or {port, protocol, name}');
export type PodPortInput = z.infer<typeof podPortSchema>;

export const fixtureNamespaceSchema = z.strictObject({
  name: dnsLabel,
  labels: labels.optional(),
});

export const fixturePodSchema = z.strictObject({
  name: dnsLabel,
  namespace: dnsLabel.optional().describe('Namespace (default "default")'),
  labels: labels.optional(),
  node: z.int().min(1).max(64).optional().describe("1-based index of the node to run on (default: the scheduler decides)"),
  ports: z.array(podPortSchema).optional().describe("Ports the probe server listens on"),
});
export type FixturePodInput = z.infer<typeof fixturePodSchema>;

export const servicePortSchema = z.union([
  portNumber.describe("TCP port, same target port"),
  z.strictObject({
    port: portNumber,
    targetPort: z.union([portNumber, z.string().min(1)]).optional().describe("Pod port number or name (default: port)"),
    protocol: z.enum(["tcp", "udp"]).optional(),
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/, "must be an IANA service name (at most 15 characters)").optional(),
    nodePort: z.int().min(1).max(65535).optional(),
  }),
]);

export const fixtureServiceSchema = z.strictObject({
  name: dnsLabel,
  namespace: dnsLabel.optional().describe('Namespace (default "default")'),
  type: z.enum(["ClusterIP", "NodePort"]).optional(),
  selector: labels.describe("Pod labels the service selects"),
  ports: z.array(servicePortSchema).min(1),
});
export type FixtureServiceInput = z.infer<typeof fixtureServiceSchema>;

/** A manifest source: a path (file or directory, relative to the scenario file) or an inline object. */
export const manifestSourceSchema = z
  .union([
    z.string().min(1).describe("File or directory of Kubernetes YAML, relative to the scenario file"),
    z
      .looseObject({
        apiVersion: z.string().min(1),
        kind: z.string().min(1),
        metadata: z.looseObject({ name: z.string().min(1), namespace: z.string().optional() }),
      })
      .describe("An inline Kubernetes manifest"),
  ])
  .describe("Kubernetes manifests: a path or an inline object")
  .meta({ id: "ManifestSource" });
export type ManifestSourceInput = z.infer<typeof manifestSourceSchema>;
const manifestSources = z.union([manifestSourceSchema, z.array(manifestSourceSchema).min(1)]);

export const fixturesSchema = z
  .strictObject({
    namespaces: z.array(fixtureNamespaceSchema).optional().describe("Namespaces with labels (namespaces used by pods are created anyway)"),
    pods: z.array(fixturePodSchema).optional().describe("Probe pods (short form)"),
    services: z.array(fixtureServiceSchema).optional().describe("Services (short form)"),
    manifests: z.array(manifestSourceSchema).optional().describe("Plain Kubernetes manifests applied with the fixtures"),
  })
  .describe("Objects created before the first step and deleted after the last");

// ---------------------------------------------------------------------------------------------
// Expectations

export const outcomeSchema = z.enum(OUTCOMES);
export const expectationSchema = z
  .union([
    outcomeSchema,
    z.strictObject({
      outcome: outcomeSchema,
      reason: z.string().regex(REASON_RE, "must be a Hubble drop reason name such as POLICY_DENIED").optional().describe("Drop reason the flow must carry (Hubble drop_reason_desc), e.g. POLICY_DENIED"),
      by: z.string().regex(POLICY_REF_RE, 'must be "<namespace>/<policy>" or "<clusterwide-policy>"').optional().describe("The policy the flow must name"),
    }),
  ])
  .describe("An expected probe outcome, optionally with the drop reason and the policy the flow must name")
  .meta({ id: "Expectation" });
export type ExpectationInput = z.infer<typeof expectationSchema>;

const targetText = z
  .string()
  .min(1)
  .meta({
    id: "Destination",
    description:
      'A destination: "ns/pod[:port[/tcp|udp|http]]", "service:ns/name[:port[/proto]]", "world:<host|203.0.113.x>:port[/proto]", ' +
      '"cidr:203.0.113.0/28:port[/proto]", "host:port[/proto]" (the source\'s node), "node:<n>:port[/proto]", ' +
      '"apiserver:port[/proto]" (the kube-apiserver), "health:<n>:port[/proto]" (node n\'s health endpoint); ' +
      'http targets may add a request: "shop/api:8080/http POST /admin"',
  });
const podRefText = z.string().min(1).describe('A fixture pod: "<namespace>/<pod>"').meta({ id: "PodRef" });
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]);

export const matrixSchema = z
  .strictObject({
    from: z
      .union([
        z.array(podRefText).min(1).describe("Source pods; every cell takes `default` unless `cells` overrides it"),
        z
          .record(podRefText, z.union([expectationSchema, z.array(expectationSchema)]))
          .describe("Source pod → one expectation for every destination, or a row aligned with `to`"),
      ])
      .describe("Source pods (rows)"),
    to: z.array(targetText).min(1).describe("Destinations (columns); a pod or service without a port stands for all its ports"),
    default: expectationSchema.optional().describe("Expectation for cells no row sets"),
  })
  .describe("A truth table: sources × destinations; each cell becomes one probe and one JUnit testcase");

export const cellOverrideSchema = z.strictObject({
  from: oneOrMany(podRefText),
  to: oneOrMany(targetText),
  expect: expectationSchema,
});

export const FLOW_VERDICTS = ["FORWARDED", "DROPPED", "AUDIT", "REDIRECTED", "ERROR"] as const;
export const flowExpectationSchema = z
  .strictObject({
    name: z.string().min(1).optional(),
    from: podRefText.optional(),
    to: targetText.optional(),
    verdict: z.enum(FLOW_VERDICTS).optional(),
    reason: z.string().regex(REASON_RE, "must be a Hubble drop reason name such as POLICY_DENIED").optional(),
    by: z.string().regex(POLICY_REF_RE, 'must be "<namespace>/<policy>" or "<clusterwide-policy>"').optional(),
    direction: z.enum(["INGRESS", "EGRESS"]).optional(),
    encrypted: z.boolean().optional().describe("The packet crossed nodes encrypted"),
    http: z
      .strictObject({
        method: z.string().regex(/^[A-Z]+$/, "must be an upper-case HTTP method").optional(),
        path: z.string().startsWith("/").optional(),
        code: z.int().min(100).max(599).optional(),
      })
      .optional(),
    dns: z.strictObject({ query: z.string().min(1).optional(), rcode: z.string().min(1).optional() }).optional(),
    count: z
      .strictObject({ min: z.int().min(0).optional(), max: z.int().min(0).optional() })
      .optional()
      .describe("How many matching flows (default: at least one); {max: 0} asserts absence"),
  })
  .describe("A flow the datapath must (or must not) have logged during this step's probes");

export const expectStepSchema = z
  .strictObject({
    matrix: matrixSchema.optional(),
    cells: z.array(cellOverrideSchema).optional().describe("Explicit cells; they override matrix cells or add new ones"),
    flows: z.array(flowExpectationSchema).optional(),
  })
  .check(
    z.superRefine((value, ctx) => {
      if (isPlainObject(value) && !("matrix" in value) && !("cells" in value) && !("flows" in value)) {
        ctx.addIssue({ code: "custom", message: "needs at least one of matrix, cells, flows" });
      }
    }, { when: () => true }),
  );

// ---------------------------------------------------------------------------------------------
// Steps

export const WAIT_CONDITIONS = ["policy-converged", "pods-ready"] as const;
export const STEP_ACTIONS = ["apply", "delete", "wait", "expect"] as const;
export type StepAction = (typeof STEP_ACTIONS)[number];

export const stepSchema = z
  .strictObject({
    name: dnsLabel.optional().describe("Step name; it keys the step's cells in reports (default steps[i])"),
    timeout: duration.optional(),
    apply: manifestSources.optional().describe("Manifests to apply (server-side apply)"),
    delete: manifestSources.optional().describe("Manifests to delete"),
    wait: z.strictObject({ for: z.enum(WAIT_CONDITIONS), timeout: duration.optional() }).optional(),
    expect: expectStepSchema.optional().describe("Probe and flow expectations"),
  })
  .check(
    // Runs even when fields inside are invalid, so every error is reported in one pass.
    z.superRefine((value, ctx) => {
      if (!isPlainObject(value)) return;
      const actions = STEP_ACTIONS.filter((a) => a in value);
      if (actions.length !== 1) {
        ctx.addIssue({
          code: "custom",
          message: actions.length === 0 ? `needs one of ${STEP_ACTIONS.join(", ")}` : `has ${actions.join(" and ")}; a step does exactly one thing`,
        });
      }
    }, { when: () => true }),
  )
  .describe("One step; steps run in order, fixtures and applied manifests are cleaned up afterwards");
export type StepInput = z.infer<typeof stepSchema>;

// ---------------------------------------------------------------------------------------------
// Scenario

export const scenarioSchema = z
  .strictObject({
    apiVersion: z.literal(SCENARIO_API_VERSION),
    kind: z.literal(SCENARIO_KIND),
    metadata: z.strictObject({
      name: z.string().regex(DNS_SUBDOMAIN_RE, "must be lower-case letters, digits, '-' and '.'"),
      description: z.string().optional(),
      labels: labels.optional().describe("Free-form labels for selecting scenarios"),
    }),
    spec: z.strictObject({
      requirements: requirementsSchema.optional(),
      timeouts: timeoutsSchema.optional(),
      fixtures: fixturesSchema.optional(),
      steps: z.array(stepSchema).min(1),
    }),
  })
  .describe("A conform scenario");
export type Scenario = z.infer<typeof scenarioSchema>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
