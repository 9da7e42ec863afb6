import { CONDITION_STATUSES, ENDPOINT_POLICY_STATES, ENDPOINT_STATES, NAMED_PORT_PROTOCOLS } from "../vocabulary.js";
import type { JSONSchemaProps } from "./openapi.js";
import { array, boolean, enumOf, integer, map, object, string } from "./openapi.js";

const int64 = (description: string, extra: Omit<JSONSchemaProps, "type"> = {}): JSONSchemaProps =>
  integer(description, { format: "int64", ...extra });

/** Status of a CNP/CCNP, written by the agent through the status subresource. */
export function policyStatus(): JSONSchemaProps {
  return object(
    {
      conditions: array(
        object(
          {
            type: string('Condition type. The agent reports "Valid": False with the compile error when the policy is rejected.'),
            status: enumOf(CONDITION_STATUSES, "True, False or Unknown."),
            lastTransitionTime: string("When status last changed.", { format: "date-time" }),
            reason: string("Machine-readable reason for the last transition."),
            message: string("Human-readable details, e.g. the validation error naming the offending field."),
            observedGeneration: int64("metadata.generation the condition was computed from.", { minimum: 0 }),
          },
          "One observation about the policy.",
          { required: ["type", "status"] },
        ),
        "Observations about the policy, one per type.",
        { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] },
      ),
      derivativePolicies: map(
        "Per derived policy (e.g. from toGroups), whether it was realised.",
        object(
          {
            ok: boolean("Whether the derived policy was imported."),
            error: string("Why it was not."),
            enforcing: boolean("Whether the endpoints it selects enforce it."),
            lastUpdated: string("When this entry changed.", { format: "date-time" }),
            localPolicyRevision: int64("Policy repository revision that first contained it."),
            annotations: map("Policy annotations at the time it was realised."),
          },
          "Realisation state of one derived policy.",
        ),
      ),
    },
    "Observed state of the policy.",
  );
}

function identityTupleList(description: string): JSONSchemaProps {
  return array(
    object(
      {
        identity: int64("Peer security identity.", { minimum: 0 }),
        "identity-labels": map("Labels of the peer identity."),
        "dest-port": integer("Destination port, 0 for all.", { minimum: 0, maximum: 65535 }),
        protocol: integer("IP protocol number, 0 for all.", { minimum: 0, maximum: 255 }),
      },
      "A peer identity with destination port and protocol.",
    ),
    description,
  );
}

function endpointPolicyDirection(direction: string): JSONSchemaProps {
  return object(
    {
      enforcing: boolean(`Whether ${direction} policy is enforced (false when unenforced or in audit mode).`),
      state: enumOf(ENDPOINT_POLICY_STATES, `${direction} enforcement state.`),
      allowed: identityTupleList("Allowed peers (only filled when the agent is configured to publish them)."),
      denied: identityTupleList("Denied peers (only filled when the agent is configured to publish them)."),
    },
    `Policy state for ${direction}.`,
    { required: ["enforcing"] },
  );
}

/** Status of a CiliumEndpoint. CEPs carry no spec: the agent owns the whole object. */
export function endpointStatus(): JSONSchemaProps {
  return object(
    {
      id: int64("Endpoint ID, unique on its node.", { minimum: 0 }),
      identity: object(
        {
          id: int64("Numeric security identity.", { minimum: 0 }),
          labels: array(string(), 'Identity labels in source:key=value form, e.g. "k8s:app=web".'),
        },
        "Security identity of the endpoint.",
      ),
      networking: object(
        {
          addressing: array(
            object(
              {
                ipv4: string("IPv4 address.", { format: "ipv4" }),
                ipv6: string("IPv6 address.", { format: "ipv6" }),
              },
              "An address pair.",
            ),
            "Addresses of the endpoint.",
          ),
          node: string("IP of the node hosting the endpoint, reachable from other nodes."),
        },
        "Where the endpoint is reachable.",
        { required: ["addressing"] },
      ),
      policy: object(
        {
          ingress: endpointPolicyDirection("ingress"),
          egress: endpointPolicyDirection("egress"),
          revision: int64(
            "Policy repository revision the endpoint's datapath was last regenerated at (conform extension; compare with the agent's current revision to wait for policy to take effect).",
            { minimum: 0 },
          ),
        },
        "Policy enforcement state.",
      ),
      state: enumOf(ENDPOINT_STATES, "Endpoint lifecycle state."),
      "named-ports": array(
        object(
          {
            name: string("Port name."),
            port: integer("Port number.", { minimum: 0, maximum: 65535 }),
            protocol: enumOf(NAMED_PORT_PROTOCOLS, "L4 protocol."),
          },
          "A named container port.",
        ),
        "Named container ports, used to resolve named ports in egress rules that select this endpoint.",
      ),
      "external-identifiers": object(
        {
          "container-id": string("Container runtime ID."),
          "container-name": string("Container name."),
          "cni-attachment-id": string("CNI attachment ID."),
          "k8s-namespace": string("Pod namespace."),
          "k8s-pod-name": string("Pod name."),
          "pod-name": string("namespace/name of the pod (older form)."),
        },
        "Identifiers of the workload behind the endpoint.",
      ),
      encryption: object(
        { key: integer("Encryption key index, 0 when encryption is off.", { minimum: 0 }) },
        "Transparent encryption settings.",
      ),
      "service-account": string("Service account of the pod."),
    },
    "Endpoint state as published by the agent on its node.",
  );
}
