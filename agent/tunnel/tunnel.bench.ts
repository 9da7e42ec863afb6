// Cross-node pod traffic, VXLAN tunnel (TunnelSync's overlay, pod MTU 1450) against native
// routing (podCIDR via node address, MTU 1500), side by side on one pair of node netns joined by
// a veth underlay: one pod pair per mode, rounds alternating, medians printed. Plain kernel
// forwarding on both (no BPF: the endpoint programs are the same in both modes, so only the
// overlay's cost differs). Printed, never asserted.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { loadavg } from "node:os";
import type { V1Node } from "@kubernetes/client-node";
import { ip, ipBatch } from "../../harness/util/exec.js";
import { median, NETBENCH, runNetbench } from "../../bpf/tests/bench/netbench.js";
import { TunnelSync } from "./tunnel-sync.js";

const ROUNDS = Number(process.env["CF_BENCH_ROUNDS"] ?? 6);
const SECONDS = Number(process.env["CF_BENCH_SECONDS"] ?? 1);
const PORT = 9000;
const P = `cft-vxb${process.pid}`;
const NODES = { a: { ns: `${P}-a`, ip: "198.18.0.11" }, b: { ns: `${P}-b`, ip: "198.18.0.12" } } as const;
type Mode = "tunnel" | "native";
const PODS: Record<Mode, { client: { ns: string; ip: string }; server: { ns: string; ip: string }; mtu: number }> = {
  tunnel: { client: { ns: `${P}-ta`, ip: "10.244.1.10" }, server: { ns: `${P}-tb`, ip: "10.244.2.10" }, mtu: 1450 },
  native: { client: { ns: `${P}-na`, ip: "10.244.11.10" }, server: { ns: `${P}-nb`, ip: "10.244.12.10" }, mtu: 1500 },
};
const ALL_NS = [NODES.a.ns, NODES.b.ns, ...Object.values(PODS).flatMap((p) => [p.client.ns, p.server.ns])];


/** A pod netns on `node`: /32 address, default route via a link-local gateway on the host veth. */
async function addPod(node: string, pod: { ns: string; ip: string }, hostIf: string, mtu: number): Promise<void> {
  await ip(["netns", "add", pod.ns]);
  await ip(["link", "add", hostIf, "mtu", String(mtu), "netns", node, "type", "veth", "peer", "name", "eth0", "mtu", String(mtu), "netns", pod.ns]);
  await ipBatch(["link set lo up", `addr add ${pod.ip}/32 dev eth0`, "link set eth0 up", "route add 169.254.1.1/32 dev eth0", "route add default via 169.254.1.1"], pod.ns);
  await ipBatch([`addr add 169.254.1.1/32 dev ${hostIf}`, `link set ${hostIf} up`, `route add ${pod.ip}/32 dev ${hostIf}`], node);
}

const servers: ChildProcess[] = [];
try {
  for (const n of Object.values(NODES)) await ip(["netns", "add", n.ns]);
  await ip(["link", "add", "eth0", "netns", NODES.a.ns, "type", "veth", "peer", "name", "eth0", "netns", NODES.b.ns]);
  for (const [n, router] of [
    [NODES.a, "10.244.1.1"],
    [NODES.b, "10.244.2.1"],
  ] as const) {
    await ipBatch(["link set lo up", `addr add ${n.ip}/24 dev eth0`, "link set eth0 up", "link add cf_host type veth peer name cf_net", `addr add ${router}/32 dev cf_host`, "link set cf_host up", "link set cf_net up"], n.ns);
    await spawnOk(["ip", "netns", "exec", n.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  }
  await addPod(NODES.a.ns, PODS.tunnel.client, "vt", PODS.tunnel.mtu);
  await addPod(NODES.b.ns, PODS.tunnel.server, "vt", PODS.tunnel.mtu);
  await addPod(NODES.a.ns, PODS.native.client, "vn", PODS.native.mtu);
  await addPod(NODES.b.ns, PODS.native.server, "vn", PODS.native.mtu);
  // Native: the underlay "router" is the two route tables; tunnel: the agent's overlay.
  await ip(["route", "add", "10.244.12.0/24", "via", NODES.b.ip], NODES.a.ns);
  await ip(["route", "add", "10.244.11.0/24", "via", NODES.a.ip], NODES.b.ns);
  const nodes: V1Node[] = [
    { metadata: { name: "a" }, spec: { podCIDR: "10.244.1.0/24" }, status: { addresses: [{ type: "InternalIP", address: NODES.a.ip }] } },
    { metadata: { name: "b" }, spec: { podCIDR: "10.244.2.0/24" }, status: { addresses: [{ type: "InternalIP", address: NODES.b.ip }] } },
  ];
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  await new TunnelSync({ nodeName: "a", nodes: () => nodes, routerIP: "10.244.1.1", log: quiet, netnsPath: `/var/run/netns/${NODES.a.ns}` }).reconcile();
  await new TunnelSync({ nodeName: "b", nodes: () => nodes, routerIP: "10.244.2.1", log: quiet, netnsPath: `/var/run/netns/${NODES.b.ns}` }).reconcile();

  for (const mode of ["tunnel", "native"] as const) {
    const srv = spawn("ip", ["netns", "exec", PODS[mode].server.ns, NETBENCH, "server", String(PORT)]);
    servers.push(srv);
    await new Promise<void>((resolve) => srv.stdout.once("data", () => resolve()));
  }
  const loadAtStart = loadavg()[0]?.toFixed(1);
  const rr: Record<Mode, number[]> = { tunnel: [], native: [] };
  const stream: Record<Mode, number[]> = { tunnel: [], native: [] };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which mode goes first, so drift in machine load hits both alike.
    const order: Mode[] = round % 2 === 0 ? ["tunnel", "native"] : ["native", "tunnel"];
    for (const mode of order) rr[mode].push(await runNetbench(PODS[mode].client.ns, ["rr", PODS[mode].server.ip, String(PORT), String(SECONDS), "1"]));
    for (const mode of order) stream[mode].push(await runNetbench(PODS[mode].client.ns, ["stream", PODS[mode].server.ip, String(PORT + 1), String(SECONDS)]));
  }
  const load = `load ${loadAtStart}→${loadavg()[0]?.toFixed(1)}, ${ROUNDS} rounds × ${SECONDS}s, medians`;
  console.log(`cross-node TCP, VXLAN tunnel vs native routing (${load})`);
  console.log(`  request/response (1 byte): tunnel ${median(rr.tunnel).toFixed(0)}/s, native ${median(rr.native).toFixed(0)}/s, tunnel/native ${(median(rr.tunnel) / median(rr.native)).toFixed(2)}`);
  console.log(
    `  stream (64 KiB writes): tunnel ${((median(stream.tunnel) * 8) / 1e9).toFixed(2)} Gbit/s, native ${((median(stream.native) * 8) / 1e9).toFixed(2)} Gbit/s, tunnel/native ${(median(stream.tunnel) / median(stream.native)).toFixed(2)}`,
  );
} finally {
  for (const s of servers) if (s.exitCode === null && s.pid !== undefined) process.kill(s.pid, "SIGKILL");
  for (const ns of ALL_NS) await ip(["netns", "delete", ns]).catch(() => undefined);
}

function spawnOk(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => spawn(argv[0]!, argv.slice(1), { stdio: "ignore" }).on("close", (c) => (c === 0 ? resolve() : reject(new Error(`${argv.join(" ")} failed`)))));
}
