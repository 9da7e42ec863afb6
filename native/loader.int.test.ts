// The addon against the real kernel: load errors, pinning and reuse, map operations, tc in
// another netns, cgroup attach, typed not-supported errors.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, rmdirSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAP_NAMES, PolicyAction } from "./abi.js";
import { BpfMap, TypedMap, mountBpffs, unmountBpffs, unpin, isBpffs } from "./bpf-map.js";
import { BpfObject } from "./bpf-object.js";
import { cgroupAttach, cgroupDetach, cgroupPrograms } from "./cgroup.js";
import { ipcacheKey, ipcacheKeyCodec, ipcacheValueCodec, policyKeyCodec, policyValueCodec, u32Codec } from "./codecs.js";
import { BpfError, NotSupportedError, VerifierError } from "./errors.js";
import { AttachType } from "./kernel.js";
import { bpfObjectPath } from "./paths.js";
import { ifIndex, tcAttach, tcDetach, tcQuery, tcRemoveClsact } from "./tc.js";
import { testRun, testRunAsync, skbContext } from "./test-run.js";

const tag = `cft-nat-${process.pid}`;

test("a program the verifier rejects fails to load with the verifier's own message", () => {
  let err: unknown;
  try {
    BpfObject.load(bpfObjectPath("tests/broken"));
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof VerifierError, `expected VerifierError, got ${String(err)}`);
  assert.equal(err.program, "cf_broken");
  assert.match(err.message, /invalid access to packet/);
  assert.match(err.verifierLog, /invalid access to packet/);
  assert.equal(err.code, "EACCES");
});

test("a missing object file is a clear error", () => {
  assert.throws(() => BpfObject.load("/nonexistent/x.o"), (e: unknown) => e instanceof BpfError && /no such file/.test(e.message));
});

test("const volatile globals are set before load and unknown ones are refused", () => {
  assert.throws(() => BpfObject.load(bpfObjectPath("endpoint"), { globals: { cfg_nope: 1 } }), /no global 'cfg_nope'/);
  const obj = BpfObject.load(bpfObjectPath("endpoint"), { globals: { cfg_trace_mode: 2, cfg_ct_lifetime_tcp: 7 } });
  try {
    const rodata = obj.mapNames().find((n) => n.endsWith(".rodata"));
    assert.ok(rodata, `no .rodata map in ${obj.mapNames().join(",")}`);
    const m = obj.map(rodata);
    const v = m.lookup(u32Codec.encode(0));
    assert.ok(v);
    // Both values landed in the frozen .rodata image the verifier saw.
    assert.ok(v.includes(Buffer.from([7, 0, 0, 0])));
  } finally {
    obj.close();
  }
});

describe("pinning", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `${tag}-fs-`));
    mountBpffs(dir);
  });
  after(() => {
    if (dir && isBpffs(dir)) unmountBpffs(dir);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("maps are pinned under the given dir and reused by the next load (agent restart)", () => {
    const pinDir = join(dir, "cf");
    mkdirSync(pinDir);
    const first = BpfObject.load(bpfObjectPath("endpoint"), { pinDir });
    const key = { epId: 1, identity: 5, dport: 80, proto: 6, direction: 0 };
    try {
      assert.ok(first.pinnedMaps.every((p) => !p.reused));
      assert.deepEqual(first.pinnedMaps.map((p) => p.name).sort(), Object.values(MAP_NAMES).sort());
      assert.deepEqual(readdirSync(pinDir).sort(), Object.values(MAP_NAMES).sort());
      new TypedMap(first.map(MAP_NAMES.policy), policyKeyCodec, policyValueCodec).set(key, { action: PolicyAction.allow, flags: 0, proxyPort: 0, ruleRef: 9 });
    } finally {
      first.close();
    }
    const second = BpfObject.load(bpfObjectPath("endpoint"), { pinDir });
    try {
      assert.ok(second.pinnedMaps.every((p) => p.reused));
      const policy = new TypedMap(second.map(MAP_NAMES.policy), policyKeyCodec, policyValueCodec);
      assert.equal(policy.get(key)?.ruleRef, 9, "the entry written before the restart is still there");
      const pinned = BpfMap.openPinned(join(pinDir, MAP_NAMES.policy));
      try {
        assert.equal(pinned.id, second.map(MAP_NAMES.policy).id, "same kernel map");
      } finally {
        pinned.close();
      }
    } finally {
      second.close();
    }
    // An incompatible pin (other size) is refused, not silently replaced.
    assert.throws(
      () => BpfObject.load(bpfObjectPath("endpoint"), { pinDir, maxEntries: { [MAP_NAMES.endpoints]: 8 } }),
      (e: unknown) => e instanceof BpfError && /cf_endpoints_v1/.test(e.message + e.libbpfLog),
    );
    for (const n of Object.values(MAP_NAMES)) assert.equal(unpin(join(pinDir, n)), true);
    assert.equal(unpin(join(pinDir, MAP_NAMES.policy)), false);
    assert.deepEqual(readdirSync(pinDir), []);
  });

  test("explicit pin of a loaded map, and unpin refuses paths outside bpffs", () => {
    const obj = BpfObject.load(bpfObjectPath("endpoint"));
    try {
      const path = join(dir, "explicit");
      obj.map(MAP_NAMES.ipcache).pin(path);
      assert.ok(existsSync(path));
      assert.equal(unpin(path), true);
    } finally {
      obj.close();
    }
    assert.throws(() => unpin(join(tmpdir())), /not on a bpf filesystem/);
  });
});

