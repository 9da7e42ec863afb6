import { test } from "node:test";
import assert from "node:assert/strict";
import { AGENT_READY_MARKER, containerArgv, imageRepository, PROBE_READY_MARKER, resolveImage, RUNNABLE_IMAGES } from "./images.js";

test("image references reduce to their repository whatever the registry, tag or digest", () => {
  for (const ref of ["conform/probe", "conform/probe:v1", "conform/probe:latest", "docker.io/conform/probe:1.2", "ghcr.io/conform/probe@sha256:abcd", "localhost:5000/conform/probe:dev"])
    assert.equal(imageRepository(ref), "conform/probe", ref);
  assert.equal(imageRepository("nginx:1.27"), "nginx");
  assert.equal(imageRepository("docker.io/library/nginx"), "nginx");
  assert.equal(imageRepository("quay.io/cilium/cilium:v1.16"), "cilium/cilium");
});

test("known images map to this repo's programs with their readiness rule", () => {
  const probe = resolveImage("conform/probe:v9", "/repo");
  assert.ok(probe.ok);
  assert.deepEqual(probe.entrypoint, [process.execPath, "/repo/dist/probe-image/main.mjs"]);
  assert.equal(probe.readiness.kind, "stdout-marker");
  assert.ok(probe.readiness.kind === "stdout-marker" && probe.readiness.markers.includes(PROBE_READY_MARKER));
  const agent = resolveImage("ghcr.io/conform/agent:dev", "/repo");
  assert.ok(agent.ok);
  assert.deepEqual(agent.entrypoint, [process.execPath, "/repo/dist/agent/main.js"]);
  assert.deepEqual(agent.readiness, { kind: "stdout-marker", markers: [AGENT_READY_MARKER] });
});

test("an unknown image is refused with a reason naming it and the runnable ones", () => {
  const r = resolveImage("nginx:1.27", "/repo");
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.reason === "ImageNotRunnableLocally");
  assert.ok(!r.ok && r.message.includes('"nginx:1.27"'));
  for (const known of RUNNABLE_IMAGES) assert.ok(!r.ok && r.message.includes(known));
});

test("command replaces the entrypoint and args follow it, as in Kubernetes", () => {
  const img = resolveImage("conform/probe", "/repo");
  assert.ok(img.ok);
  assert.deepEqual(containerArgv(img, undefined, ["serve", "--http", "80"]), [process.execPath, "/repo/dist/probe-image/main.mjs", "serve", "--http", "80"]);
  assert.deepEqual(containerArgv(img, ["sh", "-c"], ["exit 3"]), ["sh", "-c", "exit 3"]);
  assert.deepEqual(containerArgv(img, ["sleep", "5"], undefined), ["sleep", "5"]);
  assert.deepEqual(containerArgv(img, [], undefined), [process.execPath, "/repo/dist/probe-image/main.mjs"], "an empty command means none");
});
