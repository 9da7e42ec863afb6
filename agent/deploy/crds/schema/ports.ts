import {
  ENVOY_CONFIG_KINDS,
  HEADER_MISMATCH_ACTIONS,
  ICMP_FAMILIES,
  ICMP_TYPE_NAMES,
  KAFKA_ROLES,
  PORT_PROTOCOLS,
} from "../vocabulary.js";
import type { JSONSchemaProps } from "./openapi.js";
import { array, enumOf, exactlyOneOf, integer, map, object, string } from "./openapi.js";

/** Cilium caps the port entries of one `toPorts` element and the fields of one ICMP rule at 40. */
export const MAX_PORTS_PER_RULE = 40;
export const MAX_ICMP_FIELDS = 40;

/**
 * A port number 0–65535 without leading zeros (Cilium parses numbers with base prefixes, so "010"
 * would silently mean 8), or an IANA service name: letters, digits and single inner hyphens, at
 * least one letter. Cilium's own pattern lacks grouping around its alternatives and lets
 * "99999" through to the agent; this one is anchored as intended.
 */
export const PORT_PATTERN =
  "^(0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]|([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*)$";

/** IANA service names are at most 15 characters; longer names can never match a container port. */
export const MAX_PORT_NAME_LENGTH = 15;

/**
 * DNS names and patterns: dot-separated runs of `[-a-zA-Z0-9_]` (plus `*` in patterns), optional
 * trailing dot. Written without nested quantifiers so a long bad name cannot make a backtracking
 * regex engine (clients, the unit tests) explode.
 */
export const DNS_NAME_PATTERN = "^[-a-zA-Z0-9_]+(\\.[-a-zA-Z0-9_]+)*\\.?$";
export const DNS_WILDCARD_PATTERN = "^[-a-zA-Z0-9_*]+(\\.[-a-zA-Z0-9_*]+)*\\.?$";
export const MAX_DNS_NAME_LENGTH = 255;

const icmpTypePattern = `^([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]|${ICMP_TYPE_NAMES.join("|")})$`;

export function portProtocol(): JSONSchemaProps {
  return object(
    {
      port: string(
        'Destination port: a number 0-65535 as a string ("0" means every port of the protocol), or a container port name such as "http".',
        { maxLength: MAX_PORT_NAME_LENGTH, pattern: PORT_PATTERN },
      ),
      endPort: integer(
        "Last port of an inclusive range starting at port. Ignored for named ports; a value not above port means the single port.",
        { format: "int32", minimum: 0, maximum: 65535 },
      ),
      protocol: enumOf(
        PORT_PROTOCOLS,
        "L4 protocol. Omitted or ANY means TCP, UDP and SCTP (never ICMP; use icmps for that).",
      ),
    },
    "A destination port or port range with an optional protocol.",
    { required: ["port"] },
  );
}

function portList(): JSONSchemaProps {
  return array(portProtocol(), `Ports this element applies to (at most ${MAX_PORTS_PER_RULE}).`, {
    maxItems: MAX_PORTS_PER_RULE,
  });
}

export function fqdnSelector(description: string): JSONSchemaProps {
  return object(
    {
      matchName: string("An exact DNS name; a missing trailing dot is added.", {
        maxLength: MAX_DNS_NAME_LENGTH,
        pattern: DNS_NAME_PATTERN,
      }),
      matchPattern: string(
        'A DNS name with wildcards: "*" matches any run of name characters within one label; a leading "**." matches one or more whole labels.',
        { maxLength: MAX_DNS_NAME_LENGTH, pattern: DNS_WILDCARD_PATTERN },
      ),
    },
    `${description} Exactly one of matchName or matchPattern.`,
    exactlyOneOf("matchName", "matchPattern"),
  );
}

function secretRef(description: string): JSONSchemaProps {
  return object(
    {
      name: string("Secret name."),
      namespace: string("Secret namespace; the default depends on where the reference is used."),
    },
    description,
    { required: ["name"] },
  );
}

function httpRule(): JSONSchemaProps {
  return object(
    {
      method: string("Regular expression the whole request method must match, e.g. GET or GET|POST."),
      path: string("Regular expression the whole request path (including any query string) must match."),
      host: string("Regular expression the whole Host/:authority header must match."),
      headers: array(
        string(),
        'Headers that must be present: "Name" requires presence, "Name: value" (or "Name value") an exact value.',
      ),
      headerMatches: array(
        object(
          {
            name: string("Header name.", { minLength: 1 }),
            value: string("Exact value to compare with."),
            secret: secretRef("Secret holding the value to compare with (one entry)."),
            mismatch: enumOf(
              HEADER_MISMATCH_ACTIONS,
              "If set, a mismatch does not deny the request: the proxy logs it or adds, deletes or replaces the header.",
            ),
          },
          "A header requirement; with only name set, presence is enough.",
          { required: ["name"] },
        ),
        "Header requirements with optional values and mismatch actions.",
      ),
    },
    "One allowed request shape. Every field set must match; an empty element allows every request (still proxied).",
  );
}

