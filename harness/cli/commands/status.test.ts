// `conform status` against two real agent API servers on unix sockets laid out as a local
// cluster's (temp state root): one ready with an endpoint, one not ready, one socket dead.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { agentApiSocketPath, discoverLocalAgents } from "../../../agent/api/paths.js";
import type { AgentStatusProvider } from "../../../agent/api/provider.js";
import { startAgentApi, type AgentApi } from "../../../agent/api/server.js";
import { FlowObserver } from "../../../agent/observer/observer.js";
import { fakeContext } from "../../../agent/observer/test-support.js";
import { collectStatus, formatStatus } from "./status.js";

const root = mkdtempSync(join(tmpdir(), "cft-status-"));
const apis: AgentApi[] = [];

function provider(node: string, ready: boolean, endpoints: number): AgentStatusProvider {
  return {
    status: () => ({ nodeName: node, version: "0.1.0", ready, policyRevision: ready ? 4 : 0, ...(ready ? {} : { message: "waiting for the first policy state" }) }),
    endpoints: () =>
      Array.from({ length: endpoints }, (_, i) => ({
        id: 100 + i,
        namespace: "production",
        podName: `pod-${node}-${i}`,
        identity: 40000 + i,
        ipv4: `10.244.1.${10 + i}`,
        labels: [],
        ingressEnforcement: "enforce" as const,
        egressEnforcement: "none" as const,
        policyRevision: 4,
      })),
    identities: () => [{ id: 1, labels: ["reserved:host"] }, { id: 40000 + endpoints, labels: [] }],
    policy: () => ({ revision: 4, policies: [], endpoints: [] }),
  };
}

before(async () => {
  for (const [node, ready, eps] of [["node1", true, 1], ["node2", false, 0]] as const) {
    const socketPath = agentApiSocketPath("c1", node, root);
    apis.push(await startAgentApi({ observer: new FlowObserver({ context: fakeContext() }), provider: provider(node, ready, eps), socketPath }));
  }
});
after(async () => {
  for (const a of apis) await a.close();
  rmSync(root, { recursive: true, force: true });
});

test("collects agents, endpoints and identities of one cluster", async () => {
  const s = await collectStatus("c1", (c) => discoverLocalAgents(c, root));
  assert.deepEqual(
    s.agents.map((a) => [a.node, a.ready, a.policyRevision]),
    [["node1", true, 4], ["node2", false, 0]],
  );
  assert.deepEqual(s.endpoints.map((e) => [e.node, `${e.namespace}/${e.podName}`, e.id, e.ingressEnforcement, e.policyRevision]), [["node1", "production/pod-node1-0", 100, "enforce", 4]]);
  assert.equal(s.identities, 3, "1, 40000 (node2), 40001 (node1)");
  const text = formatStatus(s);
  assert.match(text, /^node1\s+yes\s+4\s+0\.1\.0$/m);
  assert.match(text, /^node2\s+no \(waiting for the first policy state\)\s+0/m);
  assert.match(text, /^production\/pod-node1-0\s+node1\s+100\s+40000\s+10\.244\.1\.10\s+enforce\s+none\s+4$/m);
  assert.match(text, /identities: 3/);
});

test("a dead socket is reported, not fatal; the CLI exits 1; an unknown cluster exits 2", async () => {
  const dead = agentApiSocketPath("c1", "node3", root);
  mkdirSync(dirname(dead), { recursive: true });
  // A regular file where the socket should be: connect fails like a crashed agent's leftover.
  writeFileSync(dead, "");
  const s = await collectStatus("c1", (c) => discoverLocalAgents(c, root));
  const node3 = s.agents.find((a) => a.address.includes("node3"));
  assert.ok(node3?.error, JSON.stringify(s.agents));
  assert.match(formatStatus(s), /UNREACHABLE/);

  const run = (args: string[]) => promisify(execFile)(process.execPath, [join(process.cwd(), "bin/conform.js"), "status", ...args], { env: { ...process.env, CONFORM_STATE_DIR: root } });
  await assert.rejects(run(["--name", "c1", "-o", "json"]), (err: { code: number; stdout: string }) => {
    assert.equal(err.code, 1);
    const parsed = JSON.parse(err.stdout) as { cluster: string; endpoints: unknown[] };
    assert.equal(parsed.cluster, "c1");
    assert.equal(parsed.endpoints.length, 1);
    return true;
  });
  await assert.rejects(run(["--name", "nope"]), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /no agent sockets for cluster "nope"/);
    return true;
  });
});
