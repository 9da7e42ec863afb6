import type { JSONSchemaProps } from "./openapi.js";
import { array, map, object, string } from "./openapi.js";
import { policyRule } from "./rule.js";
import { endpointStatus, policyStatus } from "./status.js";

/** The wire shape of an apiextensions.k8s.io/v1 CustomResourceDefinition, as much as these CRDs use. */
export interface CrdManifest {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames?: string[];
      categories?: string[];
    };
    scope: "Namespaced" | "Cluster";
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JSONSchemaProps };
      subresources?: { status?: Record<string, never> };
      additionalPrinterColumns?: PrinterColumn[];
    }[];
  };
}

interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  priority?: number;
}

export const GROUP = "cilium.io";
export const VERSION = "v2";

/** Lets `kubectl get crd -l app.kubernetes.io/part-of=conform` list what conform installed. */
const CRD_LABELS = { "app.kubernetes.io/part-of": "conform" };

/** Same categories as upstream, so `kubectl get cilium` / `kubectl get ciliumpolicy` work. */
const POLICY_CATEGORIES = ["cilium", "ciliumpolicy"];

function root(
  description: string,
  properties: Record<string, JSONSchemaProps>,
  required: string[] = ["metadata"],
): JSONSchemaProps {
  return object(
    {
      apiVersion: string("API version of this object."),
      kind: string("Kind of this object."),
      // Kubernetes forbids describing metadata beyond name/generateName; leave it to the server.
      metadata: { type: "object" },
      ...properties,
    },
    description,
    { required },
  );
}

const validColumns: PrinterColumn[] = [
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  {
    name: "Valid",
    type: "string",
    jsonPath: ".status.conditions[?(@.type=='Valid')].status",
    description: "Whether the agent accepted the policy.",
  },
  {
    name: "Message",
    type: "string",
    jsonPath: ".status.conditions[?(@.type=='Valid')].message",
    description: "Why the policy was rejected.",
    priority: 1,
  },
];

function policyCrd(kind: "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy"): CrdManifest {
  const namespaced = kind === "CiliumNetworkPolicy";
  const scope = namespaced ? "namespaced" : "cluster";
  const plural = namespaced ? "ciliumnetworkpolicies" : "ciliumclusterwidenetworkpolicies";
  const what = namespaced
    ? "A Cilium network policy for the endpoints of one namespace."
    : "A Cilium network policy for endpoints of every namespace and for nodes (host firewall).";
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${GROUP}`, labels: CRD_LABELS },
    spec: {
      group: GROUP,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        shortNames: namespaced ? ["cnp", "ciliumnp"] : ["ccnp"],
        categories: POLICY_CATEGORIES,
      },
      scope: namespaced ? "Namespaced" : "Cluster",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: root(what, {
              spec: policyRule(scope, "The policy rule. spec and specs may be combined; every rule applies."),
              specs: array(
                policyRule(scope, "One policy rule."),
                "Several rules in one object; each is a complete rule with its own selector.",
              ),
              status: policyStatus(),
            }),
          },
          subresources: { status: {} },
          additionalPrinterColumns: validColumns,
        },
      ],
    },
  };
}

function identityCrd(): CrdManifest {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `ciliumidentities.${GROUP}`, labels: CRD_LABELS },
    spec: {
      group: GROUP,
      names: {
        kind: "CiliumIdentity",
        listKind: "CiliumIdentityList",
        plural: "ciliumidentities",
        singular: "ciliumidentity",
        shortNames: ["ciliumid"],
        categories: ["cilium"],
      },
      scope: "Cluster",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: root(
              "A cluster-wide security identity. The object name is the numeric identity.",
              {
                "security-labels": map(
                  'The identity\'s label set, keyed by source-prefixed label key (e.g. "k8s:app") with the label value.',
                ),
              },
              ["metadata", "security-labels"],
            ),
          },
          additionalPrinterColumns: [
            {
              name: "Namespace",
              type: "string",
              jsonPath: ".metadata.labels.io\\.kubernetes\\.pod\\.namespace",
              description: "Namespace of the pods carrying this identity.",
            },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        },
      ],
    },
  };
}

function endpointCrd(): CrdManifest {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `ciliumendpoints.${GROUP}`, labels: CRD_LABELS },
    spec: {
      group: GROUP,
      names: {
        kind: "CiliumEndpoint",
        listKind: "CiliumEndpointList",
        plural: "ciliumendpoints",
        singular: "ciliumendpoint",
        shortNames: ["cep", "ciliumep"],
        categories: ["cilium"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: {
            // No status subresource, as upstream: the agent creates each CEP with its status in one write.
            openAPIV3Schema: root("The datapath state of one pod, published by the agent running on its node.", {
              status: endpointStatus(),
            }),
          },
          additionalPrinterColumns: [
            { name: "Security Identity", type: "integer", jsonPath: ".status.identity.id" },
            { name: "Endpoint State", type: "string", jsonPath: ".status.state" },
            { name: "IPv4", type: "string", jsonPath: ".status.networking.addressing[0].ipv4" },
            { name: "IPv6", type: "string", jsonPath: ".status.networking.addressing[0].ipv6" },
            { name: "Ingress Enforcement", type: "boolean", jsonPath: ".status.policy.ingress.enforcing", priority: 1 },
            { name: "Egress Enforcement", type: "boolean", jsonPath: ".status.policy.egress.enforcing", priority: 1 },
            { name: "Node", type: "string", jsonPath: ".status.networking.node", priority: 1 },
          ],
        },
      ],
    },
  };
}

/** Every CRD conform installs, keyed by the file name it is written to. */
export function buildCrds(): Record<string, CrdManifest> {
  const crds = [
    policyCrd("CiliumNetworkPolicy"),
    policyCrd("CiliumClusterwideNetworkPolicy"),
    identityCrd(),
    endpointCrd(),
  ];
  return Object.fromEntries(crds.map((crd) => [`${crd.metadata.name}.yaml`, crd]));
}
