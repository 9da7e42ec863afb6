import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1Node } from "@kubernetes/client-node";
import { isEmptyChange, planPeers, planTunnelChanges, vtepMac } from "./plan.js";
import type { TunnelKernelState, TunnelPeer } from "./plan.js";

const node = (name: string, ip: string | undefined, podCIDR: string | undefined): V1Node => ({
  metadata: { name },
  spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
  status: { addresses: [...(ip ? [{ type: "InternalIP", address: ip }] : []), { type: "Hostname", address: name }] },
});

const cluster = [node("node1", "198.18.0.11", "10.244.1.0/24"), node("node2", "198.18.0.12", "10.244.2.0/24"), node("node3", "198.18.0.13", "10.244.3.0/24")];
const opts = { device: "cf_vxlan", src: "10.244.1.1" };
const empty: TunnelKernelState = { routes: [], neighbours: [], fdb: [] };

/** What the kernel shows once a plan for `peers` has been applied (iproute2 -j shapes). */
function applied(peers: readonly TunnelPeer[], src = opts.src): TunnelKernelState {
  return {
    routes: peers.map((p) => ({ dst: p.podCIDR, gateway: p.vtepIP, prefsrc: src, flags: ["onlink"] })),
    neighbours: peers.map((p) => ({ dst: p.vtepIP, lladdr: p.vtepMac, state: ["PERMANENT"] })),
    fdb: peers.map((p) => ({ mac: p.vtepMac, dst: p.underlayIP, state: "permanent" })),
  };
}

describe("vtepMac", () => {
  test("is locally administered unicast and carries the underlay address", () => {
    assert.equal(vtepMac("198.18.0.12"), "0e:cf:c6:12:00:0c");
    const first = parseInt(vtepMac("10.0.0.1").slice(0, 2), 16);
    assert.equal(first & 1, 0, "unicast");
    assert.equal(first & 2, 2, "locally administered");
  });
});

describe("planPeers", () => {
  test("every other node with an address and a pod CIDR, sorted, next hop = network address", () => {
    const { peers, skipped } = planPeers("node2", [...cluster].reverse());
    assert.deepEqual(peers, [
      { node: "node1", podCIDR: "10.244.1.0/24", underlayIP: "198.18.0.11", vtepIP: "10.244.1.0", vtepMac: "0e:cf:c6:12:00:0b" },
      { node: "node3", podCIDR: "10.244.3.0/24", underlayIP: "198.18.0.13", vtepIP: "10.244.3.0", vtepMac: "0e:cf:c6:12:00:0d" },
    ]);
    assert.deepEqual(skipped, []);
  });

  test("nodes not ready for the tunnel are skipped with a reason, never guessed", () => {
    const { peers, skipped } = planPeers("node1", [
      cluster[0]!,
      node("no-cidr", "198.18.0.20", undefined),
      node("no-ip", undefined, "10.244.9.0/24"),
      node("clash", "198.18.0.21", "10.244.1.128/25"),
      node("same-ip", "198.18.0.11", "10.244.8.0/24"),
      node("bad", "198.18.0.22", "10.244.300.0/24"),
      node("v6", "fd00::1", "fd00:10::/64"),
    ]);
    assert.deepEqual(peers, []);
    assert.deepEqual(
      skipped.map((s) => s.node),
      ["bad", "clash", "no-cidr", "no-ip", "same-ip", "v6"],
    );
    assert.match(skipped.find((s) => s.node === "clash")!.reason, /overlaps/);
  });

  test("the first of two overlapping remote CIDRs wins (by name)", () => {
    const { peers, skipped } = planPeers("node1", [cluster[0]!, node("b", "198.18.0.31", "10.244.5.0/24"), node("a", "198.18.0.30", "10.244.5.0/24")]);
    assert.deepEqual(peers.map((p) => p.node), ["a"]);
    assert.deepEqual(skipped.map((s) => s.node), ["b"]);
  });

  test("a host-bits CIDR is normalised; dual-stack nodes use their IPv4 CIDR", () => {
    const dual: V1Node = { metadata: { name: "d" }, spec: { podCIDR: "fd00:1::/64", podCIDRs: ["fd00:1::/64", "10.244.7.5/24"] }, status: { addresses: [{ type: "InternalIP", address: "fd00::7" }, { type: "InternalIP", address: "198.18.0.17" }] } };
    const { peers } = planPeers("node1", [cluster[0]!, dual]);
    assert.deepEqual(peers, [{ node: "d", podCIDR: "10.244.7.0/24", underlayIP: "198.18.0.17", vtepIP: "10.244.7.0", vtepMac: "0e:cf:c6:12:00:11" }]);
  });
});

