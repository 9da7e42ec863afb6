// Cross-node routing of a 2-node `cni: conform` cluster, once per mode (spec.routing), on real
// clusters: pod↔pod TCP across nodes, what the underlay carries (captured with tcpdump on node 2's
// underlay interface and decoded here: VXLAN UDP/8472 with the pod addresses inside in tunnel
// mode, plain pod addresses in native mode, never both), pods reaching the world and the nodes,
// and one CiliumNetworkPolicy admitting one cross-node client and dropping another in both modes.
// Tunnel mode also checks the overlay follows Node objects joining, changing and leaving, and that
// a restarted agent leaves a converged overlay untouched.
import { after, before, describe, test } from "node:test";
import { createProbePod, waitPodReady } from "./testing/probe-pods.js";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { POLICY_STATUS_FILE } from "../../../agent/agent.js";
import type { PolicySyncStatus } from "../../../agent/sync/policy-sync.js";
import { VXLAN_DEVICE, VXLAN_PORT, VXLAN_VNI, vtepMac } from "../../../agent/tunnel/plan.js";
import { BpfMap, Direction, MAP_NAMES, PerCpuTypedMap, metricsIndex, metricsValueCodec, u32Codec } from "../../../native/index.js";
import { loadKubeConfig } from "../../kube/client.js";
import { NetnsProbeExecutor } from "../../probe/netns-executor.js";
import type { ProbeInput, ProbeResult } from "../../probe/schema.js";
import { ip, run } from "../../util/exec.js";
import { waitFor } from "../../util/wait.js";
import { defaultLocalConfig } from "./config.js";
import type { RoutingMode } from "./config.js";
import { downCluster } from "./down.js";
import { netnsNames } from "./names.js";
import { agentContainerPids, agentLogFiles, agentPinDir } from "./node-agent.js";
import { clusterStateDir } from "./paths.js";
import { localCapabilities } from "./provider.js";
import { readState } from "./state.js";
import type { NodeRecord } from "./state.js";
import { listNetns, WORLD_HOSTS } from "./topology.js";
import { kubeconfigPath, upCluster } from "./up.js";
import { mergePatch } from "./kubelet/kube.js";

