import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EndpointRecordStore } from "./record-store.js";
import type { EndpointRecord } from "./types.js";

const root = mkdtempSync(join(tmpdir(), "cft-ag-records-"));
let n = 0;
const fresh = () => join(root, `s${n++}`);
after(() => rmSync(root, { recursive: true, force: true }));

const record = (id: number, containerId: string): EndpointRecord => ({
  version: 1,
  id,
  containerId,
  ifName: "eth0",
  netns: "/var/run/netns/x",
  hostIfName: "lxc000000000000",
  hostIfIndex: 0,
  hostMac: "02:00:00:00:00:01",
  podMac: "02:00:00:00:00:02",
  ipv4: "10.244.1.2",
  gateway: "10.244.1.1",
  pod: { namespace: "ns", name: "p" },
  identity: { id: 5, labels: { "reserved:init": "" } },
  namedPorts: [],
  state: "not-ready",
  policyRevision: 0,
  createdAt: "2026-01-01T00:00:00Z",
});

describe("endpoint record store", () => {
  test("ids are claimed from 1 and continue after the highest in use across instances", () => {
    const dir = fresh();
    const a = new EndpointRecordStore(dir);
    assert.equal(a.create((id) => record(id, "a")).id, 1);
    assert.equal(a.create((id) => record(id, "b")).id, 2);
    a.remove(1);
    const b = new EndpointRecordStore(dir);
    assert.equal(b.create((id) => record(id, "c")).id, 3, "a freed id is not reused at once");
    assert.deepEqual(b.list().map((r) => [r.id, r.containerId]), [[2, "b"], [3, "c"]]);
  });

  test("two instances on one directory never claim the same id", () => {
    const dir = fresh();
    const a = new EndpointRecordStore(dir);
    const b = new EndpointRecordStore(dir);
    const ids = new Set<number>();
    for (let i = 0; i < 5; i++) {
      ids.add(a.create((id) => record(id, `a${i}`)).id);
      ids.add(b.create((id) => record(id, `b${i}`)).id);
    }
    assert.equal(ids.size, 10);
  });

  test("updates replace the record; an unreadable record is moved aside, not trusted", () => {
    const dir = fresh();
    const s = new EndpointRecordStore(dir);
    const r = s.create((id) => record(id, "a"));
    s.update({ ...r, state: "ready", hostIfIndex: 42 });
    writeFileSync(join(dir, "ep-9.json"), "{ half a rec");
    writeFileSync(join(dir, "ep-10.json"), JSON.stringify({ ...record(10, "x"), ipv4: 7 }));
    const list = s.list();
    assert.deepEqual(list.map((x) => [x.id, x.state, x.hostIfIndex]), [[1, "ready", 42]]);
    assert.ok(existsSync(join(dir, "ep-9.json.corrupt")));
    assert.ok(existsSync(join(dir, "ep-10.json.corrupt")));
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), []);
  });
});
