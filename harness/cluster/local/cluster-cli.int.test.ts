// `conform cluster` as users drive it: Ctrl-C during `up` cleans up, a crashed `up` is swept by
// `down --all`, a second cluster of the same name is refused, and a bad config names its field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../../util/wait.js";
import { knownClusters } from "./down.js";
import { linkNames, netnsNames } from "./names.js";
import { clusterStateDir, repoRoot } from "./paths.js";
import { listNetns, rootLinks } from "./topology.js";

const cli = join(repoRoot, "bin/conform.js");

async function leftovers(cluster: string): Promise<string[]> {
  return [
    ...listNetns().filter((n) => n.startsWith(netnsNames.prefix(cluster))),
    ...(await rootLinks(linkNames.prefix(cluster))),
    ...(existsSync(clusterStateDir(cluster)) ? [clusterStateDir(cluster)] : []),
  ];
}

/** Starts `conform cluster up` and resolves once its apiserver log exists (mid-way through up). */
async function startUp(cluster: string) {
  const child = spawn(process.execPath, [cli, "cluster", "up", "--name", cluster], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await waitFor("up to start the apiserver", async () => (existsSync(join(clusterStateDir(cluster), "logs/kube-apiserver.log")) ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 50,
  });
  return { child, exited, output: () => output };
}

test("Ctrl-C during up removes everything it created", { timeout: 120_000 }, async () => {
  const cluster = `sig${process.pid}`;
  const up = await startUp(cluster);
  up.child.kill("SIGINT");
  const code = await up.exited;
  assert.equal(code, 130, up.output());
  assert.match(up.output(), /interrupted/);
  assert.deepEqual(await leftovers(cluster), []);
});

test("down --all sweeps what a crashed up left behind", { timeout: 120_000 }, async (t) => {
  // --all removes every local cluster: never run it over someone's cluster.
  const others = knownClusters();
  if (others.length > 0) {
    t.skip(`other local clusters exist (${others.join(", ")}); down --all would remove them`);
    return;
  }
  const cluster = `crash${process.pid}`;
  const up = await startUp(cluster);
  up.child.kill("SIGKILL");
  await up.exited;
  assert.notDeepEqual(await leftovers(cluster), [], "a killed up leaves its namespaces behind");
  const r = spawnSync(process.execPath, [cli, "cluster", "down", "--all"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`removed ${cluster}:`));
  assert.deepEqual(await leftovers(cluster), []);
});

test("up refuses a second cluster of the same name, and leaves the first intact", { timeout: 120_000 }, async () => {
  const cluster = `dup${process.pid}`;
  const up = await startUp(cluster);
  try {
    const second = spawnSync(process.execPath, [cli, "cluster", "up", "--name", cluster], { encoding: "utf8" });
    assert.equal(second.status, 2);
    assert.match(second.stderr, new RegExp(`a local cluster named "${cluster}" already exists`));
    assert.ok(listNetns().includes(netnsNames.controlPlane(cluster)), "the first cluster is untouched");
  } finally {
    up.child.kill("SIGINT");
    await up.exited;
    spawnSync(process.execPath, [cli, "cluster", "down", "--name", cluster]);
  }
  assert.deepEqual(await leftovers(cluster), []);
});

test("a config with a bad field names the file, line and field", () => {
  const dir = mkdtempSync(join(tmpdir(), "conform-cfg-"));
  const file = join(dir, "bad.yaml");
  writeFileSync(file, "apiVersion: conform.dev/v1alpha1\nkind: LocalCluster\nmetadata: {name: x}\nspec:\n  nodes: two\n  nodez: 3\n");
  const r = spawnSync(process.execPath, [cli, "cluster", "up", "--config", file], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`${file}:5: spec\\.nodes: `));
  assert.match(r.stderr, new RegExp(`${file}:6: spec\\.nodez: unknown field`));
  assert.equal(listNetns().some((n) => n.startsWith(netnsNames.prefix("x"))), false);
});
