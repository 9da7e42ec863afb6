import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Cell, ResolvedTarget } from "../spec/cells.js";
import { formatTarget } from "../spec/targets.js";
import { planProbe } from "./probes.js";
import type { AddressBook } from "./probes.js";

function cell(target: ResolvedTarget): Cell {
  const to = formatTarget(target);
  return {
    id: `s/step: ns/a -> ${to}`,
    scenario: "s",
    step: "step",
    stepIndex: 0,
    from: "ns/a",
    source: { namespace: "ns", name: "a" },
    to,
    target,
    expected: { outcome: "ALLOWED" },
    specPath: [],
  };
}

const book: AddressBook = {
  podIP: (ns, name) => new Map([["ns/a", "10.244.0.5"], ["ns/b", "10.244.1.7"]]).get(`${ns}/${name}`),
  serviceIP: (ns, name) => new Map([["ns/web", "10.96.0.20"], ["ns/headless", "None"]]).get(`${ns}/${name}`),
  nodeAddressOfPod: (ns, name) => (`${ns}/${name}` === "ns/a" ? "198.18.0.11" : undefined),
  nodeAddress: (i) => ["198.18.0.11", "198.18.0.12"][i - 1],
  apiServerAddress: () => "198.18.0.1",
  healthAddress: (i) => ["10.244.0.9", undefined][i - 1],
  world: { dnsServer: "203.0.113.53:53", dnsProbeName: "world.conform.test" },
};

describe("cell → probe", () => {
  test("pods, services, nodes and the source's host resolve to their addresses", () => {
    const plan = (t: ResolvedTarget) => planProbe(cell(t), "p0", 3000, book);
    assert.deepEqual(plan({ kind: "pod", namespace: "ns", name: "b", port: 8080, protocol: "tcp" }), {
      ok: true,
      probe: { kind: "tcp", id: "p0", timeoutMs: 3000, host: "10.244.1.7", port: 8080 },
    });
    assert.deepEqual(plan({ kind: "service", namespace: "ns", name: "web", port: 80, protocol: "udp" }), {
      ok: true,
      probe: { kind: "udp", id: "p0", timeoutMs: 3000, host: "10.96.0.20", port: 80 },
    });
    assert.deepEqual(plan({ kind: "host", port: 10250, protocol: "tcp" }), { ok: true, probe: { kind: "tcp", id: "p0", timeoutMs: 3000, host: "198.18.0.11", port: 10250 } });
    assert.deepEqual(plan({ kind: "node", index: 2, port: 10250, protocol: "tcp" }), { ok: true, probe: { kind: "tcp", id: "p0", timeoutMs: 3000, host: "198.18.0.12", port: 10250 } });
    assert.deepEqual(plan({ kind: "apiserver", port: 6443, protocol: "tcp" }), { ok: true, probe: { kind: "tcp", id: "p0", timeoutMs: 3000, host: "198.18.0.1", port: 6443 } });
    assert.deepEqual(plan({ kind: "health", index: 1, port: 4240, protocol: "tcp" }), { ok: true, probe: { kind: "tcp", id: "p0", timeoutMs: 3000, host: "10.244.0.9", port: 4240 } });
    assert.deepEqual(plan({ kind: "cidr", cidr: "203.0.113.16/28", address: "203.0.113.17", port: 80, protocol: "tcp" }), {
      ok: true,
      probe: { kind: "tcp", id: "p0", timeoutMs: 3000, host: "203.0.113.17", port: 80 },
    });
  });

  test("http targets carry the request; world names resolve with the world DNS server", () => {
    const p = planProbe(cell({ kind: "world", host: "world.conform.test", port: 80, protocol: "http", http: { method: "POST", path: "/admin" } }), "p1", 2000, book);
    assert.deepEqual(p, {
      ok: true,
      probe: { kind: "http", id: "p1", timeoutMs: 2000, host: "world.conform.test", port: 80, method: "POST", path: "/admin", dnsServer: "203.0.113.53:53" },
    });
  });

  test("port 53 becomes a DNS query: the world name for world servers, the cluster name otherwise", () => {
    assert.deepEqual(planProbe(cell({ kind: "world", host: "203.0.113.53", port: 53, protocol: "udp" }), "p0", 3000, book), {
      ok: true,
      probe: { kind: "dns", id: "p0", timeoutMs: 3000, name: "world.conform.test", type: "A", server: "203.0.113.53:53", transport: "udp" },
    });
    assert.deepEqual(planProbe(cell({ kind: "service", namespace: "ns", name: "web", port: 53, protocol: "tcp" }), "p0", 3000, book), {
      ok: true,
      probe: { kind: "dns", id: "p0", timeoutMs: 3000, name: "kubernetes.default.svc.cluster.local", type: "A", server: "10.96.0.20:53", transport: "tcp" },
    });
  });

  test("what cannot be probed says why", () => {
    const { world: _world, ...noWorld } = book;
    const cases: [ResolvedTarget, AddressBook, RegExp][] = [
      [{ kind: "pod", namespace: "ns", name: "gone", port: 80, protocol: "tcp" }, book, /pod ns\/gone has no IP/],
      [{ kind: "service", namespace: "ns", name: "headless", port: 80, protocol: "tcp" }, book, /headless/],
      [{ kind: "node", index: 3, port: 80, protocol: "tcp" }, book, /node 3 does not exist/],
      [{ kind: "world", host: "world.conform.test", port: 80, protocol: "http" }, noWorld, /no world hosts/],
      [{ kind: "health", index: 2, port: 4240, protocol: "tcp" }, book, /node 2 has no health endpoint/],
      [{ kind: "health", index: 3, port: 4240, protocol: "tcp" }, book, /node 3 does not exist/],
      [{ kind: "apiserver", port: 6443, protocol: "tcp" }, { ...book, apiServerAddress: () => undefined }, /kube-apiserver has no address/],
      [{ kind: "world", host: "dns.conform.test", port: 53, protocol: "udp" }, book, /needs an IP address/],
    ];
    for (const [target, b, re] of cases) {
      const p = planProbe(cell(target), "p0", 3000, b);
      assert.equal(p.ok, false);
      if (!p.ok) assert.match(p.error, re);
    }
  });
});
