import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAgentAddress } from "../../../agent/api/client.js";
import type { AgentAddress } from "../../../agent/api/client.js";
import { AgentConvergence, scopeMisses, AgentFlowSource, flowQueryParams } from "./agent-flows.js";
import type { PolicyStatus } from "../../../agent/api/provider.js";

interface FakeAgent {
  node: string;
  flows: Array<Record<string, unknown>>;
  revision: number;
  policies: string[];
  pendingBelow: Record<string, number>;
  requests: URLSearchParams[];
}

const dir = mkdtempSync(join(tmpdir(), "cft-agentflows-"));
const servers: Server[] = [];

function flow(node: string, time: string, src: string, dst: string, dport: number, verdict = "FORWARDED"): Record<string, unknown> {
  return { time, uuid: `${node}-${time}`, verdict, node_name: node, IP: { source: src, destination: dst }, l4: { TCP: { source_port: 40000, destination_port: dport } } };
}

/** Answers like the agent: `/v1/flows` filtered on from-ip/to-ip/to-port/verdict and the window. */
async function fakeAgent(a: FakeAgent): Promise<AgentAddress> {
  const socketPath = join(dir, `${a.node.replace("/", "-")}.sock`);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://agent");
    const q = url.searchParams;
    if (url.pathname === "/v1/flows") {
      a.requests.push(q);
      const since = Date.parse(q.get("since") ?? ""), until = Date.parse(q.get("until") ?? "");
      const ok = (f: Record<string, unknown>): boolean => {
        const ip = f.IP as { source: string; destination: string };
        const port = (f.l4 as { TCP: { destination_port: number } }).TCP.destination_port;
        const t = Date.parse(f.time as string);
        const any = (name: string, v: string) => q.getAll(name).length === 0 || q.getAll(name).includes(v);
        return t >= since && t <= until && any("from-ip", ip.source) && any("to-ip", ip.destination) && any("to-port", String(port)) && any("verdict", f.verdict as string) && any("protocol", "tcp");
      };
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      for (const f of a.flows.filter(ok)) res.write(`${JSON.stringify({ flow: f, node_name: a.node, time: f.time })}\n`);
      res.end();
      return;
    }
    if (url.pathname === "/v1/policy") {
      res.end(JSON.stringify({ revision: a.revision, policies: a.policies.map((p) => ({ kind: p.split("/")[0], namespace: p.split("/")[1], name: p.split("/")[2] })), endpoints: [] }));
      return;
    }
    if (url.pathname === "/v1/status") {
      const body: Record<string, unknown> = { nodeName: a.node, version: "t", ready: true, policyRevision: a.revision };
      const r = q.get("revision");
      if (r !== null) {
        const pending = Object.entries(a.pendingBelow).filter(([, rev]) => rev < Number(r)).map(([pod, rev]) => ({ id: 1, namespace: pod.split("/")[0], podName: pod.split("/")[1], realizedRevision: rev }));
        body.revisionCheck = { revision: Number(r), realized: pending.length === 0 && a.revision >= Number(r), pending };
      }
      res.end(JSON.stringify(body));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(socketPath, resolve));
  servers.push(server);
  return parseAgentAddress(`unix:${socketPath}`);
}

const node1: FakeAgent = { node: "c/node1", flows: [], revision: 4, policies: ["CiliumNetworkPolicy/shop/a"], pendingBelow: { "shop/x": 4 }, requests: [] };
const node2: FakeAgent = { node: "c/node2", flows: [], revision: 9, policies: ["CiliumNetworkPolicy/shop/a"], pendingBelow: { "shop/y": 8 }, requests: [] };
let agents: AgentAddress[] = [];