describe("planTunnelChanges", () => {
  const peers = planPeers("node1", cluster).peers;

  test("from nothing: FDB, then neighbours, then routes", () => {
    const c = planTunnelChanges(peers, empty, opts);
    assert.deepEqual(c.ipRemove, []);
    assert.deepEqual(c.bridge, ["fdb replace 0e:cf:c6:12:00:0c dev cf_vxlan dst 198.18.0.12 permanent", "fdb replace 0e:cf:c6:12:00:0d dev cf_vxlan dst 198.18.0.13 permanent"]);
    assert.deepEqual(c.ipAdd, [
      "neigh replace 10.244.2.0 lladdr 0e:cf:c6:12:00:0c dev cf_vxlan nud permanent",
      "neigh replace 10.244.3.0 lladdr 0e:cf:c6:12:00:0d dev cf_vxlan nud permanent",
      "route replace 10.244.2.0/24 via 10.244.2.0 dev cf_vxlan onlink src 10.244.1.1",
      "route replace 10.244.3.0/24 via 10.244.3.0 dev cf_vxlan onlink src 10.244.1.1",
    ]);
  });

  test("an applied plan plans nothing (restart / periodic resync is a no-op)", () => {
    assert.ok(isEmptyChange(planTunnelChanges(peers, applied(peers), opts)));
  });

  test("a node that left: its route, neighbour and FDB entry go, nothing else is touched", () => {
    const c = planTunnelChanges(peers.slice(0, 1), applied(peers), opts);
    assert.deepEqual(c.ipRemove, ["route del 10.244.3.0/24 dev cf_vxlan", "neigh del 10.244.3.0 dev cf_vxlan"]);
    assert.deepEqual(c.bridge, ["fdb del 0e:cf:c6:12:00:0d dev cf_vxlan dst 198.18.0.13"]);
    assert.deepEqual(c.ipAdd, []);
  });

  test("a node that joined is added alone", () => {
    const c = planTunnelChanges(peers, applied(peers.slice(0, 1)), opts);
    assert.deepEqual(c.ipRemove, []);
    assert.deepEqual(c.bridge, ["fdb replace 0e:cf:c6:12:00:0d dev cf_vxlan dst 198.18.0.13 permanent"]);
    assert.deepEqual(c.ipAdd, ["neigh replace 10.244.3.0 lladdr 0e:cf:c6:12:00:0d dev cf_vxlan nud permanent", "route replace 10.244.3.0/24 via 10.244.3.0 dev cf_vxlan onlink src 10.244.1.1"]);
  });

  test("a node that changed address: new MAC and remote, old FDB entry removed, route kept", () => {
    const moved = planPeers("node1", [cluster[0]!, cluster[1]!, node("node3", "198.18.0.23", "10.244.3.0/24")]).peers;
    const c = planTunnelChanges(moved, applied(peers), opts);
    assert.deepEqual(c.ipRemove, []);
    assert.deepEqual(c.bridge, ["fdb del 0e:cf:c6:12:00:0d dev cf_vxlan dst 198.18.0.13", "fdb replace 0e:cf:c6:12:00:17 dev cf_vxlan dst 198.18.0.23 permanent"]);
    assert.deepEqual(c.ipAdd, ["neigh replace 10.244.3.0 lladdr 0e:cf:c6:12:00:17 dev cf_vxlan nud permanent"]);
  });

  test("a node whose pod CIDR changed: old route and neighbour out, new ones in", () => {
    const moved = planPeers("node1", [cluster[0]!, cluster[1]!, node("node3", "198.18.0.13", "10.244.33.0/24")]).peers;
    const c = planTunnelChanges(moved, applied(peers), opts);
    assert.deepEqual(c.ipRemove, ["route del 10.244.3.0/24 dev cf_vxlan", "neigh del 10.244.3.0 dev cf_vxlan"]);
    assert.deepEqual(c.bridge, []);
    assert.deepEqual(c.ipAdd, ["neigh replace 10.244.33.0 lladdr 0e:cf:c6:12:00:0d dev cf_vxlan nud permanent", "route replace 10.244.33.0/24 via 10.244.33.0 dev cf_vxlan onlink src 10.244.1.1"]);
  });

  test("wrong details are corrected: extra remotes, a learnt neighbour, a route without onlink or src", () => {
    const state = applied(peers);
    const tampered: TunnelKernelState = {
      routes: [{ ...state.routes[0]!, flags: [] }, { ...state.routes[1]!, prefsrc: "198.18.0.11" }],
      neighbours: [{ ...state.neighbours[0]!, state: ["STALE"] }, state.neighbours[1]!, { dst: "10.244.9.0", state: ["FAILED"] }],
      fdb: [...state.fdb, { mac: state.fdb[0]!.mac, dst: "198.18.0.99", state: "permanent" }, { mac: "00:00:00:00:00:00", dst: "198.18.0.50", state: "permanent" }],
    };
    const c = planTunnelChanges(peers, tampered, opts);
    assert.deepEqual(c.ipRemove, ["neigh del 10.244.9.0 dev cf_vxlan"]);
    assert.deepEqual(c.bridge, [
      "fdb del 00:00:00:00:00:00 dev cf_vxlan dst 198.18.0.50",
      "fdb del 0e:cf:c6:12:00:0c dev cf_vxlan dst 198.18.0.99",
      "fdb replace 0e:cf:c6:12:00:0c dev cf_vxlan dst 198.18.0.12 permanent",
    ]);
    assert.deepEqual(c.ipAdd, [
      "neigh replace 10.244.2.0 lladdr 0e:cf:c6:12:00:0c dev cf_vxlan nud permanent",
      "route replace 10.244.2.0/24 via 10.244.2.0 dev cf_vxlan onlink src 10.244.1.1",
      "route replace 10.244.3.0/24 via 10.244.3.0 dev cf_vxlan onlink src 10.244.1.1",
    ]);
  });

  test("no peers: everything on the device is removed", () => {
    const c = planTunnelChanges([], applied(peers), opts);
    assert.equal(c.ipRemove.length, 4);
    assert.equal(c.bridge.length, 2);
    assert.deepEqual(c.ipAdd, []);
  });
});