describe("maps", () => {
  let obj: BpfObject;
  before(() => {
    obj = BpfObject.load(bpfObjectPath("endpoint"));
  });
  after(() => obj?.close());

  test("get, update modes, delete, keys, entries", () => {
    const m = obj.map(MAP_NAMES.policy);
    const k = (i: number) => policyKeyCodec.encode({ epId: 1, identity: i, dport: 80, proto: 6, direction: 0 });
    const v = (r: number) => policyValueCodec.encode({ action: 1, flags: 0, proxyPort: 0, ruleRef: r });
    assert.equal(m.lookup(k(1)), undefined);
    m.update(k(1), v(1), "noexist");
    assert.throws(() => m.update(k(1), v(2), "noexist"), (e: unknown) => e instanceof BpfError && e.code === "EEXIST");
    assert.throws(() => m.update(k(2), v(2), "exist"), (e: unknown) => e instanceof BpfError && e.code === "ENOENT");
    m.update(k(1), v(3), "exist");
    assert.equal(policyValueCodec.decode(m.lookup(k(1))!).ruleRef, 3);
    m.update(k(2), v(2));
    assert.equal([...m.keys()].length, 2);
    assert.equal(m.entries().length, 2);
    assert.equal(m.delete(k(1)), true);
    assert.equal(m.delete(k(1)), false);
    assert.throws(() => m.lookup(Buffer.alloc(3)), /key has 3 bytes/);
    m.clear();
  });

  test("batch update and delete on a hash map, and on an LPM trie (per-element fallback)", () => {
    const policy = new TypedMap(obj.map(MAP_NAMES.policy), policyKeyCodec, policyValueCodec);
    const entries = Array.from({ length: 5000 }, (_, i) => [{ epId: 2, identity: 1000 + i, dport: 443, proto: 6, direction: 1 }, { action: 1, flags: 0, proxyPort: 0, ruleRef: i }] as const);
    assert.equal(policy.setMany(entries), 5000);
    const all = policy.entries();
    assert.equal(all.length, 5000);
    assert.equal(policy.get({ epId: 2, identity: 1000 + 4321, dport: 443, proto: 6, direction: 1 })?.ruleRef, 4321);
    const gone = entries.slice(0, 10).map(([k]) => k);
    assert.equal(policy.deleteMany([...gone, { epId: 99, identity: 1, dport: 1, proto: 6, direction: 0 }]), 10);
    assert.equal(policy.entries().length, 4990);
    policy.clear();
    assert.equal(policy.entries().length, 0);

    const ipcache = new TypedMap(obj.map(MAP_NAMES.ipcache), ipcacheKeyCodec, ipcacheValueCodec);
    assert.equal(ipcache.setMany([[ipcacheKey("10.244.0.0/16"), { identity: 6, tunnelEndpoint: "198.18.0.12", flags: 0 }], [ipcacheKey("10.244.1.5"), { identity: 1234, tunnelEndpoint: "0.0.0.0", flags: 1 }]]), 2);
    assert.deepEqual(
      ipcache
        .entries()
        .map(([k, v]) => `${k.addr}/${k.prefixlen - 32}=${v.identity}@${v.tunnelEndpoint}`)
        .sort(),
      ["10.244.0.0/16=6@198.18.0.12", "10.244.1.5/32=1234@0.0.0.0"],
    );
  });

  test("an operation the kernel does not support throws NotSupportedError", () => {
    const rb = obj.map(MAP_NAMES.events);
    assert.throws(
      () => rb.update(Buffer.alloc(0), Buffer.alloc(0)),
      (e: unknown) => e instanceof NotSupportedError && e.errno === 524 && e.op === "map update",
    );
  });

  test("test runs, synchronous and on the thread pool", async () => {
    const prog = obj.program("cf_from_endpoint");
    const frame = Buffer.alloc(60);
    const sync = testRun(prog, { data: frame, ctx: skbContext(), repeat: 10 });
    assert.equal(sync.retval, 0);
    const asyncRun = await testRunAsync(prog, { data: frame, ctx: skbContext(), repeat: 1000 });
    assert.equal(asyncRun.retval, 0);
    assert.equal(asyncRun.data.length, 60);
    await assert.rejects(testRunAsync(prog, { data: Buffer.alloc(4), ctx: skbContext() }), (e: unknown) => e instanceof BpfError && e.code === "EINVAL");
  });
});