function kafkaRule(): JSONSchemaProps {
  return object(
    {
      role: enumOf(KAFKA_ROLES, "Shorthand for the set of API keys a producer or consumer needs."),
      apiKey: string("Kafka API key name, e.g. produce or fetch."),
      apiVersion: string("Kafka API version, a non-negative integer as a string."),
      clientID: string("Client identifier to match."),
      topic: string("Topic name to match.", { maxLength: 255 }),
    },
    "Kafka request constraints (deprecated upstream; kept so such policies are stored intact).",
  );
}

function l7Rules(): JSONSchemaProps {
  return object(
    {
      http: array(httpRule(), "HTTP rules; a request is allowed if any element matches."),
      dns: array(
        fqdnSelector("A DNS query name the proxy allows."),
        "DNS rules (egress only): queries for matching names are allowed and their answers feed toFQDNs.",
      ),
      kafka: array(kafkaRule(), "Kafka rules."),
      l7proto: string("Name of a generic L7 parser the key-value rules in l7 are meant for."),
      l7: array(map("Key-value pairs interpreted by the l7proto parser."), "Generic key-value L7 rules."),
    },
    "L7 rules for the ports of this element. Exactly one rule type may be set (http, dns, kafka or l7proto with l7).",
    exactlyOneOf("http", "dns", "kafka", "l7proto"),
  );
}

function tlsContext(description: string): JSONSchemaProps {
  return object(
    {
      secret: secretRef("Secret with the certificates and key (ca.crt, tls.crt, tls.key unless named below)."),
      trustedCA: string("Item name of the trusted CA bundle in the secret."),
      certificate: string("Item name of the certificate chain in the secret."),
      privateKey: string("Item name of the private key in the secret."),
    },
    description,
    { required: ["secret"] },
  );
}

function listener(): JSONSchemaProps {
  return object(
    {
      envoyConfig: object(
        {
          kind: enumOf(ENVOY_CONFIG_KINDS, "Kind of the referenced resource."),
          name: string("Name of the referenced resource.", { minLength: 1 }),
        },
        "The CiliumEnvoyConfig or CiliumClusterwideEnvoyConfig defining the listener.",
        { required: ["name"] },
      ),
      name: string("Listener name within that resource.", { minLength: 1 }),
      priority: integer("Tie-break when several rules name different listeners for the same traffic.", {
        minimum: 1,
        maximum: 100,
      }),
    },
    "Redirect this traffic to a custom Envoy listener.",
    { required: ["envoyConfig", "name"] },
  );
}

/** `toPorts` element of an allow rule: ports plus optional L7 and TLS settings. */
export function portRule(): JSONSchemaProps {
  return object(
    {
      ports: portList(),
      rules: l7Rules(),
      serverNames: array(
        string(undefined, { maxLength: MAX_DNS_NAME_LENGTH, pattern: DNS_WILDCARD_PATTERN }),
        "Allowed TLS SNI names (wildcards as in matchPattern); TLS is then required.",
      ),
      listener: listener(),
      originatingTLS: tlsContext("TLS settings for connections the L7 proxy originates."),
      terminatingTLS: tlsContext("TLS settings for connections the L7 proxy terminates."),
    },
    "Destination ports, optionally with L7 rules. Ports are container ports (after service translation).",
  );
}

/** `toPorts` element of a deny rule: Cilium's deny port type has no L7 rules at all. */
export function portDenyRule(): JSONSchemaProps {
  return object({ ports: portList() }, "Destination ports to deny (no L7 rules in deny policies).");
}

export function icmpRule(): JSONSchemaProps {
  return object(
    {
      fields: array(
        object(
          {
            family: enumOf(ICMP_FAMILIES, "IP family of the ICMP type.", { default: "IPv4" }),
            type: {
              "x-kubernetes-int-or-string": true,
              anyOf: [{ type: "integer" }, { type: "string" }],
              description: "ICMP type: a number 0-255 or a CamelCase name such as EchoRequest.",
              minimum: 0,
              maximum: 255,
              pattern: icmpTypePattern,
            },
          },
          "One ICMP type (codes are not matched).",
          { required: ["type"] },
        ),
        `ICMP types (at most ${MAX_ICMP_FIELDS}).`,
        { maxItems: MAX_ICMP_FIELDS },
      ),
    },
    "ICMP types this element applies to. May not be combined with toPorts in the same element.",
  );
}
