import { LABEL_SELECTOR_OPERATORS } from "../vocabulary.js";
import type { JSONSchemaProps } from "./openapi.js";
import { array, enumOf, map, object, string } from "./openapi.js";

/** Kubernetes label value syntax (empty allowed: Cilium selects reserved identities with `reserved:host: ""`). */
export const LABEL_VALUE_PATTERN = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";

/** DNS-1123 subdomain, the name syntax of a Kubernetes object (used for CiliumCIDRGroup references). */
export const DNS_SUBDOMAIN_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/**
 * Cilium's EndpointSelector: a Kubernetes LabelSelector whose keys may carry a source prefix
 * (`k8s:`, `reserved:`, `any:`…). Keys are therefore left free-form; values follow label syntax.
 */
export function labelSelector(description: string): JSONSchemaProps {
  return object(
    {
      matchLabels: map(
        "Labels that must all be present with these exact values. Keys may carry a source prefix such as k8s: or reserved:.",
        string(undefined, { maxLength: 63, pattern: LABEL_VALUE_PATTERN }),
      ),
      matchExpressions: array(
        object(
          {
            key: string("Label key the requirement applies to (a source prefix is allowed)."),
            operator: enumOf(LABEL_SELECTOR_OPERATORS, "How the key relates to values."),
            values: array(string(), "Values for In and NotIn; must be empty for Exists and DoesNotExist.", {
              "x-kubernetes-list-type": "atomic",
            }),
          },
          "One label requirement.",
          { required: ["key", "operator"] },
        ),
        "Label requirements, all of which must hold.",
        { "x-kubernetes-list-type": "atomic" },
      ),
    },
    description,
    { "x-kubernetes-map-type": "atomic" },
  );
}
