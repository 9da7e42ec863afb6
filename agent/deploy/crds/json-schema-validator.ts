/**
 * Validates custom objects against a CRD schema in-process with ajv, approximating what the API
 * server does: types, enums, patterns, formats, bounds, oneOf, unknown fields (refused, as under
 * kubectl's default strict field validation) and this project's CEL rules through hand-written
 * JSON Schema equivalents. Errors carry Kubernetes-style field paths. Test tooling: the runtime
 * never imports this (ajv is a dev dependency); kube-check/ is the authoritative check.
 */
import { isIP, isIPv4, isIPv6 } from "node:net";
import { Ajv } from "ajv";
import type { ErrorObject, ValidateFunction } from "ajv";
import type { CrdObject } from "./index.js";
import type { JSONSchemaProps } from "./schema/openapi.js";
import { RULE_VALIDATIONS } from "./schema/rule.js";

type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema equivalents of the CRDs' CEL rules. A CEL rule missing here makes conversion throw,
 * so a new rule cannot silently go untested.
 */
const CEL_EQUIVALENTS = new Map<string, JsonSchema>([
  [RULE_VALIDATIONS[0]!.rule, { oneOf: [{ required: ["endpointSelector"] }, { required: ["nodeSelector"] }] }],
  [
    RULE_VALIDATIONS[1]!.rule,
    { anyOf: ["ingress", "ingressDeny", "egress", "egressDeny"].map((k) => ({ required: [k] })) },
  ],
]);

const DROPPED_KEYS = new Set(["description", "x-kubernetes-map-type", "x-kubernetes-list-type", "x-kubernetes-list-map-keys"]);

/** Converts one structural schema node to a JSON Schema ajv understands. */
export function toJsonSchema(node: JSONSchemaProps): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYS.has(key) || value === undefined) continue;
    switch (key) {
      case "properties":
        out.properties = Object.fromEntries(
          Object.entries(value as Record<string, JSONSchemaProps>).map(([k, v]) => [k, toJsonSchema(v)]),
        );
        break;
      case "items":
      case "additionalProperties":
      case "not":
        out[key] = toJsonSchema(value as JSONSchemaProps);
        break;
      case "oneOf":
      case "anyOf":
      case "allOf":
        out[key] = (value as JSONSchemaProps[]).map(toJsonSchema);
        break;
      case "x-kubernetes-int-or-string":
        out.type = ["integer", "string"];
        break;
      case "x-kubernetes-preserve-unknown-fields":
        break;
      case "x-kubernetes-validations": {
        const equivalents = (value as { rule: string }[]).map(({ rule }) => {
          const equivalent = CEL_EQUIVALENTS.get(rule);
          if (equivalent === undefined) throw new Error(`no JSON Schema equivalent for CEL rule: ${rule}`);
          return equivalent;
        });
        out.allOf = [...((out.allOf as JsonSchema[] | undefined) ?? []), ...equivalents];
        break;
      }
      default:
        out[key] = value;
    }
  }
  // int-or-string nodes spell their union with anyOf; the type array above already says it.
  if (node["x-kubernetes-int-or-string"] === true) delete out.anyOf;
  // Structural schemas know every field: anything else is an unknown field.
  if (node.properties !== undefined && node.additionalProperties === undefined && node["x-kubernetes-preserve-unknown-fields"] !== true) {
    out.additionalProperties = false;
  }
  return out;
}

function isCidr(value: string): boolean {
  const slash = value.indexOf("/");
  if (slash < 0) return false;
  const addr = value.slice(0, slash);
  const len = value.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(len)) return false;
  const family = isIP(addr);
  return family !== 0 && Number(len) <= (family === 4 ? 32 : 128);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function makeAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    // Union types are how int-or-string is spelled; oneOf branches name fields declared by their parent.
    strictTypes: false,
    strictRequired: false,
  });
  ajv.addFormat("cidr", isCidr);
  ajv.addFormat("ipv4", (v: string) => isIPv4(v));
  ajv.addFormat("ipv6", (v: string) => isIPv6(v));
  ajv.addFormat("date-time", RFC3339);
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
  return ajv;
}

export interface SchemaError {
  /** Kubernetes-style path of the offending field, e.g. `spec.ingress[0].toPorts`. */
  path: string;
  message: string;
}

/** Turns an ajv instance path into Kubernetes notation, using the data to tell indices from keys. */
function kubePath(object: unknown, instancePath: string, child?: string): string {
  let path = "";
  let current: unknown = object;
  const segments = instancePath === "" ? [] : instancePath.slice(1).split("/");
  if (child !== undefined) segments.push(child);
  for (const raw of segments) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(current)) {
      path += `[${segment}]`;
      current = current[Number(segment)];
    } else {
      path += path === "" ? segment : `.${segment}`;
      current = current !== null && typeof current === "object" ? (current as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}

function toSchemaError(object: unknown, e: ErrorObject): SchemaError {
  const params = e.params as { missingProperty?: string; additionalProperty?: string };
  if (e.keyword === "required" && params.missingProperty !== undefined) {
    return { path: kubePath(object, e.instancePath, params.missingProperty), message: "Required value" };
  }
  if (e.keyword === "additionalProperties" && params.additionalProperty !== undefined) {
    return { path: kubePath(object, e.instancePath, params.additionalProperty), message: "unknown field" };
  }
  return { path: kubePath(object, e.instancePath), message: e.message ?? e.keyword };
}

export interface CrdValidators {
  /** Validates an object of this CRD's kind; returns [] when it is valid. */
  validate(object: Record<string, unknown>): SchemaError[];
}

/** One validator per `apiVersion/kind` served by the given CRDs. */
export function compileValidators(crds: readonly CrdObject[]): Map<string, CrdValidators> {
  const ajv = makeAjv();
  const validators = new Map<string, CrdValidators>();
  for (const crd of crds) {
    const spec = crd.spec as unknown as {
      group: string;
      names: { kind: string };
      versions: { name: string; schema: { openAPIV3Schema: JSONSchemaProps } }[];
    };
    for (const version of spec.versions) {
      const schema = toJsonSchema(version.schema.openAPIV3Schema);
      // The server fills apiVersion/kind/metadata itself; only their shape is checked here.
      const validateFn: ValidateFunction = ajv.compile(schema);
      validators.set(`${spec.group}/${version.name}/${spec.names.kind}`, {
        validate(object) {
          return validateFn(object) ? [] : (validateFn.errors ?? []).map((e) => toSchemaError(object, e));
        },
      });
    }
  }
  return validators;
}
