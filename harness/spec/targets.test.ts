import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatTarget, ipInCidr, parseCidr, parsePodRef, parseTarget } from "./targets.js";

const ok = (text: string) => {
  const r = parseTarget(text);
  assert.ok(r.ok, `${text}: ${r.ok ? "" : r.error}`);
  return r.value;
};
const err = (text: string) => {
  const r = parseTarget(text);
  assert.ok(!r.ok, `${text} should not parse`);
  return r.error;
};

describe("target grammar", () => {
  it("parses every destination kind and formats it back canonically", () => {
    assert.deepEqual(ok("shop/backend:8080/tcp"), { kind: "pod", namespace: "shop", name: "backend", port: 8080, protocol: "tcp" });
    assert.deepEqual(ok("shop/backend"), { kind: "pod", namespace: "shop", name: "backend" });
    assert.deepEqual(ok("pod:shop/backend:53/udp"), { kind: "pod", namespace: "shop", name: "backend", port: 53, protocol: "udp" });
    assert.deepEqual(ok("svc:shop/api:80"), { kind: "service", namespace: "shop", name: "api", port: 80 });
    assert.deepEqual(ok("world:API.Example.test.:443/tcp"), { kind: "world", host: "api.example.test", port: 443, protocol: "tcp" });
    assert.deepEqual(ok("world:203.0.113.7:80"), { kind: "world", host: "203.0.113.7", port: 80 });
    assert.deepEqual(ok("cidr:203.0.113.16/28:80/udp"), { kind: "cidr", cidr: "203.0.113.16/28", address: "203.0.113.17", port: 80, protocol: "udp" });
    assert.deepEqual(ok("cidr:203.0.113.5/32:80"), { kind: "cidr", cidr: "203.0.113.5/32", address: "203.0.113.5", port: 80 });
    assert.deepEqual(ok("host:10250/tcp"), { kind: "host", port: 10250, protocol: "tcp" });
    assert.deepEqual(ok("node:2:10250"), { kind: "node", index: 2, port: 10250 });
    assert.deepEqual(ok("apiserver:6443/tcp"), { kind: "apiserver", port: 6443, protocol: "tcp" });
    assert.deepEqual(ok("health:2:4240/http"), { kind: "health", index: 2, port: 4240, protocol: "http", http: { method: "GET", path: "/" } });
    assert.deepEqual(ok("shop/api:8080/http POST /admin"), { kind: "pod", namespace: "shop", name: "api", port: 8080, protocol: "http", http: { method: "POST", path: "/admin" } });
    assert.deepEqual(ok("shop/api:8080/http").http, { method: "GET", path: "/" });
    assert.deepEqual(ok("shop/api:8080/http /v1").http, { method: "GET", path: "/v1" });
    for (const text of ["shop/backend:8080/tcp", "service:shop/api:80/udp", "world:api.example.test:443/tcp", "cidr:203.0.113.16/28:80/tcp", "host:10250/tcp", "node:2:10250/tcp", "apiserver:6443/tcp", "health:1:4240/tcp", "health:2:4240/http GET /hello", "shop/api:8080/http POST /admin"]) {
      assert.equal(formatTarget(ok(text)), text);
    }
    assert.equal(formatTarget(ok("shop/api:8080/http GET /")), "shop/api:8080/http");
  });

  it("rejects malformed destinations with a reason", () => {
    assert.match(err("backend:8080"), /is not a destination/);
    assert.match(err("shop/backend:70000"), /out of range/);
    assert.match(err("world:8.8.8.8:53/udp"), /inside 203\.0\.113\.0\/24/);
    assert.match(err("world:bad_host!:80"), /neither a host name nor an IPv4 address/);
    assert.match(err("world:api.example.test"), /needs a port/);
    assert.match(err("cidr:10.0.0.0/8:80"), /inside 203\.0\.113\.0\/24/);
    assert.match(err("cidr:203.0.113.1/24:80"), /host bits set \(did you mean 203\.0\.113\.0\/24\?\)/);
    assert.match(err("host"), /needs a port/);
    assert.match(err("node:2"), /needs a port/);
    assert.match(err("node:0:80"), /1-based node index/);
    assert.match(err("apiserver"), /needs a port, e\.g\. apiserver:6443\/tcp/);
    assert.match(err("health:2"), /needs a port, e\.g\. health:2:4240\/tcp/);
    assert.match(err("health:0:4240"), /1-based node index/);
    assert.match(err("health:x:4240"), /1-based node index/);
    assert.match(err("kube-apiserver:6443"), /is not a destination/);
    assert.match(err("shop/api:8080/tcp GET /x"), /needs an http target/);
    assert.match(err("shop/api:8080/http GET /x extra"), /unexpected "extra"/);
  });

  it("parses pod references and CIDRs", () => {
    assert.deepEqual(parsePodRef("shop/frontend"), { ok: true, value: { namespace: "shop", name: "frontend" } });
    assert.equal(parsePodRef("frontend").ok, false);
    assert.equal(parsePodRef("Shop/x").ok, false);
    assert.equal(parseCidr("203.0.113.0/33").ok, false);
    assert.equal(ipInCidr("203.0.113.255", "203.0.113.0/24"), true);
    assert.equal(ipInCidr("203.0.114.0", "203.0.113.0/24"), false);
  });
});