describe("tc attach in another network namespace", () => {
  const ns = `${tag}-tc`;
  let obj: BpfObject;
  before(() => {
    execFileSync("ip", ["netns", "add", ns]);
    execFileSync("ip", ["-n", ns, "link", "add", "cft0", "type", "veth", "peer", "name", "cft1"]);
    obj = BpfObject.load(bpfObjectPath("endpoint"));
  });
  after(() => {
    obj?.close();
    spawnSync("ip", ["netns", "del", ns]);
  });

  test("attach, query, replace, detach; the calling thread stays in its own netns", () => {
    const selfNs = readlinkSync("/proc/thread-self/ns/net");
    assert.throws(() => ifIndex("cft0"), (e: unknown) => e instanceof BpfError && e.code === "ENODEV");
    const ifindex = ifIndex("cft0", ns);
    const from = obj.program("cf_from_endpoint");
    const to = obj.program("cf_to_endpoint");
    const a = tcAttach({ ifindex, hook: "ingress", program: from, netns: ns });
    const b = tcAttach({ ifindex, hook: "egress", program: to, netns: ns });
    assert.equal(readlinkSync("/proc/thread-self/ns/net"), selfNs);
    assert.equal(a.progId, from.id);
    assert.equal(tcQuery(a), from.id);
    assert.equal(tcQuery(b), to.id);
    const shown = execFileSync("tc", ["-n", ns, "filter", "show", "dev", "cft0", "ingress"], { encoding: "utf8" });
    // The kernel keeps 15 characters of a program name.
    assert.match(shown, new RegExp(`cf_from_endpoin.* id ${from.id} `));
    assert.match(shown, /direct-action/);
    // Re-attaching at the same (priority, handle) replaces in place.
    const replaced = tcAttach({ ifindex, hook: "ingress", program: to, netns: ns });
    assert.equal(tcQuery(replaced), to.id);
    assert.equal(tcDetach(a), true);
    assert.equal(tcQuery(a), undefined);
    assert.equal(tcDetach(a), false);
    assert.equal(tcRemoveClsact(ifindex, ns), true);
    assert.equal(tcQuery(b), undefined);
    assert.equal(readlinkSync("/proc/thread-self/ns/net"), selfNs);
    assert.throws(() => tcAttach({ ifindex, hook: "ingress", program: from, netns: `${tag}-missing` }), (e: unknown) => e instanceof BpfError && e.code === "ENOENT");
  });
});

describe("cgroup attach", () => {
  const cgroup = `/sys/fs/cgroup/unified/${tag}`;
  let obj: BpfObject;
  before(() => {
    mkdirSync(cgroup);
    obj = BpfObject.load(bpfObjectPath("tests/cgroup_count"));
  });
  after(() => {
    obj?.close();
    if (existsSync(cgroup)) rmdirSync(cgroup);
  });

  test("a cgroup_skb program runs for the cgroup's sockets until detached", () => {
    const prog = obj.program("cft_count_egress");
    assert.equal(prog.expectedAttachType, AttachType.cgroupInetEgress);
    cgroupAttach(cgroup, prog);
    assert.deepEqual(cgroupPrograms(cgroup, AttachType.cgroupInetEgress), [prog.id]);
    const count = () => obj.map("cft_count").lookup(u32Codec.encode(0))!.readBigUInt64LE(0);
    const sendFromCgroup = () => {
      // The child joins the cgroup, then sends three datagrams to loopback.
      const script = `echo $$ > ${cgroup}/cgroup.procs && exec node -e "const s=require('dgram').createSocket('udp4');let n=0;const go=()=>s.send('x',9,'127.0.0.1',()=>{if(++n<3)go();else s.close()});go()"`;
      const r = spawnSync("sh", ["-c", script], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    };
    sendFromCgroup();
    assert.ok(count() >= 3n, `counted ${count()} packets`);
    assert.equal(cgroupDetach(cgroup, prog), true);
    assert.deepEqual(cgroupPrograms(cgroup, AttachType.cgroupInetEgress), []);
    const before = count();
    sendFromCgroup();
    assert.equal(count(), before, "no longer runs after detach");
    assert.equal(cgroupDetach(cgroup, prog), false);
  });
});
