// The CNI invoker against the real reference plugins (ptp + host-local): a node-like netns and a
// pod netns, ADD/CHECK/DEL, and the outcome observed in the kernel (addresses, routes, veths,
// ping and TCP across the veth).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NetnsOps, netnsPath } from "../netns.js";
import { cniArgs, parseNetworkConfig } from "./config.js";
import type { NetworkConfigList } from "./config.js";
import { CniInvoker, CniPluginError } from "./invoker.js";
import type { CniRuntimeParams } from "./invoker.js";
import { podIPsFromResult } from "./result.js";

const here = dirname(fileURLToPath(import.meta.url));
const FAKE_PROBE = join(here, "../testdata/fake-probe.js");

/** The plugins setup.sh builds (CONFORM_CNI_BIN), else a dir given for this test. */
function findCniBin(): string | undefined {
  const candidates = [process.env["CONFORM_CNI_BIN"], process.env["CONFORM_TEST_CNI_BIN"], join(homedir(), ".cache/conform/cni/v1.9.1")];
  return candidates.find((d): d is string => !!d && existsSync(join(d, "ptp")) && existsSync(join(d, "host-local")));
}

const cniBin = findCniBin();
const NODE_NS = `cft-kl-cni-node-${process.pid}`;
const POD_NS = `cft-kl-cni-pod-${process.pid}`;
const POD2_NS = `cft-kl-cni-pod2-${process.pid}`;
const SUBNET = "10.244.213.0/24";
const netns = new NetnsOps();
let dir = "";
const children: ChildProcess[] = [];

function ipIn(ns: string, args: string[]): string {
  return execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8" });
}

function conflist(dataDir: string, extra: Record<string, unknown> = {}): NetworkConfigList {
  const text = JSON.stringify({
    cniVersion: "1.0.0",
    name: "cft-kl-ptp",
    plugins: [{ type: "ptp", ipMasq: false, ipam: { type: "host-local", ranges: [[{ subnet: SUBNET }]], routes: [{ dst: "0.0.0.0/0" }], dataDir }, ...extra }],
  });
  return parseNetworkConfig(join(dir, "10-test.conflist"), text);
}

function runtime(ns: string, id: string): CniRuntimeParams {
  return { containerId: id, netnsPath: netnsPath(ns), ifName: "eth0", args: cniArgs({ namespace: "default", name: id, uid: `uid-${id}` }, id) };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "cft-kl-cni-"));
  for (const ns of [NODE_NS, POD_NS, POD2_NS]) await netns.ensure(ns);
  // The node side forwards between pods, as a node netns does.
  execFileSync("ip", ["netns", "exec", NODE_NS, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
});

after(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const ns of [POD_NS, POD2_NS, NODE_NS]) await netns.remove(ns);
  rmSync(dir, { recursive: true, force: true });
});

