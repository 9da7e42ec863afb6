import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { batchBySource, expandStep, nodeIndexesOf } from "./cells.js";
import type { Cell } from "./cells.js";
import { formatPath } from "./errors.js";
import { buildCatalog } from "./fixtures.js";
import { scenarioSchema } from "./schema.js";
import type { Scenario } from "./schema.js";

/** A scenario with the usual fixtures and the given steps (YAML), schema-checked. */
function scenario(stepsYaml: string): Scenario {
  const doc = parse(`
apiVersion: conform.dev/v1alpha1
kind: Scenario
metadata: {name: shop}
spec:
  fixtures:
    pods:
      - {name: frontend, namespace: shop, labels: {app: frontend}, node: 1}
      - {name: backend, namespace: shop, labels: {app: backend}, node: 2, ports: [8080, "9001/udp", {port: 8443, protocol: http, name: web}]}
      - {name: stranger, namespace: other, labels: {app: stranger}}
    services:
      - {name: backend, namespace: shop, selector: {app: backend}, ports: [80, {port: 53, targetPort: 9001, protocol: udp}]}
  steps:
${stepsYaml}`);
  return scenarioSchema.parse(doc);
}

function expand(stepsYaml: string, index = 0) {
  const s = scenario(stepsYaml);
  const { catalog } = buildCatalog(s, []);
  const result = expandStep(s, index, catalog);
  return { ...result, errors: result.errors.map((e) => `${formatPath(e.path)}: ${e.message}`) };
}

const table = (cells: Cell[]) => cells.map((c) => `${c.from} -> ${c.to} = ${c.expected.outcome}${c.expected.by ? ` by ${c.expected.by}` : ""}`);

