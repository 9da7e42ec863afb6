import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../../util/yaml-schema.js";
import { agentSettings, defaultLocalConfig, effectiveRouting, loadLocalConfig } from "./config.js";
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

describe("local cluster config: spec.agent", () => {
  const dir = mkdtempSync(join(tmpdir(), "cft-agent-config-"));
  const file = (name: string, spec: string): string => {
    const path = join(dir, name);
    writeFileSync(path, HEAD + spec);
    return path;
  };
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("policy settings go into the agent ConfigMap as policy.*; absent, the agent keeps its defaults", () => {
    const always = loadLocalConfig(file("always.yaml", "  cni: conform\n  agent:\n    enforcementMode: always\n    auditMode: true\n"));
    assert.deepEqual(agentSettings(always), { routing: "tunnel", policy: { enforcementMode: "always", auditMode: true } });
    assert.deepEqual(agentSettings(defaultLocalConfig()), { routing: "tunnel" });
    assert.deepEqual(agentSettings(loadLocalConfig(file("empty.yaml", "  agent: {}\n"))), { routing: "tunnel" });
  });

  test("an unknown mode, an unknown field, or agent settings without the agent are refused at their line", () => {
    const typo = file("typo.yaml", "  agent:\n    enforcementMode: strict\n");
    assert.throws(() => loadLocalConfig(typo), (err: unknown) => err instanceof InputError && err.message.includes(`${typo}:7: spec.agent.enforcementMode:`));
    const unknown = file("unknown.yaml", "  agent:\n    auditmode: true\n");
    assert.throws(() => loadLocalConfig(unknown), (err: unknown) => err instanceof InputError && err.message.includes(`${unknown}:`) && err.message.includes("auditmode"));
    const ptp = file("ptp.yaml", "  cni: ptp\n  agent:\n    auditMode: true\n");
    // A mapping's error points at its first line of content.
    assert.throws(() => loadLocalConfig(ptp), (err: unknown) => err instanceof InputError && err.message.includes(`${ptp}:8: spec.agent: cni ptp runs no agent`));
  });
});
