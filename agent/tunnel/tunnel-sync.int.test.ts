// TunnelSync on real kernels without a cluster: two network namespaces joined by a veth "underlay",
// each with a router address like the agent's cf_host, and a Node list the test edits. Asserts
// the overlay carries traffic between the routers, that a second pass and a fresh instance (an
// agent restart) change nothing, and that joins, leaves and a device made with other parameters
// are reconciled.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1Node } from "@kubernetes/client-node";
import { ip, ipBatch, run } from "../../harness/util/exec.js";
import type { Logger } from "../k8s/log.js";
import { VXLAN_DEVICE, vtepMac } from "./plan.js";
import { TunnelSync } from "./tunnel-sync.js";
import { removeVxlanDevice, tunnelPodMtu } from "./vxlan-device.js";

const A = `cft-vxlan-a${process.pid}`;
const B = `cft-vxlan-b${process.pid}`;
const path = (ns: string): string => `/var/run/netns/${ns}`;
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

const node = (name: string, address: string, podCIDR: string): V1Node => ({ metadata: { name }, spec: { podCIDR }, status: { addresses: [{ type: "InternalIP", address }] } });

describe("TunnelSync between two network namespaces", { timeout: 60_000 }, () => {
  const nodes: V1Node[] = [node("a", "198.18.0.11", "10.244.1.0/24"), node("b", "198.18.0.12", "10.244.2.0/24")];
  const syncA = () => new TunnelSync({ nodeName: "a", nodes: () => nodes, routerIP: "10.244.1.1", log: quiet, netnsPath: path(A) });
  const syncB = () => new TunnelSync({ nodeName: "b", nodes: () => nodes, routerIP: "10.244.2.1", log: quiet, netnsPath: path(B) });
  const ping = async (ns: string, to: string): Promise<boolean> =>
    run("ip", ["netns", "exec", ns, "ping", "-c", "1", "-W", "2", to]).then(
      () => true,
      () => false,
    );
  const ifindex = async (ns: string): Promise<string> => (await ip(["-o", "link", "show", "dev", VXLAN_DEVICE], ns)).split(":")[0] ?? "";
  const fdb = (ns: string): Promise<string> => run("ip", ["netns", "exec", ns, "bridge", "fdb", "show", "dev", VXLAN_DEVICE]);

  before(async () => {
    for (const ns of [A, B]) await ip(["netns", "add", ns]);
    await ip(["link", "add", "eth0", "netns", A, "type", "veth", "peer", "name", "eth0", "netns", B]);
    for (const [ns, addr, router] of [
      [A, "198.18.0.11", "10.244.1.1"],
      [B, "198.18.0.12", "10.244.2.1"],
    ] as const) {
      await ipBatch(
        [
          "link set lo up",
          `addr add ${addr}/24 dev eth0`,
          "link set eth0 up",
          "link add cf_host type veth peer name cf_net",
          `addr add ${router}/32 dev cf_host`,
          "link set cf_host up",
          "link set cf_net up",
        ],
        ns,
      );
    }
  });

  after(async () => {
    for (const ns of [A, B]) await ip(["netns", "delete", ns]).catch(() => undefined);
  });

  test("pod MTU in tunnel mode: the underlay's less 50", async () => {
    assert.equal(await tunnelPodMtu("198.18.0.11", path(A)), 1450);
    assert.equal(await tunnelPodMtu(undefined, path(A)), 1450, "unknown underlay: assume 1500");
  });

  test("first pass builds the overlay and the routers reach each other through it", async () => {
    assert.equal(await ping(A, "10.244.2.1"), false, "no path before the tunnel");
    const a = await syncA().reconcile();
    const b = await syncB().reconcile();
    assert.deepEqual(a.peers.map((p) => p.node), ["b"]);
    assert.ok(a.commands > 0 && b.commands > 0);
    assert.equal(await ping(A, "10.244.2.1"), true);
    assert.equal(await ping(B, "10.244.1.1"), true);
  });

  test("a second pass and a fresh instance (agent restart) change nothing", async () => {
    const before = await ifindex(A);
    assert.equal((await syncA().reconcile()).commands, 0);
    const restarted = syncA();
    assert.equal((await restarted.reconcile()).commands, 0);
    assert.equal(await ifindex(A), before, "the device was kept");
  });

  test("a node joining and leaving", async () => {
    nodes.push(node("c", "198.18.0.13", "10.244.3.0/24"));
    await syncA().reconcile();
    assert.match(await ip(["-4", "route", "show", "dev", VXLAN_DEVICE], A), /^10\.244\.3\.0\/24 via 10\.244\.3\.0 .*onlink/m);
    assert.match(await fdb(A), new RegExp(`^${vtepMac("198.18.0.13")} dst 198\\.18\\.0\\.13 `, "m"));
    nodes.pop();
    await syncA().reconcile();
    assert.doesNotMatch(await ip(["-4", "route", "show", "dev", VXLAN_DEVICE], A), /10\.244\.3\./);
    assert.doesNotMatch(await ip(["-4", "neigh", "show", "dev", VXLAN_DEVICE], A), /10\.244\.3\./);
    assert.doesNotMatch(await fdb(A), new RegExp(vtepMac("198.18.0.13")));
    assert.equal(await ping(A, "10.244.2.1"), true, "the remaining peer is untouched");
  });

  test("a device with other parameters is re-created; a changed MTU is put back", async () => {
    await ip(["link", "set", "dev", VXLAN_DEVICE, "mtu", "1400"], A);
    assert.ok((await syncA().reconcile()).commands === 0, "MTU fixed in place, overlay entries intact");
    assert.match(await ip(["-o", "link", "show", "dev", VXLAN_DEVICE], A), /mtu 1450/);
    await removeVxlanDevice(VXLAN_DEVICE, path(A));
    await ip(["link", "add", VXLAN_DEVICE, "type", "vxlan", "id", "77", "dstport", "4789", "local", "198.18.0.11", "dev", "eth0"], A);
    assert.ok((await syncA().reconcile()).commands > 0);
    assert.match(await ip(["-d", "-o", "link", "show", "dev", VXLAN_DEVICE], A), /vxlan id 2 .*dstport 8472 .*nolearning/);
    assert.equal(await ping(A, "10.244.2.1"), true);
  });

  test("removal takes every overlay entry with the device", async () => {
    assert.equal(await removeVxlanDevice(VXLAN_DEVICE, path(A)), true);
    assert.equal(await removeVxlanDevice(VXLAN_DEVICE, path(A)), false);
    assert.doesNotMatch(await ip(["-4", "route", "show"], A), /10\.244\.2\./);
    assert.equal(await ping(A, "10.244.2.1"), false);
  });
});
