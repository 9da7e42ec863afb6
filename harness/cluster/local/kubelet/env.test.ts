import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { expandArgv, expandVars, resolveEnv } from "./env.js";
import type { EnvContext } from "./env.js";

const pod: V1Pod = {
  metadata: { name: "web", namespace: "prod", uid: "u-42", labels: { app: "web" }, annotations: { team: "net" } },
  spec: { nodeName: "node2", serviceAccountName: "robot", containers: [] },
};
const ctx: EnvContext = { pod, nodeName: "node2", nodeIP: "198.18.0.12", podIPs: ["10.244.1.7"], apiServer: { host: "198.18.0.1", port: "6443" }, base: { PATH: "/bin" }, workDir: "/state/w" };

function env(container: Partial<V1Container>): Record<string, string> {
  const r = resolveEnv({ name: "c", ...container }, ctx);
  assert.ok(r.ok, r.ok ? "" : r.message);
  return r.env;
}

test("$(VAR) expansion: defined names replaced, $$ escapes, unknown and unterminated kept", () => {
  const vars: Record<string, string> = { A: "1", B: "two" };
  const look = (n: string) => vars[n];
  assert.equal(expandVars("x$(A)y$(B)", look), "x1ytwo");
  assert.equal(expandVars("$$(A) and $$", look), "$(A) and $");
  assert.equal(expandVars("$(NOPE) $(A", look), "$(NOPE) $(A");
  assert.equal(expandVars("cost $5 $", look), "cost $5 $");
  assert.equal(expandVars("$()", look), "$()");
});

test("downward API fieldRefs and the always-present variables", () => {
  const fields = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.podIP", "status.podIPs", "status.hostIP", "metadata.labels['app']", "metadata.annotations['team']"];
  const e = env({ env: fields.map((fieldPath, i) => ({ name: `F${i}`, valueFrom: { fieldRef: { fieldPath } } })) });
  assert.deepEqual(
    fields.map((_, i) => e[`F${i}`]),
    ["web", "prod", "u-42", "node2", "robot", "10.244.1.7", "10.244.1.7", "198.18.0.12", "web", "net"],
  );
  assert.equal(e["POD_NAME"], "web");
  assert.equal(e["POD_NAMESPACE"], "prod");
  assert.equal(e["NODE_NAME"], "node2");
  assert.equal(e["HOSTNAME"], "web");
  assert.equal(e["HOME"], "/state/w");
  assert.equal(e["PATH"], "/bin");
  assert.equal(e["KUBERNETES_SERVICE_HOST"], "198.18.0.1");
  assert.equal(e["KUBERNETES_SERVICE_PORT"], "6443");
});

test("values expand earlier variables; later entries override earlier ones and the defaults", () => {
  const e = env({
    env: [
      { name: "GREETING", value: "hi $(POD_NAME) from $(ZONE)" },
      { name: "ZONE", value: "a" },
      { name: "URL", value: "http://$(MY_IP):80" },
      { name: "MY_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      { name: "URL2", value: "http://$(MY_IP):80" },
      { name: "NODE_NAME", value: "overridden" },
    ],
  });
  assert.equal(e["GREETING"], "hi web from $(ZONE)", "only earlier variables are visible");
  assert.equal(e["URL"], "http://$(MY_IP):80");
  assert.equal(e["URL2"], "http://10.244.1.7:80");
  assert.equal(e["NODE_NAME"], "overridden");
  assert.deepEqual(expandArgv(["--peer=$(URL2)", "$$(URL2)"], e), ["--peer=http://10.244.1.7:80", "$(URL2)"]);
});

test("hostNetwork pods take the node name as HOSTNAME", () => {
  const r = resolveEnv({ name: "c" }, { ...ctx, pod: { ...pod, spec: { ...pod.spec, containers: [], hostNetwork: true } } });
  assert.ok(r.ok && r.env["HOSTNAME"] === "node2");
});

test("sources the local cluster cannot serve are a CreateContainerConfigError naming the entry, unless optional", () => {
  const bad = resolveEnv({ name: "c", env: [{ name: "OK", value: "1" }, { name: "PW", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] }, ctx);
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok && bad.reason === "CreateContainerConfigError");
  assert.ok(!bad.ok && /container "c" env\[1\] \(PW\): secretKeyRef is not supported/.test(bad.message), !bad.ok ? bad.message : "");
  const unknownField = resolveEnv({ name: "c", env: [{ name: "X", valueFrom: { fieldRef: { fieldPath: "spec.dnsPolicy" } } }] }, ctx);
  assert.ok(!unknownField.ok && /unsupported fieldRef\.fieldPath "spec\.dnsPolicy"/.test(unknownField.message));
  const envFrom = resolveEnv({ name: "c", envFrom: [{ configMapRef: { name: "cm" } }] }, ctx);
  assert.ok(!envFrom.ok && /envFrom\[0\]: configmap "cm" not found/.test(envFrom.message), !envFrom.ok ? envFrom.message : "");
  const optional = resolveEnv({ name: "c", env: [{ name: "O", valueFrom: { configMapKeyRef: { name: "cm", key: "k", optional: true } } }], envFrom: [{ secretRef: { name: "s", optional: true } }] }, ctx);
  assert.ok(optional.ok && optional.env["O"] === undefined);
});

test("ConfigMap keys fill env (configMapKeyRef, envFrom with prefix); optional ones may be missing, required ones name the key", () => {
  const configMaps = new Map([["settings", { host: "kind-control-plane", port: "6443" }]]);
  const c = { ...ctx, configMaps };
  const r = resolveEnv(
    {
      name: "c",
      envFrom: [{ configMapRef: { name: "settings" }, prefix: "S_" }],
      env: [
        { name: "KUBERNETES_SERVICE_HOST", valueFrom: { configMapKeyRef: { name: "settings", key: "host", optional: true } } },
        { name: "KUBERNETES_SERVICE_PORT", valueFrom: { configMapKeyRef: { name: "settings", key: "absent", optional: true } } },
      ],
    },
    c,
  );
  assert.ok(r.ok);
  assert.equal(r.env["KUBERNETES_SERVICE_HOST"], "kind-control-plane", "the ConfigMap overrides the injected API server address");
  assert.equal(r.env["KUBERNETES_SERVICE_PORT"], ctx.apiServer?.port, "an optional missing key keeps the injected value");
  assert.equal(r.env["S_port"], "6443");
  const missingKey = resolveEnv({ name: "c", env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "settings", key: "nope" } } }] }, c);
  assert.ok(!missingKey.ok && /env\[0\] \(X\): configmap "settings" has no key "nope"/.test(missingKey.message));
});
