import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { formatSpecError } from "./errors.js";
import { fixtureObjects, loadScenarios, loadScenariosOrThrow, loadScenarioText, scenarioCells } from "./loader.js";

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const TESTDATA = join(REPO_ROOT, "harness", "spec", "testdata");

const tmpRoots: string[] = [];
after(() => tmpRoots.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Writes files into a fresh temp dir and returns it. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "cft-spec-"));
  tmpRoots.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** Loads YAML text as if it were `<tmp>/scenario.yaml` and returns the printed errors. */
function errorsOf(text: string, extraFiles: Record<string, string> = {}): string[] {
  const dir = tree({ "scenario.yaml": text, ...extraFiles });
  return loadScenarios(["scenario.yaml"], { cwd: dir }).errors.map(formatSpecError);
}

const lines = (...l: string[]) => `${l.join("\n")}\n`;

const HEADER = ["apiVersion: conform.dev/v1alpha1", "kind: Scenario", "metadata: {name: t}", "spec:"];
const FIXTURES = [
  "  fixtures:",
  "    pods:",
  "      - {name: frontend, namespace: shop, labels: {app: frontend}}",
  "      - {name: backend, namespace: shop, labels: {app: backend}, ports: [8080]}",
];

describe("loader: valid scenarios", () => {
  it("loads every scenario of a directory and resolves references", () => {
    const result = loadScenarios(["valid"], { cwd: TESTDATA });
    assert.deepEqual(result.errors.map(formatSpecError), []);
    assert.deepEqual(result.files, ["valid/backend-ingress.yaml"]);
    assert.deepEqual(result.scenarios.map((s) => s.name), ["backend-ingress-from-frontend", "gitops-folder-as-is"]);

    const [first, second] = result.scenarios;
    assert.equal(first!.file, "valid/backend-ingress.yaml");
    assert.equal(first!.line, 2);
    assert.deepEqual(first!.requirements, { nodes: 2 });
    assert.equal(first!.timeouts.probe, 2000);
    assert.equal(first!.timeouts.convergence, 30_000);
    assert.deepEqual(first!.steps.map((s) => `${s.kind}:${s.key}`), ["expect:before-policy", "apply:steps[1]", "wait:steps[2]", "expect:after-policy", "delete:steps[4]"]);
    const apply = first!.steps[1]!;
    assert.ok(apply.kind === "apply");
    assert.deepEqual(apply.manifests.map((m) => [m.object.kind, m.object.metadata.name, m.source.file, m.source.line]), [
      ["CiliumNetworkPolicy", "backend-ingress", "valid/policies/backend-ingress.yaml", 1],
    ]);
    const wait = first!.steps[2]!;
    assert.ok(wait.kind === "wait" && wait.for === "policy-converged" && wait.timeoutMs === 30_000);
    assert.match(first!.manifestDigest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(scenarioCells(first!).length, 11);

    // The GitOps folder is applied as it is: every manifest, kustomization.yaml skipped.
    assert.deepEqual(second!.requirements, { routingMode: "native", encryption: "wireguard", nodes: 1 });
    const gitops = second!.steps[0]!;
    assert.ok(gitops.kind === "apply");
    assert.deepEqual(gitops.manifests.map((m) => `${m.object.kind}/${m.object.metadata.name}@${m.source.file}:${m.source.line}`), [
      "Namespace/app@valid/gitops/app/pod.yaml:1",
      "Pod/client@valid/gitops/app/pod.yaml:5",
      "NetworkPolicy/default-deny@valid/gitops/app/policy.yaml:1",
    ]);
    // A pod from plain fixture manifests can be named in cells.
    assert.deepEqual(scenarioCells(second!).map((c) => c.id), ["gitops-folder-as-is/steps[1]: app/client -> app/client:8080/http GET /healthz"]);
    assert.deepEqual(fixtureObjects(second!).map((o) => `${o.kind}/${o.metadata.name}`), ["Namespace/app", "Pod/client"]);
  });

  it("keeps the manifest digest stable and sensitive to what is applied", () => {
    const dir = tree({
      "s.yaml": lines(...HEADER, ...FIXTURES, "  steps:", "    - apply: p.yaml"),
      "p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata: {a: '1'}\n",
    });
    const digest = () => loadScenariosOrThrow(["s.yaml"], { cwd: dir })[0]!.manifestDigest;
    const before = digest();
    assert.equal(digest(), before);
    // Formatting and comments do not change it; content does.
    writeFileSync(join(dir, "p.yaml"), "# comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: shop\n  name: c\ndata:\n  a: '1'\n");
    assert.equal(digest(), before);
    writeFileSync(join(dir, "p.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata: {a: '2'}\n");
    assert.notEqual(digest(), before);
  });

  it("prints paths the way they were given", () => {
    const result = loadScenarios([join(TESTDATA, "typo-from.yaml")], { cwd: "/" });
    assert.equal(result.errors[0]!.file, join(TESTDATA, "typo-from.yaml"));
    const relative = loadScenarios(["typo-from.yaml"], { cwd: TESTDATA });
    assert.equal(relative.errors[0]!.file, "typo-from.yaml");
  });
});

describe("loader: errors name file, line and field", () => {
  it("reports a typo'd field exactly, without a second error for the field it replaced", () => {
    const result = loadScenarios(["typo-from.yaml"], { cwd: TESTDATA });
    assert.deepEqual(result.errors.map(formatSpecError), ["typo-from.yaml:14: spec.steps[1].expect.matrix.form: unknown field"]);
    assert.equal(result.errors[0]!.column, 11);
    assert.equal(result.scenarios.length, 0);
  });

  it("reports invalid YAML with line, column and the parser's message", () => {
    const errors = errorsOf(lines(...HEADER, "  steps:", "    - apply: [a.yaml", "    - wait: {for: pods-ready}"));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^scenario\.yaml:7:\d+: Flow sequence in block collection must be sufficiently indented and end with a \]$/);
    const dup = errorsOf(lines(...HEADER, "  steps: []", "  steps: []"));
    assert.deepEqual(dup, ["scenario.yaml:6:3: Map keys must be unique"]);
  });

  it("reports unknown fields at the key, in block and flow style, all in one pass", () => {
    const errors = errorsOf(
      lines(
        ...HEADER,
        "  fixtures:",
        "    pods:",
        "      - {name: a, namespace: shop, lables: {app: a}}",
        "  steps:",
        "    - wait: {for: pods-ready}",
        "      colour: blue",
      ),
    );
    assert.deepEqual(errors, ["scenario.yaml:7: spec.fixtures.pods[0].lables: unknown field", "scenario.yaml:10: spec.steps[0].colour: unknown field"]);
  });

  it("reports wrong types with what was found", () => {
    const errors = errorsOf(lines(...HEADER, "  requirements:", '    nodes: "two"', "    kubeProxyReplacement: yes please", "  steps:", "    - wait: pods-ready"));
    assert.deepEqual(errors, [
      'scenario.yaml:6: spec.requirements.nodes: expected a number, got "two"',
      'scenario.yaml:7: spec.requirements.kubeProxyReplacement: expected true or false, got "yes please"',
      'scenario.yaml:9: spec.steps[0].wait: expected a map, got "pods-ready"',
    ]);
  });

  it("reports missing required fields at their parent", () => {
    const errors = errorsOf(lines("apiVersion: conform.dev/v1alpha1", "kind: Scenario", "metadata:", "  description: no name", "spec:", "  steps:", "    - expect:", "        matrix:", "          to: [shop/backend]"));
    assert.deepEqual(errors, [
      "scenario.yaml:3: metadata.name: missing required field",
      "scenario.yaml:8: spec.steps[0].expect.matrix.from: missing required field",
    ]);
  });

  it("reports a bad outcome name with the valid ones", () => {
    const errors = errorsOf(lines(...HEADER, ...FIXTURES, "  steps:", "    - expect:", "        matrix:", "          to: [shop/backend:8080]", "          from: {shop/frontend: BLOCKED}"));
    assert.deepEqual(errors, [
      'scenario.yaml:13: spec.steps[0].expect.matrix.from["shop/frontend"]: expected one of ALLOWED, DROPPED, REJECTED, L7_DENIED, DNS_FAILED, TIMEOUT, PROBE_ERROR, got "BLOCKED"',
    ]);
    const objectForm = errorsOf(lines(...HEADER, ...FIXTURES, "  steps:", "    - expect:", "        cells:", "          - {from: shop/frontend, to: shop/backend:8080, expect: {outcome: DENIED, by: shop/x}}"));
    assert.match(objectForm[0]!, /^scenario\.yaml:12: spec\.steps\[0\]\.expect\.cells\[0\]\.expect\.outcome: expected one of ALLOWED, /);
  });

  it("reports pods a matrix names that are not in the fixtures, with their path", () => {
    const errors = errorsOf(
      lines(...HEADER, ...FIXTURES, "  steps:", "    - expect:", "        matrix:", "          to: [shop/backend:8080, shop/bakend:8080]", "          from:", "            shop/frontend: ALLOWED", "            shop/nobody: DROPPED"),
    );
    assert.deepEqual(errors, [
      'scenario.yaml:12: spec.steps[0].expect.matrix.to[1]: pod "shop/bakend" is not in fixtures (fixture pods: shop/frontend, shop/backend)',
      'scenario.yaml:15: spec.steps[0].expect.matrix.from["shop/nobody"]: pod "shop/nobody" is not in fixtures (fixture pods: shop/frontend, shop/backend)',
    ]);
  });

  it("checks expectations against the outcome taxonomy", () => {
    const errors = errorsOf(
      lines(
        ...HEADER,
        ...FIXTURES,
        "  steps:",
        "    - expect:",
        "        cells:",
        "          - {from: shop/frontend, to: shop/backend:8080, expect: PROBE_ERROR}",
        "          - {from: shop/frontend, to: shop/backend:8080, expect: {outcome: ALLOWED, reason: POLICY_DENIED}}",
        "          - {from: shop/frontend, to: shop/backend:8080, expect: {outcome: TIMEOUT, by: shop/p}}",
      ),
    );
    assert.deepEqual(errors, [
      "scenario.yaml:12: spec.steps[0].expect.cells[0].expect: PROBE_ERROR cannot be expected: it marks a probe that could not run (inconclusive)",
      "scenario.yaml:13: spec.steps[0].expect.cells[1].expect.reason: a drop reason needs outcome DROPPED, not ALLOWED",
      "scenario.yaml:14: spec.steps[0].expect.cells[2].expect.by: no flow names a policy for TIMEOUT; use DROPPED, ALLOWED, REJECTED, L7_DENIED or DNS_FAILED",
    ]);
    // Schema errors come first: cross-checks run once the document has the right shape.
    const shape = errorsOf(lines(...HEADER, ...FIXTURES, "  steps:", "    - expect:", "        cells:", "          - {from: shop/frontend, to: shop/backend:8080, expect: {outcome: DROPPED, by: Shop/P}}"));
    assert.deepEqual(shape, ['scenario.yaml:12: spec.steps[0].expect.cells[0].expect.by: must be "<namespace>/<policy>" or "<clusterwide-policy>"']);
  });

  it("reports step shape problems", () => {
    const errors = errorsOf(lines(...HEADER, "  steps:", "    - {}", "    - apply: a.yaml", "      delete: a.yaml", "    - expect: {}", "    - {name: x, wait: {for: pods-ready}}", "    - {name: x, wait: {for: pods-ready}, timeout: 5 min}"), {
      "a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    });
    assert.deepEqual(errors, [
      "scenario.yaml:6: spec.steps[0]: needs one of apply, delete, wait, expect",
      "scenario.yaml:7: spec.steps[1]: has apply and delete; a step does exactly one thing",
      "scenario.yaml:9: spec.steps[2].expect: needs at least one of matrix, cells, flows",
      "scenario.yaml:11: spec.steps[4].timeout: must be a duration such as 500ms, 3s or 2m",
    ]);
    const dupName = errorsOf(lines(...HEADER, "  steps:", "    - {name: x, wait: {for: pods-ready}}", "    - {name: x, wait: {for: pods-ready}}"));
    assert.deepEqual(dupName, ['scenario.yaml:7: spec.steps[1].name: duplicate step name "x" (also steps[0])']);
  });

  it("parses referenced manifests and names their file and line", () => {
    const errors = errorsOf(lines(...HEADER, "  steps:", "    - apply: [policies, missing.yaml, {apiVersion: v1, kind: ConfigMap, metadata: {name: inline}}]", "    - delete: broken.yaml"), {
      "policies/a.yaml": lines("apiVersion: cilium.io/v2", "kind: CiliumNetworkPolicy", "metadata: {name: ok, namespace: shop}", "---", "kind: CiliumNetworkPolicy", "metadata: {namespace: shop}"),
      "policies/b.yml": lines("apiVersion: v1", "kind: List", "items:", "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}", "  - {apiVersion: v1, metadata: {name: y}}"),
      "broken.yaml": "apiVersion: v1\nkind: [x\n",
    });
    assert.deepEqual(errors, [
      "scenario.yaml:6: spec.steps[0].apply[1]: no such file or directory: missing.yaml",
      "policies/a.yaml:5: apiVersion: missing required field",
      "policies/a.yaml:6: metadata.name: missing required field",
      "policies/b.yml:5: items[1].kind: missing required field",
      "broken.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
    const inline = errorsOf(lines(...HEADER, "  steps:", "    - apply:", "        - {apiVersion: v1, kind: ConfigMap, metadata: {namespace: x}}"));
    assert.deepEqual(inline, ["scenario.yaml:7: spec.steps[0].apply[0].metadata.name: missing required field"]);
  });

  it("rejects a scenario file or document that is not a Scenario", () => {
    const errors = errorsOf(lines(...HEADER, "  steps: [{wait: {for: pods-ready}}]", "---", "apiVersion: v1", "kind: ConfigMap", "metadata: {name: c}", "---", "apiVersion: conform.dev/v1alpha2", "kind: Scenaro", "metadata: {name: u}", "spec: {steps: [{wait: {for: pods-ready}}]}"));
    assert.deepEqual(errors, [
      "scenario.yaml:7: a scenario file may only hold Scenario documents; put Kubernetes manifests in their own files and reference them",
      'scenario.yaml:11: apiVersion: expected "conform.dev/v1alpha1", got "conform.dev/v1alpha2"',
      'scenario.yaml:12: kind: expected "Scenario", got "Scenaro"',
    ]);
    const dir = tree({ "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n" });
    assert.deepEqual(loadScenarios(["cm.yaml", "nope.yaml", "."], { cwd: dir }).errors.map(formatSpecError), [
      "cm.yaml:1: no Scenario documents (expected kind: Scenario, apiVersion: conform.dev/v1alpha1)",
      "nope.yaml: no such file or directory",
      ".: no Scenario documents found (in *.yaml/*.yml files)",
    ]);
  });

  it("reports duplicate scenario names across files", () => {
    const doc = lines(...HEADER, "  steps: [{wait: {for: pods-ready}}]");
    const dir = tree({ "a.yaml": doc, "sub/b.yaml": `# second\n${doc}` });
    assert.deepEqual(loadScenarios(["."], { cwd: dir }).errors.map(formatSpecError), ['sub/b.yaml:2: metadata.name: duplicate scenario name "t" (also a.yaml:1)']);
  });

  it("accepts anchors and merge keys, and still checks merged maps strictly", () => {
    const doc = (extra: string) =>
      lines(...HEADER, "  fixtures:", "    pods:", "      - &base {name: a, namespace: shop, labels: {app: a}, ports: [80]}", `      - {<<: *base, name: b${extra}}`, "  steps:", "    - expect: {matrix: {from: [shop/a], to: [shop/b], default: ALLOWED}}");
    assert.deepEqual(errorsOf(doc("")), []);
    assert.deepEqual(errorsOf(doc(", colour: red")), ["scenario.yaml:8: spec.fixtures.pods[1].colour: unknown field"]);
  });

  it("throws every error at once from loadScenariosOrThrow", () => {
    assert.throws(() => loadScenariosOrThrow(["typo-from.yaml"], { cwd: TESTDATA }), /typo-from\.yaml:14: spec\.steps\[1\]\.expect\.matrix\.form: unknown field/);
  });

  it("loads from text with loadScenarioText", () => {
    const result = loadScenarioText(lines(...HEADER, ...FIXTURES, "  steps:", "    - apply: valid/policies/backend-ingress.yaml", "    - expect: {cells: [{from: shop/frontend, to: shop/backend, expect: ALLOWED}]}"), join(TESTDATA, "inline.yaml"), "inline.yaml");
    assert.deepEqual(result.errors, []);
    const apply = result.scenarios[0]!.steps[0]!;
    assert.ok(apply.kind === "apply");
    assert.equal(apply.manifests[0]!.source.file, "valid/policies/backend-ingress.yaml");
    const bad = loadScenarioText(lines(...HEADER, "  steps: [{apply: nope.yaml}]"), join(TESTDATA, "inline.yaml"), "inline.yaml");
    assert.deepEqual(bad.errors.map(formatSpecError), ["inline.yaml:5: spec.steps[0].apply: no such file or directory: nope.yaml"]);
  });
});
