import { existsSync } from "node:fs";
import { basename } from "node:path";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadFixtures } from "./fixtures.js";
import { staleCrdFiles } from "./generate.js";
import { CRD_FILES, CRD_NAMES, loadCrdFile, loadCrds } from "./index.js";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { CrdObject } from "./index.js";
import { compileValidators } from "./json-schema-validator.js";
import type { JSONSchemaProps } from "./schema/openapi.js";
import { structuralProblems } from "./structural.js";
import { ENTITIES, PORT_PROTOCOLS } from "./vocabulary.js";

interface Version {
  name: string;
  served: boolean;
  storage: boolean;
  schema: { openAPIV3Schema: JSONSchemaProps };
  subresources?: { status?: object };
  additionalPrinterColumns?: { name: string; jsonPath: string; priority?: number }[];
}

// Parsing the two 4000-line policy CRDs takes about a second; do it once.
const crds = loadCrds();
// The loader's objects go straight to harness/kube's apply helpers.
const _applicable: readonly KubernetesObject[] = crds;
void _applicable;
const versionsOf = (crd: CrdObject): Version[] => (crd.spec as unknown as { versions: Version[] }).versions;
const schemaOf = (crd: CrdObject): JSONSchemaProps => versionsOf(crd)[0]!.schema.openAPIV3Schema;
const byName = (name: string): CrdObject => {
  const crd = crds.find((c) => c.metadata.name === name);
  assert.ok(crd, `CRD ${name} not loaded`);
  return crd;
};

/** Walks a schema along property names (`[]` steps into items). */
function at(schema: JSONSchemaProps, ...steps: string[]): JSONSchemaProps {
  let node = schema;
  for (const step of steps) {
    const next = step === "[]" ? node.items : node.properties?.[step];
    assert.ok(next, `schema has no ${steps.join(".")}`);
    node = next;
  }
  return node;
}

describe("CRD files", () => {
  it("lists one file per CRD, all present, and the loader parses them", () => {
    assert.equal(CRD_FILES.length, Object.keys(CRD_NAMES).length);
    for (const file of CRD_FILES) assert.ok(existsSync(file), `${file} missing`);
    const names = crds.map((c) => c.metadata.name);
    assert.deepEqual(names, Object.values(CRD_NAMES));
    for (const file of CRD_FILES) assert.equal(`${loadCrdFile(file).metadata.name}.yaml`, basename(file));
  });

  it("are exactly what the schema code generates (run generate.js after editing schema/)", () => {
    assert.deepEqual(staleCrdFiles(), []);
  });

  it("declare the names, scopes and short names users type", () => {
    const expect = [
      [CRD_NAMES.ciliumNetworkPolicy, "CiliumNetworkPolicy", "Namespaced", ["cnp", "ciliumnp"]],
      [CRD_NAMES.ciliumClusterwideNetworkPolicy, "CiliumClusterwideNetworkPolicy", "Cluster", ["ccnp"]],
      [CRD_NAMES.ciliumIdentity, "CiliumIdentity", "Cluster", ["ciliumid"]],
      [CRD_NAMES.ciliumEndpoint, "CiliumEndpoint", "Namespaced", ["cep", "ciliumep"]],
    ] as const;
    for (const [name, kind, scope, shortNames] of expect) {
      const crd = byName(name);
      const names = crd.spec.names as { kind: string; shortNames?: string[]; plural: string };
      assert.equal(crd.spec.group, "cilium.io");
      assert.equal(names.kind, kind);
      assert.equal(crd.spec.scope, scope);
      assert.deepEqual(names.shortNames, [...shortNames]);
      assert.equal(name, `${names.plural}.cilium.io`);
      const versions = versionsOf(crd);
      assert.deepEqual(
        versions.map((v) => [v.name, v.served, v.storage]),
        [["v2", true, true]],
      );
    }
  });

  it("give policies a status subresource and Age/Valid columns; endpoints and identities no subresource", () => {
    for (const name of [CRD_NAMES.ciliumNetworkPolicy, CRD_NAMES.ciliumClusterwideNetworkPolicy]) {
      const v = versionsOf(byName(name))[0]!;
      assert.deepEqual(v.subresources, { status: {} });
      const columns = (v.additionalPrinterColumns ?? []).filter((c) => c.priority === undefined).map((c) => c.name);
      assert.deepEqual(columns, ["Age", "Valid"]);
      assert.ok(v.additionalPrinterColumns?.some((c) => c.jsonPath === ".status.conditions[?(@.type=='Valid')].status"));
      const conditions = at(schemaOf(byName(name)), "status", "conditions");
      assert.equal(conditions["x-kubernetes-list-type"], "map");
      assert.deepEqual(conditions["x-kubernetes-list-map-keys"], ["type"]);
    }
    for (const name of [CRD_NAMES.ciliumEndpoint, CRD_NAMES.ciliumIdentity]) {
      assert.equal(versionsOf(byName(name))[0]!.subresources, undefined);
    }
  });

  it("are structural, with no pruning opt-outs and metadata left to the server", () => {
    for (const crd of crds) {
      assert.deepEqual(structuralProblems(schemaOf(crd)), [], crd.metadata.name);
      assert.deepEqual(schemaOf(crd).properties?.metadata, { type: "object" });
    }
  });

  it("use the vocabulary module's enums, and the same rule schema in spec and specs", () => {
    for (const name of [CRD_NAMES.ciliumNetworkPolicy, CRD_NAMES.ciliumClusterwideNetworkPolicy]) {
      const schema = schemaOf(byName(name));
      assert.deepEqual(at(schema, "spec", "egress", "[]", "toEntities", "[]").enum, [...ENTITIES]);
      assert.deepEqual(at(schema, "spec", "ingressDeny", "[]", "fromEntities", "[]").enum, [...ENTITIES]);
      assert.deepEqual(at(schema, "spec", "ingress", "[]", "toPorts", "[]", "ports", "[]", "protocol").enum, [...PORT_PROTOCOLS]);
      assert.deepEqual(at(schema, "specs", "[]"), { ...at(schema, "spec"), description: at(schema, "specs", "[]").description });
      // Deny rules have neither L7 rules nor toFQDNs upstream; the schema must not invent them.
      assert.equal(at(schema, "spec", "egressDeny", "[]").properties?.toFQDNs, undefined);
      assert.equal(at(schema, "spec", "ingressDeny", "[]", "toPorts", "[]").properties?.rules, undefined);
    }
  });
});

