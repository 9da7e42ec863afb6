/**
 * A static check that a CRD schema is "structural" in the sense kube-apiserver requires, plus the
 * conventions these CRDs keep (no pruning opt-outs, defaults only where the server applies them).
 * It is a fast approximation for unit tests; kube-check/ runs the API server's real validation.
 */
import type { JSONSchemaProps } from "./schema/openapi.js";

const COMBINATORS = ["oneOf", "anyOf", "allOf"] as const;

/** Keys a value validation inside oneOf/anyOf/allOf/not may not set (they would change the structure). */
const FORBIDDEN_IN_COMBINATOR = ["type", "description", "default", "additionalProperties", "nullable", "items"];

export interface StructuralOptions {
  /** Paths (e.g. `.spec.foo`) allowed to carry x-kubernetes-preserve-unknown-fields. Default: none. */
  preserveUnknownAllowed?: readonly string[];
}

/** Problems found in one CRD version's openAPIV3Schema; empty when it looks structural. */
export function structuralProblems(root: JSONSchemaProps, options: StructuralOptions = {}): string[] {
  const problems: string[] = [];
  const allowedPreserve = new Set(options.preserveUnknownAllowed ?? []);

  const visit = (node: JSONSchemaProps, path: string, underPreserve: boolean): void => {
    const at = path === "" ? "<root>" : path;
    const intOrString = node["x-kubernetes-int-or-string"] === true;
    const preserve = node["x-kubernetes-preserve-unknown-fields"] === true;

    if (node.type === undefined && !intOrString && !preserve) problems.push(`${at}: no type`);
    if (intOrString) {
      if (node.type !== undefined) problems.push(`${at}: x-kubernetes-int-or-string with a type`);
      const ok =
        node.anyOf === undefined ||
        (node.anyOf.length === 2 && node.anyOf[0]?.type === "integer" && node.anyOf[1]?.type === "string");
      if (!ok) problems.push(`${at}: x-kubernetes-int-or-string may only carry anyOf [integer, string]`);
    }
    if (preserve && !allowedPreserve.has(path)) problems.push(`${at}: x-kubernetes-preserve-unknown-fields not allowed here`);
    if (node.default !== undefined && underPreserve) problems.push(`${at}: default inside a preserve-unknown-fields subtree`);

    if (node.type === "object") {
      if (node.properties !== undefined && node.additionalProperties !== undefined) {
        problems.push(`${at}: properties and additionalProperties are mutually exclusive`);
      }
      const isRootMetadata = path === ".metadata";
      if (node.properties === undefined && node.additionalProperties === undefined && !preserve && !isRootMetadata) {
        problems.push(`${at}: object without properties or additionalProperties`);
      }
    } else if (node.properties !== undefined || node.additionalProperties !== undefined) {
      problems.push(`${at}: properties on a non-object`);
    }
    if (node.type === "array" && node.items === undefined) problems.push(`${at}: array without items`);
    if (node.type !== "array" && node.items !== undefined) problems.push(`${at}: items on a non-array`);

    if (node["x-kubernetes-list-type"] === "map") {
      const keys = node["x-kubernetes-list-map-keys"] ?? [];
      if (keys.length === 0) problems.push(`${at}: list-type map without list-map-keys`);
      for (const key of keys) {
        const required = node.items?.required ?? [];
        if (!required.includes(key) && node.items?.properties?.[key]?.default === undefined) {
          problems.push(`${at}: list-map key ${key} must be required or defaulted`);
        }
      }
    }
    for (const [i, rule] of (node["x-kubernetes-validations"] ?? []).entries()) {
      if (rule.rule.trim() === "" || rule.message.trim() === "") problems.push(`${at}: x-kubernetes-validations[${i}] needs rule and message`);
    }

    for (const combinator of COMBINATORS) {
      // The int-or-string anyOf is the one place types may appear in a combinator (checked above).
      if (combinator === "anyOf" && intOrString) continue;
      for (const [i, branch] of (node[combinator] ?? []).entries()) {
        checkValueValidation(branch, node, `${at}.${combinator}[${i}]`);
      }
    }
    if (node.not !== undefined) checkValueValidation(node.not, node, `${at}.not`);

    if (path === ".metadata") {
      const extra = Object.keys(node).filter((k) => k !== "type" && k !== "properties");
      const props = Object.keys(node.properties ?? {}).filter((k) => k !== "name" && k !== "generateName");
      if (extra.length > 0 || props.length > 0) problems.push(`${at}: metadata may only restrict name and generateName`);
      return;
    }
    for (const [name, child] of Object.entries(node.properties ?? {})) visit(child, `${path}.${name}`, underPreserve || preserve);
    if (node.additionalProperties !== undefined) visit(node.additionalProperties, `${path}[*]`, underPreserve || preserve);
    if (node.items !== undefined) visit(node.items, `${path}[]`, underPreserve || preserve);
  };

  const checkValueValidation = (branch: JSONSchemaProps, owner: JSONSchemaProps, at: string): void => {
    for (const key of Object.keys(branch)) {
      if (FORBIDDEN_IN_COMBINATOR.includes(key) || key.startsWith("x-kubernetes-")) {
        problems.push(`${at}: ${key} is not allowed inside a value validation`);
      }
    }
    for (const name of [...Object.keys(branch.properties ?? {}), ...(branch.required ?? [])]) {
      if (owner.properties?.[name] === undefined) problems.push(`${at}: refers to ${name}, which the schema does not declare`);
    }
    for (const combinator of COMBINATORS) {
      for (const [i, nested] of (branch[combinator] ?? []).entries()) checkValueValidation(nested, owner, `${at}.${combinator}[${i}]`);
    }
    if (branch.not !== undefined) checkValueValidation(branch.not, owner, `${at}.not`);
  };

  if (root.type !== "object") problems.push("<root>: must be type object");
  visit(root, "", false);
  return problems;
}
