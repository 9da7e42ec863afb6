// The CNI path for real, without an API server: a node-like netns runs the agent's CNI server
// (static identity resolver, no-op datapath hook — the datapath is not wired yet), the kubelet's
// part is played by running the installed `conform-cni` shim with CNI env + stdin inside that
// netns, and pods are plain network namespaces. Asserts addresses, routes, real ICMP/TCP traffic,
// clean DEL, CHECK, error codes and restart behaviour (restore, dropped pods, queued DELs).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execCapture } from "../../harness/cluster/local/kubelet/exec.js";
import { run } from "../../harness/util/exec.js";
import { waitFor } from "../../harness/util/wait.js";
import { CNI_ERROR } from "./wire.js";

const NODE = "cft-ag-cni-node";
const PODS = ["cft-ag-cni-p1", "cft-ag-cni-p2", "cft-ag-cni-p3", "cft-ag-cni-p4"] as const;
const CIDR = "10.244.201.0/29"; // router .1, pods .2–.6: five addresses, so exhaustion is reachable
const ROUTER = "10.244.201.1";
const here = dirname(fileURLToPath(import.meta.url));
const AGENT_MAIN = resolve(here, "cni-agent-main.js");

const dir = mkdtempSync(join(tmpdir(), "cft-ag-cni-int-"));
const stateDir = join(dir, "state");
const socketPath = join(dir, "run", "agent.sock");
const binDir = join(dir, "bin");
const confDir = join(dir, "net.d");
const configFile = join(dir, "agent.json");

interface CniReply {
  readonly exit: number | null;
  readonly json: Record<string, unknown> | undefined;
  readonly stdout: string;
}

const netnsPath = (name: string) => `/var/run/netns/${name}`;

