// A state file cut short (a killed `up` before writes became write-and-rename, or a full disk)
// must not make the cluster unremovable, nor block creating other clusters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { downCluster } from "./down.js";
import { clusterStateDir } from "./paths.js";
import { listClusterNames, readState, readStateIfReadable, writeState } from "./state.js";
import type { ClusterState } from "./state.js";

test("an unreadable state file names itself, and down still removes the cluster", async () => {
  const name = `cftstate${process.pid}`;
  mkdirSync(clusterStateDir(name), { recursive: true });
  const file = join(clusterStateDir(name), "cluster.json");
  writeFileSync(file, "");
  try {
    assert.throws(() => readState(name), (err: Error) => err.message.includes(file) && /conform cluster down --name/.test(err.message));
    assert.equal(readStateIfReadable(name), undefined);
    assert.ok(listClusterNames().includes(name));
    const report = await downCluster(name);
    assert.equal(report.cluster, name);
    assert.equal(existsSync(clusterStateDir(name)), false);
  } finally {
    await downCluster(name);
  }
});

test("writeState replaces the file whole and leaves no temporary file", async () => {
  const name = `cftstatew${process.pid}`;
  try {
    const state = { name, slot: 250, phase: "creating", nodes: [], pids: {} } as unknown as ClusterState;
    writeState(state);
    writeState({ ...state, phase: "running" } as ClusterState);
    assert.equal(readState(name)?.phase, "running");
    assert.deepEqual(readdirSync(clusterStateDir(name)), ["cluster.json"]);
  } finally {
    await downCluster(name);
  }
});
