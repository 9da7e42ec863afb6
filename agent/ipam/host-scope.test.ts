import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostScopeIpam, IpamExhaustedError } from "./host-scope.js";
import { parseIpv4Cidr } from "./ipv4.js";

const root = mkdtempSync(join(tmpdir(), "cft-ag-ipam-"));
let n = 0;
const freshDir = () => join(root, `d${n++}`);

after(() => rmSync(root, { recursive: true, force: true }));

describe("host-scope IPAM", () => {
  test("network, router (first usable) and broadcast addresses are never handed out", () => {
    const ipam = new HostScopeIpam({ cidr: "10.244.3.0/29", dataDir: freshDir() });
    assert.equal(ipam.routerIp, "10.244.3.1");
    assert.equal(ipam.capacity, 5);
    const got = Array.from({ length: 5 }, (_, i) => ipam.allocate(`c${i}`, "eth0").ip);
    assert.deepEqual(got, ["10.244.3.2", "10.244.3.3", "10.244.3.4", "10.244.3.5", "10.244.3.6"]);
  });

  test("exhaustion fails with a message naming the pool and the state directory", () => {
    const dir = freshDir();
    const ipam = new HostScopeIpam({ cidr: "10.244.4.0/30", dataDir: dir });
    assert.equal(ipam.allocate("a", "eth0").ip, "10.244.4.2");
    assert.throws(
      () => ipam.allocate("b", "eth0"),
      (err: unknown) => err instanceof IpamExhaustedError && err.message.includes("10.244.4.0/30") && err.message.includes(dir),
    );
  });

  test("reservations survive a new instance over the same directory (agent restart)", () => {
    const dir = freshDir();
    const before = new HostScopeIpam({ cidr: "10.244.5.0/24", dataDir: dir });
    const a = before.allocate("container-a", "eth0");
    const b = before.allocate("container-b", "eth0");
    const after_ = new HostScopeIpam({ cidr: "10.244.5.0/24", dataDir: dir });
    assert.deepEqual(after_.leases(), [a, b]);
    assert.deepEqual(after_.allocate("container-a", "eth0"), a, "same owner gets the address it holds");
    const c = after_.allocate("container-c", "eth0");
    assert.notEqual(c.ip, a.ip);
    assert.notEqual(c.ip, b.ip);
    assert.equal(readFileSync(join(dir, a.ip), "utf8"), "container-a\r\neth0");
  });

  test("release by owner frees the address; it is not reused at once (round robin)", () => {
    const ipam = new HostScopeIpam({ cidr: "10.244.6.0/24", dataDir: freshDir() });
    const a = ipam.allocate("a", "eth0");
    ipam.allocate("b", "eth0");
    assert.deepEqual(ipam.release("a"), [a.ip]);
    assert.deepEqual(ipam.release("a"), [], "a second release is a no-op");
    assert.equal(ipam.leaseOf(a.ip), undefined);
    assert.equal(ipam.allocate("c", "eth0").ip, "10.244.6.4");
  });

  test("the search wraps around to freed addresses at the end of the pool", () => {
    const ipam = new HostScopeIpam({ cidr: "10.244.7.0/29", dataDir: freshDir() });
    for (let i = 0; i < 5; i++) ipam.allocate(`c${i}`, "eth0");
    ipam.release("c1");
    assert.equal(ipam.allocate("again", "eth0").ip, "10.244.7.3");
  });

  test("a specific address can be claimed once; extra reserved addresses are skipped", () => {
    const ipam = new HostScopeIpam({ cidr: "10.244.8.0/24", dataDir: freshDir(), reserved: ["10.244.8.2"] });
    assert.equal(ipam.allocate("x", "eth0").ip, "10.244.8.3");
    assert.equal(ipam.allocate("y", "eth0", { ip: "10.244.8.50" }).ip, "10.244.8.50");
    assert.throws(() => ipam.allocate("z", "eth0", { ip: "10.244.8.50" }), /already reserved/);
    assert.throws(() => ipam.allocate("z", "eth0", { ip: "10.244.8.1" }), /not an assignable address/);
    assert.throws(() => ipam.allocate("z", "eth0", { ip: "10.244.8.255" }), /not an assignable address/);
  });

  test("two instances on one directory never hand out the same address (atomic claim)", () => {
    const dir = freshDir();
    const one = new HostScopeIpam({ cidr: "10.244.9.0/28", dataDir: dir });
    const two = new HostScopeIpam({ cidr: "10.244.9.0/28", dataDir: dir });
    const ips = new Set<string>();
    for (let i = 0; i < 6; i++) {
      ips.add(one.allocate(`one-${i}`, "eth0").ip);
      ips.add(two.allocate(`two-${i}`, "eth0").ip);
    }
    assert.equal(ips.size, 12);
  });

  test("a leftover temp file from a crash is removed and never counts as a lease", () => {
    const dir = freshDir();
    new HostScopeIpam({ cidr: "10.244.10.0/24", dataDir: dir });
    writeFileSync(join(dir, ".10.244.10.2.999.0.tmp"), "half");
    const ipam = new HostScopeIpam({ cidr: "10.244.10.0/24", dataDir: dir });
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), []);
    assert.equal(ipam.allocate("a", "eth0").ip, "10.244.10.2");
  });

  test("bad pools are refused with the input named", () => {
    assert.throws(() => new HostScopeIpam({ cidr: "10.244.1.0", dataDir: freshDir() }), /"10.244.1.0" is not an IPv4 CIDR/);
    assert.throws(() => new HostScopeIpam({ cidr: "10.244.1.0/31", dataDir: freshDir() }), /leaves no address/);
    assert.deepEqual(parseIpv4Cidr("10.244.1.77/24"), { network: parseIpv4Cidr("10.244.1.0/24").network, prefixLength: 24, size: 256 });
  });
});
