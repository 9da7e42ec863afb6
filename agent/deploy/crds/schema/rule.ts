import { AUTHENTICATION_MODES, ENTITIES } from "../vocabulary.js";
import type { JSONSchemaProps, ValidationRule } from "./openapi.js";
import { array, boolean, enumOf, exactlyOneOf, map, object, string } from "./openapi.js";
import { icmpRule, portDenyRule, portRule, fqdnSelector } from "./ports.js";
import { DNS_SUBDOMAIN_PATTERN, labelSelector } from "./selectors.js";

/**
 * The two cross-field checks Cilium's own CRD makes on every rule (its `oneOf`/`anyOf` on the
 * selectors and sections), written as CEL so the error says what to fix. Everything else that
 * Cilium checks across fields happens in the agent and is reported in the policy status; see
 * README.md. Both rules count key presence, like Cilium: `ingress: []` satisfies the second one.
 */
export const RULE_VALIDATIONS: readonly ValidationRule[] = [
  {
    rule: "has(self.endpointSelector) != has(self.nodeSelector)",
    message: "exactly one of endpointSelector or nodeSelector must be set",
  },
  {
    rule: "has(self.ingress) || has(self.ingressDeny) || has(self.egress) || has(self.egressDeny)",
    message: "at least one of ingress, ingressDeny, egress or egressDeny must be set",
  },
];

/** `addr/len`; Kubernetes checks the `cidr` format with Go's net.ParseCIDR (bare addresses are refused). */
function cidr(description?: string): JSONSchemaProps {
  return string(description, { format: "cidr" });
}

function cidrList(direction: "from" | "to"): JSONSchemaProps {
  return array(
    cidr(),
    `IP prefixes (addr/len) ${direction === "from" ? "sources" : "destinations"} must fall in. They never match pods or nodes, only addresses outside the cluster.`,
  );
}

function cidrRuleList(direction: "from" | "to"): JSONSchemaProps {
  return array(
    object(
      {
        cidr: cidr("An IP prefix (addr/len)."),
        cidrGroupRef: string("Name of a CiliumCIDRGroup whose prefixes to use.", {
          maxLength: 253,
          pattern: DNS_SUBDOMAIN_PATTERN,
        }),
        cidrGroupSelector: labelSelector("Selects CiliumCIDRGroups by label."),
        except: array(cidr(), "Prefixes inside cidr to leave out of this entry (not of other rules)."),
      },
      "A prefix (or CIDR group) with optional exceptions. Exactly one of cidr, cidrGroupRef or cidrGroupSelector.",
      exactlyOneOf("cidr", "cidrGroupRef", "cidrGroupSelector"),
    ),
    `Like ${direction}CIDR, with per-prefix exceptions and CIDR-group references.`,
  );
}

function entityList(direction: "from" | "to"): JSONSchemaProps {
  return array(
    enumOf(ENTITIES),
    `Reserved identities ${direction === "from" ? "sources" : "destinations"} may have: world, cluster, host, remote-node, kube-apiserver, health, init, unmanaged, ingress, all or none.`,
  );
}

function endpointList(direction: "from" | "to"): JSONSchemaProps {
  return array(
    labelSelector("Selects endpoints by their identity labels."),
    `Endpoints (pods, and reserved identities via reserved: keys) ${direction === "from" ? "sources" : "destinations"} may be. An empty list selects nothing; an omitted field alongside toPorts means any peer.`,
  );
}

function nodeList(direction: "from" | "to"): JSONSchemaProps {
  return array(
    labelSelector("Selects nodes by their labels."),
    `Nodes ${direction === "from" ? "sources" : "destinations"} may be (needs node-selector labels enabled in the agent).`,
  );
}

function groupList(direction: "from" | "to"): JSONSchemaProps {
  return array(
    object(
      {
        aws: object(
          {
            labels: map("AWS resource tags to match."),
            securityGroupsIds: array(string(), "Security group IDs."),
            securityGroupsNames: array(string(), "Security group names."),
            region: string("AWS region."),
          },
          "Addresses of AWS resources, resolved by the operator into a derived policy.",
        ),
      },
      "An external provider group.",
    ),
    `Provider groups ${direction === "from" ? "sources" : "destinations"} may belong to.`,
  );
}

function serviceList(): JSONSchemaProps {
  return array(
    object(
      {
        k8sServiceSelector: object(
          {
            selector: labelSelector("Selects Services by label."),
            namespace: string("Namespace of the Services; empty means the policy's namespace (any for a CCNP)."),
          },
          "Services chosen by label.",
          { required: ["selector"] },
        ),
        k8sService: object(
          {
            serviceName: string("Service name."),
            namespace: string("Service namespace."),
          },
          "One Service by name.",
        ),
      },
      "A Kubernetes Service whose backends are allowed destinations.",
    ),
    "Services whose backends destinations may be.",
  );
}

