import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { parseDuration, formatDuration } from "./duration.js";
import { buildCatalog, expandFixtures, NODE_INDEX_LABEL, PROBE_IMAGE, probeServerArgs, SCENARIO_ANNOTATION } from "./fixtures.js";
import type { KubeManifest } from "./manifests.js";
import { scenarioSchema } from "./schema.js";

const spec = scenarioSchema.parse(
  parse(`
apiVersion: conform.dev/v1alpha1
kind: Scenario
metadata: {name: fx}
spec:
  fixtures:
    namespaces:
      - {name: shop, labels: {team: shop}}
    pods:
      - {name: backend, namespace: shop, labels: {app: backend}, node: 2, ports: [8080, "9001/udp", {port: 8443, protocol: http, name: web}]}
      - {name: client, labels: {app: client}}
      - {name: tool, namespace: tools}
    services:
      - {name: backend, namespace: shop, selector: {app: backend}, ports: [80, {port: 53, targetPort: 9001, protocol: udp}]}
      - {name: one, namespace: shop, type: NodePort, selector: {app: backend}, ports: [{port: 8443, targetPort: web, nodePort: 30443}]}
  steps: [{wait: {for: pods-ready}}]
`),
);

describe("fixture short form", () => {
  it("builds probe server args from the declared ports", () => {
    assert.deepEqual(probeServerArgs([]), ["serve"]);
    assert.deepEqual(probeServerArgs([{ port: 8080, protocol: "tcp" }, { port: 9001, protocol: "udp" }, { port: 8443, protocol: "http" }]), ["serve", "--tcp", "8080", "--udp", "9001", "--http", "8443"]);
  });

  it("expands into real Kubernetes manifests in apply order", () => {
    const objects = expandFixtures(spec);
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`), [
      "Namespace//shop",
      "Namespace//tools",
      "Service/shop/backend",
      "Service/shop/one",
      "Pod/shop/backend",
      "Pod/default/client",
      "Pod/tools/tool",
    ]);
    assert.deepEqual(objects[0], { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop", labels: { team: "shop" }, annotations: { [SCENARIO_ANNOTATION]: "fx" } } });
    assert.deepEqual(objects[4], {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "backend", namespace: "shop", labels: { app: "backend" }, annotations: { [SCENARIO_ANNOTATION]: "fx" } },
      spec: {
        nodeSelector: { [NODE_INDEX_LABEL]: "2" },
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: "probe",
            image: PROBE_IMAGE,
            args: ["serve", "--tcp", "8080", "--udp", "9001", "--http", "8443"],
            ports: [
              { containerPort: 8080, protocol: "TCP" },
              { containerPort: 9001, protocol: "UDP" },
              { name: "web", containerPort: 8443, protocol: "TCP" },
            ],
          },
        ],
      },
    });
    assert.deepEqual(objects[2]!.spec, {
      type: "ClusterIP",
      selector: { app: "backend" },
      ports: [
        { name: "tcp-80", port: 80, targetPort: 80, protocol: "TCP" },
        { name: "udp-53", port: 53, targetPort: 9001, protocol: "UDP" },
      ],
    });
    assert.deepEqual(objects[3]!.spec, { type: "NodePort", selector: { app: "backend" }, ports: [{ port: 8443, targetPort: "web", protocol: "TCP", nodePort: 30443 }] });
    assert.deepEqual((objects[5]!.spec as Record<string, unknown>).containers, [{ name: "probe", image: PROBE_IMAGE, args: ["serve"] }]);
  });

  it("binds pods to nodes by name when the runner knows them", () => {
    const pod = expandFixtures(spec, [], { nodeNames: ["conform-node-1", "conform-node-2"] }).find((o) => o.metadata.name === "backend" && o.kind === "Pod")!;
    assert.equal((pod.spec as Record<string, unknown>).nodeName, "conform-node-2");
    assert.equal((pod.spec as Record<string, unknown>).nodeSelector, undefined);
  });

  it("does not create namespaces that plain manifests or the cluster already provide", () => {
    const plain: KubeManifest[] = [{ object: { apiVersion: "v1", kind: "Namespace", metadata: { name: "tools" } }, source: { file: "x.yaml", line: 1 } }];
    const objects = expandFixtures(spec, plain);
    assert.deepEqual(objects.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name), ["shop", "tools"]);
    assert.equal(objects[1], plain[0]!.object);
    assert.ok(!objects.some((o) => o.kind === "Namespace" && o.metadata.name === "default"));
  });

  it("catalogs short-form and plain-manifest pods and services", () => {
    const plain: KubeManifest[] = [
      {
        object: { apiVersion: "v1", kind: "Pod", metadata: { name: "legacy", namespace: "shop", labels: { app: "legacy" } }, spec: { containers: [{ name: "c", ports: [{ containerPort: 53, protocol: "UDP" }] }] } },
        source: { file: "x.yaml", line: 1 },
      },
    ];
    const { catalog, errors } = buildCatalog(spec, plain);
    assert.deepEqual(errors, []);
    assert.deepEqual([...catalog.pods.keys()], ["shop/backend", "default/client", "tools/tool", "shop/legacy"]);
    assert.deepEqual(catalog.pods.get("shop/legacy"), { namespace: "shop", name: "legacy", labels: { app: "legacy" }, ports: [{ port: 53, protocol: "udp" }], portsKnown: false });
    assert.deepEqual([...catalog.services.keys()], ["shop/backend", "shop/one"]);
  });
});

describe("durations", () => {
  it("parses and formats", () => {
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("1.5s"), 1500);
    assert.equal(parseDuration("2m"), 120_000);
    assert.throws(() => parseDuration("5 minutes"), /invalid duration/);
    assert.equal(formatDuration(850), "850ms");
    assert.equal(formatDuration(1234), "1.2s");
    assert.equal(formatDuration(59_999), "1m00s");
    assert.equal(formatDuration(125_000), "2m05s");
  });
});