async function cni(command: "ADD" | "DEL" | "CHECK", containerId: string, pod: string | undefined, opts: { ifName?: string; args?: string } = {}): Promise<CniReply> {
  const conf = JSON.stringify({ cniVersion: "1.0.0", name: "conform", type: "conform-cni", socketPath, deleteQueueDir: join(dir, "run", "delete-queue") });
  const r = await execCapture("ip", ["netns", "exec", NODE, join(binDir, "conform-cni")], {
    stdin: conf,
    timeoutMs: 30_000,
    env: {
      PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: pod ? netnsPath(pod) : "",
      CNI_IFNAME: opts.ifName ?? "eth0",
      CNI_ARGS: opts.args ?? `IgnoreUnknown=1;K8S_POD_NAMESPACE=probes;K8S_POD_NAME=${containerId};K8S_POD_UID=uid-${containerId}`,
      CNI_PATH: binDir,
    },
  });
  let json: Record<string, unknown> | undefined;
  try {
    json = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { exit: r.code, json, stdout: r.stdout + r.stderr };
}

function podIpOf(reply: CniReply): string {
  const ips = reply.json?.["ips"] as { address: string }[] | undefined;
  const ip = ips?.[0]?.address.split("/")[0];
  assert.ok(ip, `no IP in ${reply.stdout}`);
  return ip;
}

async function ipJson<T>(args: string[], netns: string): Promise<T[]> {
  const out = await run("ip", ["-n", netns, "-j", ...args]);
  return out.trim() ? (JSON.parse(out) as T[]) : [];
}

async function links(netns: string): Promise<string[]> {
  return (await ipJson<{ ifname: string }>(["link", "show"], netns)).map((l) => l.ifname);
}

async function ping(from: string, to: string): Promise<boolean> {
  const r = await execCapture("ip", ["netns", "exec", from, "ping", "-c", "1", "-W", "1", to], { timeoutMs: 5000 });
  return r.code === 0;
}

/** TCP round trip from netns `from` to `to:port`: resolves the echoed text or the error code. */
async function tcpEcho(from: string, to: string, port: number): Promise<string> {
  const script = `const s=require("net").connect(${port},"${to}");let d="";s.setTimeout(3000,()=>{console.log("TIMEOUT");process.exit(0)});s.on("connect",()=>s.end("ping-from-${from}"));s.on("data",b=>d+=b);s.on("end",()=>{console.log(d);process.exit(0)});s.on("error",e=>{console.log(e.code);process.exit(0)});`;
  const r = await execCapture("ip", ["netns", "exec", from, process.execPath, "-e", script], { timeoutMs: 10_000 });
  return r.stdout.trim();
}

let agent: ChildProcess | undefined;
let agentLog = "";
const servers: ChildProcess[] = [];

async function startAgent(): Promise<void> {
  agentLog = "";
  const child = spawn("ip", ["netns", "exec", NODE, process.execPath, AGENT_MAIN, "--config", configFile], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (b: Buffer) => (agentLog += b.toString()));
  child.stderr.on("data", (b: Buffer) => (agentLog += b.toString()));
  agent = child;
  await waitFor("the agent to serve CNI", async () => (agentLog.includes("agent ready") ? true : child.exitCode !== null ? Promise.reject(new Error(agentLog)) : undefined), {
    timeoutMs: 20_000,
    intervalMs: 50,
  });
}

async function stopAgent(): Promise<void> {
  const child = agent;
  agent = undefined;
  if (!child || child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(t);
}

async function cleanupNetns(): Promise<void> {
  for (const ns of [...PODS, NODE]) await run("ip", ["netns", "delete", ns]).catch(() => undefined);
}

describe("conform CNI plugin + agent in a node netns (static identity, no-op datapath)", { timeout: 120_000 }, () => {
  const ips = new Map<string, string>();

  before(async () => {
    await cleanupNetns();
    for (const ns of [NODE, ...PODS]) await run("ip", ["netns", "add", ns]);
    await run("ip", ["-n", NODE, "link", "set", "lo", "up"]);
    mkdirSync(binDir, { recursive: true });
    writeFileSync(configFile, JSON.stringify({ nodeName: "cft-node", stateDir, socketPath, podCIDR: CIDR, cniBinDir: binDir, cniConfDir: confDir }));
    await startAgent();
  });

  after(async () => {
    for (const s of servers) if (s.exitCode === null) s.kill("SIGKILL");
    await stopAgent();
    await cleanupNetns();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the agent installs the shim and writes the conflist once it serves", () => {
    assert.ok(existsSync(join(binDir, "conform-cni")));
    assert.deepEqual(readdirSync(confDir), ["05-conform.conflist"]);
  });

  test("ADD gives each pod a /32 from the node's CIDR, a default route via the router, and a spec 1.0 result", async () => {
    for (const [i, pod] of [PODS[0], PODS[1]].entries()) {
      const r = await cni("ADD", `c${i + 1}`, pod);
      assert.equal(r.exit, 0, r.stdout);
      const ip = podIpOf(r);
      ips.set(pod, ip);
      assert.match(ip, /^10\.244\.201\.[2-6]$/);
      const itfs = r.json?.["interfaces"] as { name: string; sandbox?: string }[];
      assert.equal(itfs[1]?.name, "eth0");
      assert.equal(itfs[1]?.sandbox, netnsPath(pod));
      assert.match(itfs[0]?.name ?? "", /^lxc[0-9a-f]{12}$/);
      assert.deepEqual(r.json?.["ips"], [{ address: `${ip}/32`, gateway: ROUTER, interface: 1 }]);
      const addrs = await ipJson<{ addr_info: { family: string; local: string; prefixlen: number }[] }>(["addr", "show", "dev", "eth0"], pod);
      assert.ok(addrs[0]?.addr_info.some((a) => a.family === "inet" && a.local === ip && a.prefixlen === 32));
      const routes = await ipJson<{ dst: string; gateway?: string }>(["route", "show", "default"], pod);
      assert.equal(routes[0]?.gateway, ROUTER);
      assert.ok((await links(NODE)).includes(itfs[0]!.name), "host veth in the node netns");
    }
    assert.notEqual(ips.get(PODS[0]), ips.get(PODS[1]));
  });

  test("pods reach each other over ICMP and TCP, reach the node, and the node reaches them", async () => {
    const [p1, p2] = [PODS[0], PODS[1]];
    const ip1 = ips.get(p1)!;
    const ip2 = ips.get(p2)!;
    const server = spawn("ip", ["netns", "exec", p2, process.execPath, "-e", `require("net").createServer(s=>s.pipe(s)).listen(9000,"0.0.0.0",()=>console.log("listening"))`], { stdio: ["ignore", "pipe", "inherit"] });
    servers.push(server);
    await new Promise<void>((r) => server.stdout.once("data", () => r()));
    assert.equal(await ping(p1, ip2), true, "pod1 → pod2 ICMP");
    assert.equal(await tcpEcho(p1, ip2, 9000), `ping-from-${p1}`, "pod1 → pod2 TCP echo");
    assert.equal(await tcpEcho(p1, ip2, 9001), "ECONNREFUSED", "a closed port answers with RST: the packets really arrive");
    assert.equal(await ping(p1, ROUTER), true, "pod → node (router address)");
    assert.equal(await ping(p2, ip1), true, "pod2 → pod1");
    const fromNode = await execCapture("ip", ["netns", "exec", NODE, "ping", "-c", "1", "-W", "1", ip1], { timeoutMs: 5000 });
    assert.equal(fromNode.code, 0, "node → pod");
    server.kill("SIGKILL");
  });

  test("CHECK passes when intact, fails with code 101 naming the missing route, and a repeated ADD repairs it", async () => {
    const p1 = PODS[0];
    assert.equal((await cni("CHECK", "c1", p1)).exit, 0);
    await run("ip", ["-n", p1, "route", "del", "default"]);
    const broken = await cni("CHECK", "c1", p1);
    assert.equal(broken.exit, 1);
    assert.equal(broken.json?.["code"], CNI_ERROR.checkFailed);
    assert.match(String(broken.json?.["msg"]), /no default route via 10\.244\.201\.1/);
    const again = await cni("ADD", "c1", p1);
    assert.equal(again.exit, 0, again.stdout);
    ips.set(p1, podIpOf(again));
    assert.equal((await cni("CHECK", "c1", p1)).exit, 0);
    assert.equal(await ping(p1, ips.get(PODS[1])!), true);
  });

  test("errors carry spec codes: 4 for a missing netns or pod name, 3 for CHECK of an unknown container, 100 when concurrent ADDs used up the addresses", async () => {
    const noNetns = await cni("ADD", "cx", "cft-ag-cni-missing");
    assert.equal(noNetns.json?.["code"], CNI_ERROR.invalidEnvironment, noNetns.stdout);
    assert.match(String(noNetns.json?.["msg"]), /cft-ag-cni-missing" does not exist/);
    const noName = await cni("ADD", "cy", PODS[2], { args: "K8S_POD_NAMESPACE=probes" });
    assert.equal(noName.json?.["code"], CNI_ERROR.invalidEnvironment);
    const unknown = await cni("CHECK", "nobody", PODS[2]);
    assert.equal(unknown.json?.["code"], CNI_ERROR.unknownContainer);

    // Two addresses are in use; three more interfaces of pod 3, attached concurrently, fill the
    // /29 with distinct addresses; the next one fails.
    const three = await Promise.all(["eth0", "eth1", "eth2"].map((ifName) => cni("ADD", "c3", PODS[2], { ifName })));
    for (const r of three) assert.equal(r.exit, 0, r.stdout);
    assert.equal(new Set(three.map(podIpOf)).size, 3);
    const full = await cni("ADD", "c3", PODS[2], { ifName: "eth3" });
    assert.equal(full.exit, 1);
    assert.equal(full.json?.["code"], CNI_ERROR.addressesExhausted);
    assert.match(String(full.json?.["msg"]), /no free address in 10\.244\.201\.0\/29/);
    assert.ok(!(await links(PODS[2])).includes("eth3"), "the failed ADD left no interface behind");
    const dels = await Promise.all(["eth0", "eth1", "eth2"].map((ifName) => cni("DEL", "c3", PODS[2], { ifName })));
    for (const r of dels) assert.equal(r.exit, 0, r.stdout);
    assert.deepEqual(await links(PODS[2]), ["lo"]);
  });

  test("DEL removes the veth, the route and the reservation; repeated and unknown DELs succeed", async () => {
    const add = await cni("ADD", "c4", PODS[3]);
    const ip = podIpOf(add);
    const hostIf = (add.json?.["interfaces"] as { name: string }[])[0]!.name;
    assert.ok(existsSync(join(stateDir, "ipam", ip)));
    assert.equal((await cni("DEL", "c4", PODS[3])).exit, 0);
    assert.ok(!(await links(NODE)).includes(hostIf), "host veth gone");
    assert.ok(!(await links(PODS[3])).includes("eth0"), "pod interface gone");
    assert.deepEqual(await ipJson(["route", "show", "exact", `${ip}/32`], NODE), [], "node route gone");
    assert.ok(!existsSync(join(stateDir, "ipam", ip)), "address released");
    assert.equal((await cni("DEL", "c4", PODS[3])).exit, 0, "second DEL");
    assert.equal((await cni("DEL", "never-added", undefined)).exit, 0, "DEL of an unknown container, empty CNI_NETNS");
  });

  test("across an agent restart: endpoints are kept, a vanished pod is dropped, DELs queued while down are replayed", async () => {
    const keep = PODS[0];
    const vanish = PODS[3];
    const queued = PODS[1];
    const addV = await cni("ADD", "c4", vanish);
    const ipV = podIpOf(addV);
    const ipQ = ips.get(queued)!;
    await stopAgent();

    const del = await cni("DEL", "c2", queued);
    assert.equal(del.exit, 0, `DEL while the agent is down is queued: ${del.stdout}`);
    assert.equal(readdirSync(join(dir, "run", "delete-queue")).length, 1);
    await run("ip", ["netns", "delete", vanish]); // takes the veth pair with it

    await startAgent();
    assert.match(agentLog, /dropped endpoint on restore .*veth lxc[0-9a-f]+ is gone/);
    assert.ok(!existsSync(join(stateDir, "ipam", ipV)), "address of the vanished pod released");
    assert.ok(!existsSync(join(stateDir, "ipam", ipQ)), "queued DEL replayed: address released");
    assert.ok(!(await links(queued)).includes("eth0"), "queued DEL replayed: pod interface gone");
    assert.deepEqual(readdirSync(join(dir, "run", "delete-queue")), []);
    assert.equal((await cni("CHECK", "c1", keep)).exit, 0, "the surviving endpoint is intact");
    assert.equal(await ping(keep, ROUTER), true);
    await run("ip", ["netns", "add", vanish]);
  });
});