/** Removed in Cilium 1.19; the CRD keeps the field name so old manifests fail loudly instead of being pruned. */
function removedRequires(field: string): JSONSchemaProps {
  return array(
    labelSelector("Unused."),
    `${field} was deprecated in Cilium 1.17 and removed in 1.19; it must be empty.`,
    { maxItems: 0 },
  );
}

function authentication(): JSONSchemaProps {
  return object(
    { mode: enumOf(AUTHENTICATION_MODES, "Required authentication mode.") },
    "Mutual authentication required for the allowed traffic.",
    { required: ["mode"] },
  );
}

function ingressRule(kind: "allow" | "deny"): JSONSchemaProps {
  const common: Record<string, JSONSchemaProps> = {
    fromEndpoints: endpointList("from"),
    fromRequires: removedRequires("fromRequires"),
    fromCIDR: cidrList("from"),
    fromCIDRSet: cidrRuleList("from"),
    fromEntities: entityList("from"),
    fromGroups: groupList("from"),
    fromNodes: nodeList("from"),
    toPorts: array(kind === "allow" ? portRule() : portDenyRule(), "Destination ports on the subject."),
    icmps: array(icmpRule(), "ICMP types."),
  };
  const properties = kind === "allow" ? { ...common, authentication: authentication() } : common;
  return object(
    properties,
    kind === "allow"
      ? "Traffic the subject may receive. Peer (from*), port and L7 parts must all match; only one peer kind per element."
      : "Traffic the subject must not receive, whatever any allow says. Peer and port parts must both match.",
  );
}

function egressRule(kind: "allow" | "deny"): JSONSchemaProps {
  const common: Record<string, JSONSchemaProps> = {
    toEndpoints: endpointList("to"),
    toRequires: removedRequires("toRequires"),
    toCIDR: cidrList("to"),
    toCIDRSet: cidrRuleList("to"),
    toEntities: entityList("to"),
    toServices: serviceList(),
    toGroups: groupList("to"),
    toNodes: nodeList("to"),
    toPorts: array(kind === "allow" ? portRule() : portDenyRule(), "Destination ports."),
    icmps: array(icmpRule(), "ICMP types."),
  };
  // toFQDNs exists only on allow rules upstream: a deny by DNS name is not expressible.
  const properties =
    kind === "allow"
      ? {
          ...common,
          toFQDNs: array(
            fqdnSelector("A DNS name or pattern."),
            "Destinations by DNS name: the addresses seen in allowed, proxied DNS answers for matching names.",
          ),
          authentication: authentication(),
        }
      : common;
  return object(
    properties,
    kind === "allow"
      ? "Traffic the subject may send. Peer (to*), port and L7 parts must all match; only one peer kind per element."
      : "Traffic the subject must not send, whatever any allow says. Peer and port parts must both match.",
  );
}

/**
 * One Cilium policy rule (the shape of CNP/CCNP `spec` and of each `specs` element).
 * `scope` only changes descriptions: the schema is the same for both kinds, as upstream.
 */
export function policyRule(scope: "namespaced" | "cluster", description: string): JSONSchemaProps {
  return object(
    {
      endpointSelector: labelSelector(
        scope === "namespaced"
          ? "Endpoints (pods) of the policy's namespace this rule applies to. {} selects all of them."
          : "Endpoints (pods, in any namespace) this rule applies to. {} selects every endpoint except the host.",
      ),
      nodeSelector: labelSelector(
        scope === "namespaced"
          ? "Only valid in CiliumClusterwideNetworkPolicy; a CiliumNetworkPolicy using it is reported invalid in its status."
          : "Nodes this host-firewall rule applies to.",
      ),
      ingress: array(ingressRule("allow"), "Ingress allow rules. An element {} turns on default deny and allows nothing."),
      ingressDeny: array(ingressRule("deny"), "Ingress deny rules; a matching deny beats every allow."),
      egress: array(egressRule("allow"), "Egress allow rules. An element {} turns on default deny and allows nothing."),
      egressDeny: array(egressRule("deny"), "Egress deny rules; a matching deny beats every allow."),
      enableDefaultDeny: object(
        {
          ingress: boolean("Whether this policy puts its subjects in ingress default deny."),
          egress: boolean("Whether this policy puts its subjects in egress default deny."),
        },
        "Per direction, whether this policy switches its subjects to default deny. Unset means yes for each direction the policy has rules for.",
      ),
      labels: array(
        object(
          {
            key: string("Label key."),
            value: string("Label value."),
            source: string("Label source, e.g. k8s or unspec."),
          },
          "A label attached to the rule.",
          { required: ["key"] },
        ),
        "Labels attached to the rule, reported with verdicts that this rule decides.",
      ),
      description: string("Free-form human description of the rule."),
      log: object(
        {
          value: string("Printable text of at most 32 characters, copied into flows this policy decides.", {
            maxLength: 32,
            pattern: "^\\P{C}*$",
          }),
        },
        "Flow log annotation for this policy.",
      ),
    },
    description,
    { "x-kubernetes-validations": [...RULE_VALIDATIONS] },
  );
}