describe("structural checker", () => {
  const base = (spec: JSONSchemaProps): JSONSchemaProps => ({
    type: "object",
    properties: { metadata: { type: "object" }, spec },
  });

  it("accepts a minimal structural schema", () => {
    assert.deepEqual(structuralProblems(base({ type: "object", properties: { a: { type: "string" } } })), []);
  });

  it("reports untyped nodes, bare objects and arrays, and preserve-unknown-fields", () => {
    const problems = structuralProblems(
      base({
        type: "object",
        properties: {
          untyped: { description: "no type" },
          bare: { type: "object" },
          list: { type: "array" },
          loose: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        },
      }),
    );
    assert.deepEqual(problems, [
      ".spec.untyped: no type",
      ".spec.bare: object without properties or additionalProperties",
      ".spec.list: array without items",
      ".spec.loose: x-kubernetes-preserve-unknown-fields not allowed here",
    ]);
  });

  it("reports types and undeclared fields inside oneOf, and metadata restrictions", () => {
    const schema = base({
      type: "object",
      properties: { a: { type: "string" } },
      oneOf: [{ required: ["a"] }, { required: ["b"], type: "object" }],
    });
    schema.properties!.metadata = { type: "object", properties: { labels: { type: "object", additionalProperties: { type: "string" } } } };
    assert.deepEqual(structuralProblems(schema), [
      ".metadata: metadata may only restrict name and generateName",
      ".spec.oneOf[1]: type is not allowed inside a value validation",
      ".spec.oneOf[1]: refers to b, which the schema does not declare",
    ]);
  });
});

describe("CRD schemas against sample objects (ajv approximation)", () => {
  const validators = compileValidators(crds);
  const validatorFor = (object: Record<string, unknown>) => {
    const [group, version] = String(object.apiVersion).split("/");
    const v = validators.get(`${group}/${version}/${String(object.kind)}`);
    assert.ok(v, `no CRD for ${String(object.apiVersion)} ${String(object.kind)}`);
    return v;
  };

  for (const fixture of loadFixtures("good")) {
    it(`accepts ${basename(fixture.file)}`, () => {
      assert.deepEqual(validatorFor(fixture.object).validate(fixture.object), []);
    });
  }

  for (const fixture of loadFixtures("bad")) {
    it(`refuses ${basename(fixture.file)}, naming ${fixture.expectedErrorPaths.join(", ")}`, () => {
      const errors = validatorFor(fixture.object).validate(fixture.object);
      const paths = new Set(errors.map((e) => e.path));
      for (const expected of fixture.expectedErrorPaths) {
        assert.ok(paths.has(expected), `expected an error at ${expected}; got:\n${errors.map((e) => `  ${e.path}: ${e.message}`).join("\n")}`);
      }
    });
  }
});
