import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../../util/yaml-schema.js";
import { defaultLocalConfig, effectiveRouting, loadLocalConfig } from "./config.js";
import { localCapabilities } from "./provider.js";

const HEAD = "apiVersion: conform.dev/v1alpha1\nkind: LocalCluster\nmetadata:\n  name: rt\nspec:\n";

describe("local cluster config: spec.routing", () => {
  const dir = mkdtempSync(join(tmpdir(), "cft-vxlan-config-"));
  const file = (name: string, spec: string): string => {
    const path = join(dir, name);
    writeFileSync(path, HEAD + spec);
    return path;
  };

  test("defaults follow the CNI: tunnel for the bundled agent, native for ptp", () => {
    assert.equal(defaultLocalConfig().spec.routing, "tunnel", "the default CNI is the bundled agent");
    assert.equal(loadLocalConfig(file("agent.yaml", "  cni: conform\n")).spec.routing, "tunnel");
    assert.equal(loadLocalConfig(file("ptp.yaml", "  cni: ptp\n")).spec.routing, "native");
  });

  test("explicit modes are kept and reported as the cluster's capability", () => {
    const native = loadLocalConfig(file("native.yaml", "  cni: conform\n  routing: native\n"));
    assert.equal(native.spec.routing, "native");
    assert.equal(localCapabilities(native).routingMode, "native");
    const tunnel = loadLocalConfig(file("tunnel.yaml", "  cni: conform\n  routing: tunnel\n"));
    assert.equal(localCapabilities(tunnel).routingMode, "tunnel");
  });

  test("ptp with tunnel is refused, naming the file, line and field", () => {
    const path = file("bad.yaml", "  nodes: 2\n  cni: ptp\n  routing: tunnel\n");
    assert.throws(
      () => loadLocalConfig(path),
      (err: unknown) => err instanceof InputError && err.message.includes(`${path}:8: spec.routing: cni ptp routes natively only`),
    );
  });

  test("an unknown mode is refused at its line", () => {
    const path = file("typo.yaml", "  cni: conform\n  routing: overlay\n");
    assert.throws(() => loadLocalConfig(path), (err: unknown) => err instanceof InputError && err.message.includes(`${path}:7: spec.routing:`));
  });

  test("a state written before the check (ptp + tunnel) still reports native", () => {
    const base = defaultLocalConfig();
    assert.equal(effectiveRouting({ ...base, spec: { ...base.spec, cni: "ptp", routing: "tunnel" } }), "native");
  });

  after(() => rmSync(dir, { recursive: true, force: true }));
});