test("ptp + host-local via the invoker: ADD gives an IP that talks to the node side, CHECK passes, DEL cleans up", { skip: cniBin ? false : "reference CNI plugins not built (run ./setup.sh)" }, async () => {
  const bin = cniBin ?? "";
  // The kubelet runs inside the node netns; this test process does not, so plugins are run there.
  const cni = new CniInvoker({ binDirs: [bin], runIn: ["nsenter", `--net=${netnsPath(NODE_NS)}`, "--"] });
  const ipam = join(dir, "ipam");
  const list = conflist(ipam);
  const rt = runtime(POD_NS, "sandbox1");

  const result = await cni.add(list, rt);
  const [podIP] = podIPsFromResult(result);
  assert.ok(podIP, `result carries a pod IP: ${JSON.stringify(result.raw)}`);
  assert.match(podIP, /^10\.244\.213\.(\d+)$/);
  assert.notEqual(podIP, "10.244.213.1", "the gateway is the node side, not the pod");
  assert.equal(result.cniVersion, "1.0.0");

  // Kernel state: the pod's eth0 has the address and a default route; the node has a /32 route to it.
  assert.match(ipIn(POD_NS, ["-4", "addr", "show", "dev", "eth0"]), new RegExp(`inet ${podIP.replaceAll(".", "\\.")}/24`));
  assert.match(ipIn(POD_NS, ["-4", "route"]), /default via 10\.244\.213\.1 dev eth0/);
  const hostVeth = result.interfaces.find((i) => !i.sandbox)?.name;
  assert.ok(hostVeth, "ptp reports the host-side veth");
  assert.match(ipIn(NODE_NS, ["-4", "route"]), new RegExp(`${podIP.replaceAll(".", "\\.")} dev ${hostVeth}`));
  assert.ok(readdirSync(join(ipam, "cft-kl-ptp")).includes(podIP), "host-local recorded the lease");

  // Traffic: ping the node side from the pod, and a TCP connection from the node to a listener in the pod.
  execFileSync("ip", ["netns", "exec", POD_NS, "ping", "-c", "1", "-W", "2", "10.244.213.1"], { stdio: "ignore" });
  const server = spawn("ip", ["netns", "exec", POD_NS, process.execPath, FAKE_PROBE, "--port", "9090"], { stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, POD_NAME: "pod1" } });
  children.push(server);
  await new Promise<void>((res, rej) => {
    server.stdout?.on("data", (d: Buffer) => d.toString().includes("conform-probe: ready") && res());
    server.once("exit", () => rej(new Error("probe server exited")));
  });
  const reply = execFileSync("ip", ["netns", "exec", NODE_NS, process.execPath, "-e", `require('net').connect(9090,'${podIP}').on('data',d=>{process.stdout.write(d);process.exit(0)})`], {
    encoding: "utf8",
    timeout: 10_000,
  });
  assert.equal(reply.trim(), "hello from pod1");
  server.kill("SIGKILL");

  await cni.check(list, rt, result);

  // A second pod gets a different address, and the two reach each other through the node.
  const rt2 = runtime(POD2_NS, "sandbox2");
  const result2 = await cni.add(list, rt2);
  const [pod2IP] = podIPsFromResult(result2);
  assert.ok(pod2IP && pod2IP !== podIP, `distinct IPs: ${podIP} vs ${pod2IP}`);
  execFileSync("ip", ["netns", "exec", POD2_NS, "ping", "-c", "1", "-W", "2", podIP], { stdio: "ignore" });

  // CHECK notices a broken attachment (the kubelet re-creates the sandbox network then).
  ipIn(POD2_NS, ["addr", "flush", "dev", "eth0"]);
  await assert.rejects(cni.check(list, rt2, result2), CniPluginError);

  await cni.del(list, rt, result);
  assert.equal(ipIn(NODE_NS, ["-br", "link"]).includes(`${hostVeth}@`), false, "DEL removed the host veth");
  assert.equal(ipIn(POD_NS, ["-br", "link"]).includes("eth0"), false, "DEL removed the pod's eth0");
  assert.equal(readdirSync(join(ipam, "cft-kl-ptp")).includes(podIP), false, "DEL released the lease");
  // DEL is idempotent, also once the netns itself is gone (crash clean-up passes an empty CNI_NETNS).
  await cni.del(list, rt, result);
  await netns.remove(POD2_NS);
  await cni.del(list, rt2, result2);
  assert.equal(readdirSync(join(ipam, "cft-kl-ptp")).includes(pod2IP ?? ""), false, "lease released with the netns already gone");
});

test("a plugin's error object surfaces with the plugin, command and message", { skip: cniBin ? false : "reference CNI plugins not built (run ./setup.sh)" }, async () => {
  const bin = cniBin ?? "";
  const cni = new CniInvoker({ binDirs: [bin], runIn: ["nsenter", `--net=${netnsPath(NODE_NS)}`, "--"] });
  const bad = parseNetworkConfig(
    join(dir, "bad.conflist"),
    JSON.stringify({ cniVersion: "1.0.0", name: "cft-kl-bad", plugins: [{ type: "ptp", ipam: { type: "host-local", ranges: [[{ subnet: "not-a-cidr" }]] } }] }),
  );
  const err = await cni.add(bad, runtime(POD_NS, "sandbox3")).then(
    () => assert.fail("ADD with a broken IPAM config must fail"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CniPluginError, String(err));
  assert.equal(err.plugin, "ptp");
  assert.equal(err.command, "ADD");
  assert.match(err.message, /CNI plugin "ptp" failed \(add\) for network "cft-kl-bad": .*not-a-cidr/);

  const missing = parseNetworkConfig(join(dir, "m.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "m", type: "no-such-plugin" }));
  await assert.rejects(cni.add(missing, runtime(POD_NS, "sandbox4")), /plugin binary not found in CNI_PATH/);
  assert.equal(ipIn(POD_NS, ["-br", "link"]).includes("eth0"), false, "failed ADDs leave no interface behind");
});