const NS = "rt";
const CNP = { group: "cilium.io", version: "v2", plural: "ciliumnetworkpolicies" } as const;
const dir = mkdtempSync(join(tmpdir(), "cft-vxlan-int-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// ---- pcap (tcpdump -w) decoding: just enough for Ethernet/IPv4/UDP/VXLAN -----------------------

interface Ipv4Header {
  readonly src: string;
  readonly dst: string;
  readonly proto: number;
}
interface WirePacket extends Ipv4Header {
  readonly udpDstPort?: number;
  /** Present for UDP to the VXLAN port: the VNI and the encapsulated IPv4 header. */
  readonly vxlan?: { readonly vni: number; readonly inner?: Ipv4Header };
}

const ipText = (b: Buffer, at: number): string => [b[at], b[at + 1], b[at + 2], b[at + 3]].join(".");

/** The IPv4 header of an Ethernet frame starting at `at`, and where its payload starts. */
function ipv4Of(frame: Buffer, at: number): { header: Ipv4Header; payload: number } | undefined {
  if (frame.length < at + 14 + 20 || frame.readUInt16BE(at + 12) !== 0x0800) return undefined;
  const ipAt = at + 14;
  const ihl = (frame[ipAt]! & 0x0f) * 4;
  return { header: { src: ipText(frame, ipAt + 12), dst: ipText(frame, ipAt + 16), proto: frame[ipAt + 9]! }, payload: ipAt + ihl };
}

function readPcap(file: string): WirePacket[] {
  const buf = readFileSync(file);
  const magic = buf.readUInt32LE(0);
  assert.ok(magic === 0xa1b2c3d4 || magic === 0xa1b23c4d, `${file} is a little-endian pcap file`);
  assert.equal(buf.readUInt32LE(20), 1, "link type Ethernet");
  const out: WirePacket[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off + 8);
    const frame = buf.subarray(off + 16, off + 16 + len);
    off += 16 + len;
    const outer = ipv4Of(frame, 0);
    if (!outer) continue;
    if (outer.header.proto !== 17 || frame.length < outer.payload + 8) {
      out.push(outer.header);
      continue;
    }
    const udpDstPort = frame.readUInt16BE(outer.payload + 2);
    if (udpDstPort !== VXLAN_PORT) {
      out.push({ ...outer.header, udpDstPort });
      continue;
    }
    const vx = outer.payload + 8;
    const vni = frame.length >= vx + 8 ? frame.readUIntBE(vx + 4, 3) : -1;
    const inner = ipv4Of(frame, vx + 8)?.header;
    out.push({ ...outer.header, udpDstPort, vxlan: { vni, ...(inner ? { inner } : {}) } });
  }
  return out;
}

/** tcpdump on `netns`/`dev` into a file until `stop()`; resolves once it is listening. */
async function capture(netns: string, dev: string, filter: string, file: string): Promise<{ stop(): Promise<WirePacket[]> }> {
  // --immediate-mode: without it libpcap fills TPACKET_V3 blocks and a capture stopped right after a
  // short exchange can lose the block still open (0 packets written).
  const child = spawn("ip", ["netns", "exec", netns, "tcpdump", "--immediate-mode", "-i", dev, "-n", "-U", "-s", "256", "-w", file, filter], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitFor("tcpdump to listen", async () => (stderr.includes("listening on") ? true : child.exitCode !== null ? Promise.reject(new Error(`tcpdump exited: ${stderr}`)) : undefined), {
    timeoutMs: 10_000,
    intervalMs: 50,
  });
  return {
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGINT");
      await exited;
      return readPcap(file);
    },
  };
}

// ---- one cluster per mode ------------------------------------------------------------------------

for (const mode of ["tunnel", "native"] as const satisfies readonly RoutingMode[]) {
  describe(`${mode} routing on a 2-node cni: conform cluster`, { timeout: 420_000 }, () => {
    const name = `rt${mode[0]}${process.pid}`;
    let kc: KubeConfig;
    let core: CoreV1Api;
    let custom: CustomObjectsApi;
    let nodes: NodeRecord[];
    const pods = new Map<string, V1Pod>();
    const probes = new NetnsProbeExecutor({ resolveNetns: (p) => netnsNames.pod(name, pods.get(p.name)?.metadata?.uid ?? "") });
    const podIP = (pod: string): string => pods.get(pod)!.status!.podIP!;
    const agentLog = (node: NodeRecord): string => agentLogFiles(clusterStateDir(name), node.name).map((f) => readFileSync(f, "utf8")).join("\n");

    before(async () => {
      const base = defaultLocalConfig();
      await upCluster({ name, config: { ...base, metadata: { name }, spec: { ...base.spec, nodes: 2, cni: "conform", routing: mode, world: true } } });
      nodes = readState(name)!.nodes;
      kc = loadKubeConfig(kubeconfigPath(name));
      core = kc.makeApiClient(CoreV1Api);
      custom = kc.makeApiClient(CustomObjectsApi);
      await core.createNamespace({ body: { metadata: { name: NS } } });
      // srv on node 2; a client the policy admits and one it does not, both on node 1.
      const place = [
        ["srv", nodes[1]!],
        ["good", nodes[0]!],
        ["bad", nodes[0]!],
      ] as const;
      for (const [pod, node] of place) await createProbePod(core, { namespace: NS, name: pod, node: node.name, args: ["serve", "--http", "8080", "--tcp", "9000"] });
      const logTails = async () => nodes.map((n) => agentLog(n).split("\n").slice(-15).join("\n")).join("\n---\n");
      for (const [pod] of place) pods.set(pod, await waitPodReady(core, NS, pod, logTails));
    });

    after(async () => {
      await downCluster(name);
      assert.deepEqual(listNetns().filter((n) => n.startsWith(netnsNames.prefix(name))), [], "every netns of the cluster is gone");
      // The VXLAN devices lived in the node netns; nothing of them may be in the root netns.
      assert.doesNotMatch(await ip(["-o", "link", "show"]), new RegExp(`\\b${VXLAN_DEVICE}\\b`), "no VXLAN device in the root netns");
    });

    /** TCP connect from a pod (with a payload: it must come back from the echo server too). */
    async function tcp(from: string, host: string, port: number, payload?: string): Promise<ProbeResult> {
      const input: ProbeInput = { kind: "tcp", id: `${from}-${host}-${port}`, host, port, timeoutMs: 2000, ...(payload ? { payload } : {}) };
      const [r] = await probes.runBatch({ namespace: NS, name: from }, [input]);
      return r!;
    }

    test("the cluster reports its mode, and the kernel routes match it (devices, routes, pod MTU)", async () => {
      assert.equal(localCapabilities(readState(name)!.config).routingMode, mode);
      const [n1, n2] = [nodes[0]!, nodes[1]!];
      const n2Cidr = readState(name)!.nodes[1]!.podCIDR!;
      const routes = await ip(["-4", "route", "show", n2Cidr], n1.netns);
      const podMtu = JSON.parse(await ip(["-j", "link", "show", "dev", "eth0"], netnsNames.pod(name, pods.get("good")!.metadata!.uid!))) as { mtu: number }[];
      if (mode === "tunnel") {
        const link = JSON.parse(await ip(["-j", "-d", "link", "show", "dev", VXLAN_DEVICE], n1.netns)) as { mtu: number; address: string; linkinfo: { info_kind: string; info_data: { id: number; port: number; local: string; learning: boolean } } }[];
        assert.equal(link[0]!.linkinfo.info_kind, "vxlan");
        assert.deepEqual(
          { id: link[0]!.linkinfo.info_data.id, port: link[0]!.linkinfo.info_data.port, local: link[0]!.linkinfo.info_data.local, learning: link[0]!.linkinfo.info_data.learning, mac: link[0]!.address, mtu: link[0]!.mtu },
          { id: VXLAN_VNI, port: VXLAN_PORT, local: n1.ip, learning: false, mac: vtepMac(n1.ip), mtu: 1450 },
        );
        assert.match(routes, new RegExp(`^${n2Cidr.replaceAll(".", "\\.")} via \\S+ dev ${VXLAN_DEVICE} .*onlink`, "m"));
        assert.doesNotMatch(routes, new RegExp(`via ${n2.ip.replaceAll(".", "\\.")}`), "no underlay route between nodes");
        const fdb = await run("ip", ["netns", "exec", n1.netns, "bridge", "fdb", "show", "dev", VXLAN_DEVICE]);
        assert.match(fdb, new RegExp(`^${vtepMac(n2.ip)} dst ${n2.ip.replaceAll(".", "\\.")} .*permanent`, "m"));
        assert.equal(podMtu[0]!.mtu, 1450, "pod MTU leaves room for the 50 bytes of VXLAN");
      } else {
        await assert.rejects(ip(["link", "show", "dev", VXLAN_DEVICE], n1.netns), "no VXLAN device in native mode");
        assert.match(routes, new RegExp(`^${n2Cidr.replaceAll(".", "\\.")} via ${n2.ip.replaceAll(".", "\\.")} dev eth0`, "m"));
        assert.equal(podMtu[0]!.mtu, 1500);
      }
    });

    test(`cross-node pod↔pod TCP works, and the underlay carries it ${mode === "tunnel" ? "in VXLAN only" : "as plain pod traffic only"}`, async () => {
      const [n1, n2] = [nodes[0]!, nodes[1]!];
      const pcap = join(dir, `${mode}.pcap`);
      const tap = await capture(n2.netns, "eth0", `udp port ${VXLAN_PORT} or net 10.244.0.0/16`, pcap);
      let results: ProbeResult[] = [];
      let packets: WirePacket[] = [];
      try {
        results = [await tcp("good", podIP("srv"), 9000, "ping-over-the-wire"), await tcp("srv", podIP("good"), 9000, "pong-over-the-wire"), await tcp("bad", podIP("srv"), 8080)];
      } finally {
        packets = await tap.stop();
      }
      assert.deepEqual(
        results.map((r) => r.outcome),
        ["ALLOWED", "ALLOWED", "ALLOWED"],
        results.map((r) => r.detail).join("; "),
      );
      const pair = new Set([podIP("good"), podIP("srv")]);
      const between = (h: Ipv4Header | undefined): boolean => !!h && pair.has(h.src) && pair.has(h.dst);
      const tunnelled = packets.filter((p) => p.vxlan && between(p.vxlan.inner));
      const plain = packets.filter((p) => pair.has(p.src) || pair.has(p.dst));
      const summary = `${packets.length} captured: ${tunnelled.length} VXLAN with the pods inside, ${plain.length} plain with a pod address outside`;
      if (mode === "tunnel") {
        assert.ok(tunnelled.some((p) => p.vxlan!.inner!.src === podIP("good") && p.vxlan!.inner!.proto === 6), `good→srv went through the tunnel (${summary})`);
        assert.ok(tunnelled.some((p) => p.vxlan!.inner!.src === podIP("srv")), `srv→good went through the tunnel (${summary})`);
        for (const p of tunnelled) {
          assert.equal(p.vxlan!.vni, VXLAN_VNI);
          assert.deepEqual(new Set([p.src, p.dst]), new Set([n1.ip, n2.ip]), "outer addresses are the nodes'");
        }
        assert.equal(plain.length, 0, `no pod address on the underlay outside VXLAN (${summary})`);
      } else {
        assert.equal(packets.filter((p) => p.vxlan).length, 0, `no VXLAN on the underlay (${summary})`);
        assert.ok(plain.some((p) => p.src === podIP("good") && p.dst === podIP("srv") && p.proto === 6), `good→srv routed natively (${summary})`);
        assert.ok(plain.some((p) => p.src === podIP("srv") && p.dst === podIP("good")), `srv→good routed natively (${summary})`);
      }
    });

    test("pods reach the world hosts, their node and the other node", async () => {
      const results = await Promise.all([
        tcp("good", WORLD_HOSTS.web, 9000, "hello-world"),
        tcp("srv", WORLD_HOSTS.web, 9000, "hello-world"),
        // The agents' API listens on each node address: a node's own host, then the remote one.
        tcp("good", nodes[0]!.ip, 4244),
        tcp("good", nodes[1]!.ip, 4244),
        tcp("srv", nodes[1]!.ip, 4244),
      ]);
      assert.deepEqual(
        results.map((r) => r.outcome),
        ["ALLOWED", "ALLOWED", "ALLOWED", "ALLOWED", "ALLOWED"],
        results.map((r) => `${r.destination.address}:${r.destination.port} ${r.detail}`).join("; "),
      );
    });

    const statusOf = (node: NodeRecord): PolicySyncStatus => JSON.parse(readFileSync(join(clusterStateDir(name), "nodes", node.name, "agent", POLICY_STATUS_FILE), "utf8")) as PolicySyncStatus;
    const dropped = (node: NodeRecord, reason: number): bigint => {
      const map = BpfMap.openPinned(join(agentPinDir(name), node.name, MAP_NAMES.metrics));
      try {
        return (new PerCpuTypedMap(map, u32Codec, metricsValueCodec).get(metricsIndex(Direction.ingress, reason)) ?? []).reduce((a, s) => a + s.packets, 0n);
      } finally {
        map.close();
      }
    };

    test("a CNP on srv admits good and drops bad across nodes, in the destination's datapath", async () => {
      const created = (await custom.createNamespacedCustomObject({
        ...CNP,
        namespace: NS,
        body: {
          apiVersion: "cilium.io/v2",
          kind: "CiliumNetworkPolicy",
          metadata: { name: "srv-from-good" },
          spec: { endpointSelector: { matchLabels: { app: "srv" } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: "good" } }], toPorts: [{ ports: [{ port: "9000", protocol: "TCP" }] }] }] },
        },
      })) as { metadata: { resourceVersion: string } };
      const key = "CiliumNetworkPolicy/rt/srv-from-good";
      await waitFor(
        "every agent to realise the policy on all its endpoints",
        async () => (nodes.every((n) => statusOf(n).policies[key] === created.metadata.resourceVersion && Object.values(statusOf(n).endpoints).every((e) => e.revision === statusOf(n).revision)) ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const before = dropped(nodes[1]!, 133);
      const results = await Promise.all([tcp("good", podIP("srv"), 9000, "allowed"), tcp("bad", podIP("srv"), 9000, "denied"), tcp("good", podIP("srv"), 8080)]);
      assert.deepEqual(
        results.map((r) => r.outcome),
        ["ALLOWED", "TIMEOUT", "TIMEOUT"],
      );
      assert.ok(dropped(nodes[1]!, 133) - before >= 2n, "the refused SYNs were dropped by default deny on srv's node");
      await custom.deleteNamespacedCustomObject({ ...CNP, namespace: NS, name: "srv-from-good" });
    });

    if (mode === "tunnel") {
      const fdbOf = (node: NodeRecord): Promise<string> => run("ip", ["netns", "exec", node.netns, "bridge", "fdb", "show", "dev", VXLAN_DEVICE]);
      const routesOf = (node: NodeRecord): Promise<string> => ip(["-4", "route", "show", "dev", VXLAN_DEVICE], node.netns);

      test("Node objects joining, changing address and leaving are reconciled on every node", async () => {
        const ghost = "ghost";
        await core.createNode({ body: { metadata: { name: ghost }, spec: { podCIDR: "10.244.200.0/24", podCIDRs: ["10.244.200.0/24"] }, status: { addresses: [{ type: "InternalIP", address: "198.18.0.99" }] } } });
        try {
          const has = async (ipAddr: string): Promise<boolean> => {
            for (const n of nodes) {
              if (!(await routesOf(n)).includes("10.244.200.0/24 via 10.244.200.0")) return false;
              if (!new RegExp(`^${vtepMac(ipAddr)} dst ${ipAddr.replaceAll(".", "\\.")} `, "m").test(await fdbOf(n))) return false;
            }
            return true;
          };
          await waitFor("the ghost node's overlay entries on both nodes", async () => ((await has("198.18.0.99")) ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 });
          await core.patchNodeStatus({ name: ghost, body: { status: { addresses: [{ type: "InternalIP", address: "198.18.0.98" }] } } }, mergePatch);
          await waitFor("the ghost node's new address", async () => ((await has("198.18.0.98")) && !(await fdbOf(nodes[0]!)).includes(vtepMac("198.18.0.99")) ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 });
        } finally {
          await core.deleteNode({ name: ghost });
        }
        await waitFor(
          "the ghost node's entries to be removed",
          async () => {
            for (const n of nodes) if ((await routesOf(n)).includes("10.244.200.") || (await fdbOf(n)).includes(vtepMac("198.18.0.98"))) return undefined;
            return true;
          },
          { timeoutMs: 15_000, intervalMs: 100 },
        );
        // The real peer is untouched.
        assert.match(await fdbOf(nodes[0]!), new RegExp(`^${vtepMac(nodes[1]!.ip)} dst `, "m"));
      });

      test("a restarted agent finds the overlay converged and changes nothing; traffic keeps flowing", async () => {
        const n1 = nodes[0]!;
        const beforeRoutes = await routesOf(n1);
        const beforeFdb = await fdbOf(n1);
        const link = (await ip(["-o", "link", "show", "dev", VXLAN_DEVICE], n1.netns)).split(":")[0];
        // The DaemonSet's kubelet restarts a killed agent container (restartPolicy Always).
        const [pid] = agentContainerPids(clusterStateDir(name), n1.name);
        assert.ok(pid, "the agent container runs on node 1");
        const logBefore = agentLog(n1).length;
        process.kill(pid, "SIGKILL");
        await waitFor("the restarted agent to be ready", async () => (agentLog(n1).slice(logBefore).includes("agent ready") ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
        const since = agentLog(n1).slice(logBefore);
        assert.doesNotMatch(since, /VXLAN device ready|tunnel peers reconciled/, "nothing re-created or re-programmed");
        assert.equal((await ip(["-o", "link", "show", "dev", VXLAN_DEVICE], n1.netns)).split(":")[0], link, "same device (ifindex)");
        assert.equal(await routesOf(n1), beforeRoutes);
        assert.equal(await fdbOf(n1), beforeFdb);
        assert.equal((await tcp("good", podIP("srv"), 9000, "after-restart")).outcome, "ALLOWED");
      });
    }
  });
}
