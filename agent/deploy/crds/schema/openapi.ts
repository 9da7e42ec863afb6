/**
 * A small vocabulary for writing structural OpenAPI v3 schemas (the apiextensions.k8s.io/v1 flavour)
 * as code. The CRD YAML files are generated from these builders so the one Cilium rule schema can be
 * reused in CNP/CCNP `spec` and `specs` without hand-copying thousands of lines.
 *
 * Keys use the wire spelling (`x-kubernetes-…`), so a built schema serialises straight to YAML.
 */

export interface ValidationRule {
  rule: string;
  message: string;
  /** Field the error is reported on, relative to the node carrying the rule (e.g. `.nodeSelector`). */
  fieldPath?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
}

export interface JSONSchemaProps {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  format?: string;
  enum?: readonly (string | number | boolean)[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  oneOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  allOf?: JSONSchemaProps[];
  not?: JSONSchemaProps;
  "x-kubernetes-int-or-string"?: true;
  "x-kubernetes-preserve-unknown-fields"?: true;
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: ValidationRule[];
}

type Extra = Omit<JSONSchemaProps, "type" | "description" | "properties" | "items">;

export function string(description?: string, extra: Extra = {}): JSONSchemaProps {
  return { type: "string", ...describe(description), ...extra };
}

export function integer(description?: string, extra: Extra = {}): JSONSchemaProps {
  return { type: "integer", ...describe(description), ...extra };
}

export function boolean(description?: string): JSONSchemaProps {
  return { type: "boolean", ...describe(description) };
}

export function enumOf(values: readonly string[], description?: string, extra: Extra = {}): JSONSchemaProps {
  return string(description, { enum: [...values], ...extra });
}

export function object(
  properties: Record<string, JSONSchemaProps>,
  description?: string,
  extra: Extra = {},
): JSONSchemaProps {
  return { type: "object", ...describe(description), properties, ...extra };
}

export function array(items: JSONSchemaProps, description?: string, extra: Extra = {}): JSONSchemaProps {
  return { type: "array", ...describe(description), items, ...extra };
}

/** A string-keyed map (`map[string]string` by default). */
export function map(description?: string, values: JSONSchemaProps = { type: "string" }): JSONSchemaProps {
  return { type: "object", ...describe(description), additionalProperties: values };
}

/**
 * "Exactly one of these keys is present", written the way Cilium's CRDs do (plain `oneOf` over
 * `required`), because it costs nothing in the API server's CEL budget; schemas nested under
 * unbounded lists cannot afford CEL (see README.md, "Where checks live").
 */
export function exactlyOneOf(...keys: string[]): Pick<JSONSchemaProps, "oneOf"> {
  return { oneOf: keys.map((k) => ({ required: [k] })) };
}

export function describe(description: string | undefined): Pick<JSONSchemaProps, "description"> {
  return description === undefined ? {} : { description };
}