describe("matrix expansion", () => {
  it("expands rows aligned with `to`, single-value rows and explicit overrides", () => {
    const { cells, errors } = expand(`
    - name: after
      expect:
        matrix:
          to: [shop/backend:8080/tcp, "service:shop/backend:80", "world:203.0.113.10:80"]
          from:
            shop/frontend: ALLOWED
            other/stranger: [{outcome: DROPPED, reason: POLICY_DENIED, by: shop/backend-ingress}, DROPPED, ALLOWED]
        cells:
          - {from: shop/frontend, to: "world:203.0.113.10:80", expect: DROPPED}
          - {from: [shop/frontend, other/stranger], to: shop/backend:9001/udp, expect: TIMEOUT}
`);
    assert.deepEqual(errors, []);
    assert.deepEqual(table(cells), [
      "shop/frontend -> shop/backend:8080/tcp = ALLOWED",
      "shop/frontend -> service:shop/backend:80/tcp = ALLOWED",
      "shop/frontend -> world:203.0.113.10:80/tcp = DROPPED",
      "other/stranger -> shop/backend:8080/tcp = DROPPED by shop/backend-ingress",
      "other/stranger -> service:shop/backend:80/tcp = DROPPED",
      "other/stranger -> world:203.0.113.10:80/tcp = ALLOWED",
      "shop/frontend -> shop/backend:9001/udp = TIMEOUT",
      "other/stranger -> shop/backend:9001/udp = TIMEOUT",
    ]);
    assert.equal(cells[3]!.id, "shop/after: other/stranger -> shop/backend:8080/tcp");
    assert.deepEqual(cells[3]!.expected, { outcome: "DROPPED", reason: "POLICY_DENIED", by: "shop/backend-ingress" });
    assert.equal(formatPath(cells[3]!.specPath), 'spec.steps[0].expect.matrix.from["other/stranger"][0]');
    assert.equal(formatPath(cells[2]!.specPath), "spec.steps[0].expect.cells[0].expect");
    assert.deepEqual(cells[1]!.target, { kind: "service", namespace: "shop", name: "backend", port: 80, protocol: "tcp" });
    assert.deepEqual(cells[2]!.target, { kind: "world", host: "203.0.113.10", port: 80, protocol: "tcp" });
  });

  it("expands a pod or service without a port into all its ports, with their protocols", () => {
    const { cells, errors } = expand(`
    - expect:
        matrix: {from: [shop/frontend], to: [shop/backend, "service:shop/backend"], default: ALLOWED}
`);
    assert.deepEqual(errors, []);
    assert.deepEqual(
      cells.map((c) => c.to),
      ["shop/backend:8080/tcp", "shop/backend:9001/udp", "shop/backend:8443/http", "service:shop/backend:80/tcp", "service:shop/backend:53/udp"],
    );
    assert.deepEqual(cells[2]!.target.http, { method: "GET", path: "/" });
    assert.equal(cells[0]!.id, "shop/steps[0]: shop/frontend -> shop/backend:8080/tcp");
  });

  it("takes the declared protocol for a bare port and keeps http requests", () => {
    const { cells, errors } = expand(`
    - expect:
        matrix:
          from: [shop/frontend]
          default: L7_DENIED
          to: ["shop/backend:9001", "shop/backend:8443", "shop/backend:8443/http POST /admin", "shop/backend:8443/tcp"]
`);
    assert.deepEqual(errors, []);
    assert.deepEqual(cells.map((c) => c.to), ["shop/backend:9001/udp", "shop/backend:8443/http", "shop/backend:8443/http POST /admin", "shop/backend:8443/tcp"]);
    assert.deepEqual(cells[2]!.target.http, { method: "POST", path: "/admin" });
  });

  it("gives stable ids: the same spec expands to the same ids in any run", () => {
    const yaml = `
    - name: probe
      expect:
        matrix: {from: [other/stranger, shop/frontend], to: [shop/backend], default: DROPPED}
`;
    assert.deepEqual(expand(yaml).cells.map((c) => c.id), expand(yaml).cells.map((c) => c.id));
    assert.equal(new Set(expand(yaml).cells.map((c) => c.id)).size, 6);
  });

  it("reports rows of the wrong length, missing expectations and duplicates", () => {
    const { errors } = expand(`
    - expect:
        matrix:
          to: [shop/backend:8080, shop/backend:8080/tcp]
          from:
            shop/frontend: [ALLOWED]
    - expect:
        matrix: {from: [shop/frontend, shop/frontend], to: [shop/backend:8080]}
`);
    assert.deepEqual(errors, [
      "spec.steps[0].expect.matrix.to[1]: destination shop/backend:8080/tcp appears twice",
      'spec.steps[0].expect.matrix.from["shop/frontend"]: row has 1 entry but `to` has 2',
    ]);
    assert.deepEqual(expand(`
    - expect: {matrix: {from: [shop/frontend], to: [shop/backend:8080]}}
    - expect:
        matrix: {from: [shop/frontend, shop/frontend], to: [shop/backend:8080], default: ALLOWED}
`, 1).errors, ["spec.steps[1].expect.matrix.from[1]: source shop/frontend appears twice"]);
    assert.deepEqual(expand(`
    - expect: {matrix: {from: [shop/frontend], to: [shop/backend:8080]}}
`).errors, ["spec.steps[0].expect.matrix.from[0]: no expectation for shop/frontend -> shop/backend:8080/tcp (give the row a value, set matrix.default, or add it to cells)"]);
  });

  it("reports destinations the fixtures cannot serve", () => {
    const { errors } = expand(`
    - expect:
        matrix:
          from: [shop/frontend]
          default: ALLOWED
          to: ["shop/backend:9001/tcp", "shop/backend:8080/http", "service:shop/backend:81", "service:shop/gone:80", "other/stranger", "world:198.51.100.1:80", "sideways:x"]
`);
    assert.deepEqual(errors, [
      "spec.steps[0].expect.matrix.to[0]: pod shop/backend does not serve 9001/tcp (it serves 8080/tcp, 9001/udp, 8443/http); add it to the pod's ports",
      "spec.steps[0].expect.matrix.to[1]: pod shop/backend does not serve 8080/http (it serves 8080/tcp, 9001/udp, 8443/http); add it to the pod's ports",
      "spec.steps[0].expect.matrix.to[2]: service shop/backend has no port 81/tcp (it has 80/tcp, 53/udp)",
      'spec.steps[0].expect.matrix.to[3]: service "shop/gone" is not in fixtures (fixture services: shop/backend)',
      "spec.steps[0].expect.matrix.to[4]: pod other/stranger declares no ports; name one (e.g. other/stranger:8080/tcp)",
      'spec.steps[0].expect.matrix.to[5]: "world:198.51.100.1:80": world addresses must be inside 203.0.113.0/24',
      'spec.steps[0].expect.matrix.to[6]: "sideways:x" is not a destination (expected e.g. shop/backend:8080/tcp, service:shop/api:80, world:api.example.test:443, host:10250)',
    ]);
  });

  it("normalises flow expectations", () => {
    const { flows, errors } = expand(`
    - expect:
        flows:
          - {name: denied, from: other/stranger, to: shop/backend:8080, verdict: DROPPED, reason: POLICY_DENIED, by: shop/p}
          - {to: "world:api.example.test:443", count: {max: 0}}
`);
    assert.deepEqual(errors, []);
    assert.equal(flows[0]!.id, "shop/steps[0]: flow denied");
    assert.deepEqual(flows[0]!.from, { namespace: "other", name: "stranger" });
    assert.deepEqual(flows[0]!.count, { min: 1 });
    assert.equal(flows[0]!.by, "shop/p");
    assert.deepEqual(flows[1]!.count, { min: 0, max: 0 });
    assert.equal(flows[1]!.name, "flows[1]");
  });
});

describe("batchBySource", () => {
  it("groups a step's cells into one batch per source pod, in first-seen order", () => {
    const { cells } = expand(`
    - expect:
        matrix: {from: [shop/frontend, other/stranger], to: [shop/backend:8080, "world:203.0.113.9:53/udp"], default: ALLOWED}
        cells: [{from: shop/frontend, to: shop/backend:9001, expect: DROPPED}]
`);
    const batches = batchBySource(cells);
    assert.deepEqual(batches.map((b) => [b.from, b.cells.map((c) => c.to)]), [
      ["shop/frontend", ["shop/backend:8080/tcp", "world:203.0.113.9:53/udp", "shop/backend:9001/udp"]],
      ["other/stranger", ["shop/backend:8080/tcp", "world:203.0.113.9:53/udp"]],
    ]);
    assert.deepEqual(batches[1]!.source, { namespace: "other", name: "stranger" });
  });
});

describe("node indexes named by targets", () => {
  it("node:<n> and health:<n> raise the node requirement; apiserver names no node", () => {
    const cell = (target: Cell["target"]) => ({ target }) as Cell;
    const cells = [cell({ kind: "node", index: 2, port: 80, protocol: "tcp" }), cell({ kind: "health", index: 3, port: 4240, protocol: "tcp" }), cell({ kind: "apiserver", port: 6443, protocol: "tcp" })];
    assert.deepEqual(nodeIndexesOf(cells), [2, 3]);
  });
});