describe("agent-flows against fake agents on unix sockets", () => {
  before(async () => {
    node1.flows = [flow("c/node1", "2026-01-01T00:00:01.000000001Z", "10.244.0.5", "10.244.1.7", 8080), flow("c/node1", "2026-01-01T00:00:03.000000000Z", "10.244.0.5", "10.244.1.9", 80, "DROPPED")];
    node2.flows = [flow("c/node2", "2026-01-01T00:00:02.500000000Z", "10.244.0.5", "10.244.1.7", 8080, "DROPPED"), flow("c/node2", "2026-01-01T00:00:09.000000000Z", "10.244.0.5", "10.244.1.7", 8080)];
    agents = [await fakeAgent(node1), await fakeAgent(node2)];
  });

  after(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  describe("flowQueryParams", () => {
    test("a runner filter becomes one hubble filter: from-/to- sides, lower-case protocol, the window in RFC 3339", () => {
      const p = flowQueryParams(new Date("2026-01-01T00:00:00Z"), new Date("2026-01-01T00:00:05Z"), {
        sourceIp: ["10.244.0.5"],
        destinationIp: ["10.244.1.7", "10.244.1.9"],
        sourcePort: [40000],
        destinationPort: [8080],
        protocol: ["TCP", "ICMPv4"],
        verdict: ["DROPPED"],
      });
      assert.equal(
        p.toString(),
        "since=2026-01-01T00%3A00%3A00.000Z&until=2026-01-01T00%3A00%3A05.000Z&from-ip=10.244.0.5&to-ip=10.244.1.7&to-ip=10.244.1.9&from-port=40000&to-port=8080&protocol=tcp&protocol=icmpv4&verdict=DROPPED",
      );
    });
  });

  describe("AgentFlowSource", () => {
    test("asks every node once per filter, merges by time, drops duplicates and what lies outside the window", async () => {
      node1.requests = [];
      node2.requests = [];
      const source = new AgentFlowSource(agents);
      const got = await source.query({
        since: new Date("2026-01-01T00:00:00Z"),
        until: new Date("2026-01-01T00:00:05Z"),
        filters: [{ sourceIp: ["10.244.0.5"] }, { destinationIp: ["10.244.1.7"] }],
      });
      assert.deepEqual(
        got.map((r) => `${(r.flow as { time: string }).time} ${String(r.node_name)}`),
        ["2026-01-01T00:00:01.000000001Z c/node1", "2026-01-01T00:00:02.500000000Z c/node2", "2026-01-01T00:00:03.000000000Z c/node1"],
      );
      assert.deepEqual(node1.requests.map((q) => q.getAll("from-ip").concat(q.getAll("to-ip"))), [["10.244.0.5"], ["10.244.1.7"]]);
      assert.equal(node2.requests.length, 2);
    });

    test("a verdict filter reaches the agents and the answer", async () => {
      const got = await new AgentFlowSource(agents).query({ since: new Date("2026-01-01T00:00:00Z"), until: new Date("2026-01-01T00:00:10Z"), filters: [{ verdict: ["DROPPED"], destinationPort: [8080] }] });
      assert.deepEqual(got.map((r) => (r.flow as { uuid: string }).uuid), ["c/node2-2026-01-01T00:00:02.500000000Z"]);
    });

    test("an unreachable agent fails the query, naming its socket", async () => {
      await assert.rejects(new AgentFlowSource([parseAgentAddress(`unix:${join(dir, "missing.sock")}`)]).query({ since: new Date(0), until: new Date() }), /missing\.sock/);
    });
  });

  describe("AgentConvergence", () => {
    test("waits for the API server's policies, returns the highest revision and checks each agent against its own", async () => {
      node1.policies = [];
      const waiter = new AgentConvergence(agents, () => Promise.resolve(["CiliumNetworkPolicy/shop/a"]), { quietMs: 20, settleTimeoutMs: 3000 });
      const started = Date.now();
      setTimeout(() => (node1.policies = ["CiliumNetworkPolicy/shop/a"]), 200);
      const r = await waiter.desiredRevision();
      assert.ok(Date.now() - started >= 190, "waited for node1 to see the policy");
      assert.equal(r, 9);
      // node1 is checked at its own revision 4 (shop/x realized 4), node2 at 9 (shop/y at 8 lags).
      assert.deepEqual(await waiter.pendingEndpoints(r), ["shop/y"]);
      node2.pendingBelow = {};
      assert.deepEqual(await waiter.pendingEndpoints(r), []);
    });

    test("an agent that has not compiled the revision yet is pending as its node", async () => {
      const waiter = new AgentConvergence([agents[0]!], () => Promise.resolve(["CiliumNetworkPolicy/shop/a"]));
      assert.deepEqual(await waiter.pendingEndpoints(7), ["shop/x"]);
      node1.pendingBelow = {};
      assert.deepEqual(await waiter.pendingEndpoints(7), ["node/c/node1"]);
      assert.deepEqual(await waiter.pendingEndpoints(4), []);
    });
  });

  describe("scopeMisses (what a scenario waits for)", () => {
    const status = (policies: Record<string, string> | undefined, rejected: string[] = []): PolicyStatus => ({
      revision: 12,
      policies: rejected.map((k) => ({ kind: "CiliumNetworkPolicy", namespace: "shop", name: k, problems: ["rejected: spec: bad"] })),
      endpoints: [],
      ...(policies ? { realized: { revision: 11, policies } } : {}),
    });
    const scope = (present: Record<string, string>, absent: string[] = []) => ({ present: new Map(Object.entries(present)), absent });

    test("covered once the compile read each policy at (at least) the written resourceVersion, and none deleted", () => {
      assert.equal(scopeMisses(scope({ "CiliumNetworkPolicy/shop/a": "100" }), status({ "CiliumNetworkPolicy/shop/a": "100", "NetworkPolicy/other/z": "5" })), undefined);
      assert.equal(scopeMisses(scope({ "CiliumNetworkPolicy/shop/a": "100" }), status({ "CiliumNetworkPolicy/shop/a": "120" })), undefined);
      assert.match(scopeMisses(scope({ "CiliumNetworkPolicy/shop/a": "100" }), status({ "CiliumNetworkPolicy/shop/a": "99" })) ?? "", /resourceVersion 99, waiting for 100/);
      assert.match(scopeMisses(scope({ "CiliumNetworkPolicy/shop/a": "100" }), status({})) ?? "", /not compiled yet/);
      assert.match(scopeMisses(scope({}, ["NetworkPolicy/shop/old"]), status({ "NetworkPolicy/shop/old": "7" })) ?? "", /still compiled/);
      assert.equal(scopeMisses(scope({}, ["NetworkPolicy/shop/old"]), status({})), undefined);
      assert.equal(scopeMisses(scope({}), status(undefined)), "no compile yet");
    });

    test("a policy the agent rejected counts as handled", () => {
      assert.equal(scopeMisses(scope({ "CiliumNetworkPolicy/shop/bad": "3" }), status({}, ["bad"])), undefined);
    });
  });
});
