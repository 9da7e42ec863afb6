// The seeds' "legacy-lockdown" story on a real 2-node `spec.cni: conform` cluster: an old
// ingress policy on production/payment-service admits only `app: frontend`, so the
// health-checker's probes time out. The datapath drops them; `conform observe` (agent API over
// the per-node sockets) names the policy that put payment-service into default deny, and
// `conform status` shows the enforcement it comes from. The frontend probe is the must-pass control.
import { after, before, describe, test } from "node:test";
import { conformCli, upTestCluster } from "../harness/cluster/local/testing/cluster.js";
import { createProbePod, waitPodReady } from "../harness/cluster/local/testing/probe-pods.js";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { execCapture } from "../harness/cluster/local/kubelet/exec.js";
import { netnsNames } from "../harness/cluster/local/names.js";
import { agentLogTail, removeAgentPins } from "../harness/cluster/local/node-agent.js";
import { clusterStateDir } from "../harness/cluster/local/paths.js";
import type { NodeRecord } from "../harness/cluster/local/state.js";
import { NetnsProbeExecutor } from "../harness/probe/netns-executor.js";
import { waitFor } from "../harness/util/wait.js";
import { getAgentJson, parseAgentAddress } from "./api/client.js";
import { agentApiSocketPath } from "./api/paths.js";
import type { PolicyStatus } from "./api/provider.js";
import type { FlowLine } from "./observer/flow.js";

const name = `ob${process.pid}`;
const cli = join(process.cwd(), "bin/conform.js");
const dir = mkdtempSync(join(tmpdir(), "cft-ob-int-"));
const NS = "production";

const conform = (args: string[], okCodes = [0]) => conformCli(args, { timeoutMs: 180_000, okCodes });

const jsonLines = (text: string): FlowLine[] =>
  text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as FlowLine);

describe("legacy-lockdown: a forgotten ingress policy blocks the health checker, and the flows say which", { timeout: 420_000 }, () => {
  let kc: KubeConfig;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let nodes: NodeRecord[];
  const pods = new Map<string, V1Pod>();
  const probes = new NetnsProbeExecutor({ resolveNetns: (p) => netnsNames.pod(name, pods.get(p.name)?.metadata?.uid ?? "") });

  const agentLogs = (): string =>
    nodes.map((n) => agentLogTail(clusterStateDir(name), n.name, 20)).join("\n---\n");

  before(async () => {
    ({ nodes, kc } = await upTestCluster(name, dir, { nodes: 2, cni: "conform", world: false }));
    core = kc.makeApiClient(CoreV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    const place: Array<[string, string, string[]]> = [
      ["payment-service", nodes[1]!.name, ["serve", "--http", "8080"]],
      ["health-checker", nodes[0]!.name, ["serve", "--http", "8080"]],
      ["frontend", nodes[0]!.name, ["serve", "--http", "8080"]],
    ];
    for (const [pod, node, args] of place) await createProbePod(core, { namespace: NS, name: pod, node, args });
    for (const [pod] of place) {
      pods.set(pod, await waitPodReady(core, NS, pod, async () => agentLogs()));
    }
  });

  after(async () => {
    await conform(["cluster", "down", "--name", name]).catch((err: unknown) => console.error(String(err)));
    removeAgentPins(name);
    rmSync(dir, { recursive: true, force: true });
  });

  const agent = (node: NodeRecord) => parseAgentAddress(`unix:${agentApiSocketPath(name, node.name)}`);

  /** Every agent has the policy (at least this resourceVersion's compile) realized on all its endpoints; every pod's CEP shows it. */
  async function waitRealized(policyName: string): Promise<void> {
    await waitFor(
      `every agent to realise ${policyName}`,
      async () => {
        const revisions = new Map<string, number>();
        for (const node of nodes) {
          const p = (await getAgentJson(agent(node), "/v1/policy")) as PolicyStatus;
          if (!p.policies.some((x) => x.name === policyName && !x.problems)) return undefined;
          if (p.endpoints.some((e) => e.realizedRevision !== p.revision)) return undefined;
          revisions.set(node.name, p.revision);
        }
        for (const [podName, pod] of pods) {
          const cep = (await custom.getNamespacedCustomObject({ group: "cilium.io", version: "v2", plural: "ciliumendpoints", namespace: NS, name: podName })) as {
            status?: { identity?: { id?: number } };
          };
          if (!cep.status?.identity?.id || !revisions.has(pod.spec!.nodeName!)) return undefined;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100, onTimeout: async () => agentLogs() },
    );
  }

  async function probe(from: string, to: string, port: number): Promise<string> {
    const [r] = await probes.runBatch({ namespace: NS, name: from }, [{ kind: "tcp", id: `${from}-${to}-${port}`, host: pods.get(to)!.status!.podIP!, port, timeoutMs: 1500 }]);
    return `${from}→${to}:${port} ${r!.outcome}`;
  }

  test("before the policy the checker reaches payment-service; the agents serve status on their sockets", async () => {
    assert.equal(await probe("health-checker", "payment-service", 8080), "health-checker→payment-service:8080 ALLOWED");
    const status = JSON.parse(await conform(["status", "--name", name, "-o", "json"])) as {
      agents: Array<{ node: string; ready: boolean; policyRevision: number }>;
      endpoints: Array<{ node: string; namespace: string; podName: string; ingressEnforcement: string; ipv4?: string }>;
      identities: number;
    };
    assert.deepEqual(status.agents.map((a) => [a.node, a.ready]), nodes.map((n) => [n.name, true]));
    // Every node also has its health endpoint (agent/health/), listed like Cilium's `cilium endpoint list` does.
    const isHealth = (e: { namespace: string; podName: string }) => e.namespace === "kube-system" && e.podName.startsWith("cilium-health-");
    assert.deepEqual(
      status.endpoints.filter(isHealth).map((e) => [e.podName, e.node]).sort(),
      nodes.map((n) => [`cilium-health-${n.name}`, n.name]).sort(),
    );
    assert.deepEqual(
      status.endpoints.filter((e) => !isHealth(e)).map((e) => [`${e.namespace}/${e.podName}`, e.node, e.ingressEnforcement, e.ipv4]),
      [
        ["production/frontend", nodes[0]!.name, "none", pods.get("frontend")!.status!.podIP],
        ["production/health-checker", nodes[0]!.name, "none", pods.get("health-checker")!.status!.podIP],
        ["production/payment-service", nodes[1]!.name, "none", pods.get("payment-service")!.status!.podIP],
      ],
    );
    assert.ok(status.identities >= 3 + 8, `3 pod identities + reserved, got ${status.identities}`);
    // The TCP listener on the node address (Hubble's peer port), reached from inside the node netns.
    const tcp = await execCapture("ip", ["netns", "exec", nodes[0]!.netns, process.execPath, cli, "observe", "--server", `${nodes[1]!.ip}:4244`, "--to-pod", `${NS}/payment-service`, "-o", "json"], { timeoutMs: 30_000 });
    assert.equal(tcp.code, 0, tcp.stderr);
    assert.ok(jsonLines(tcp.stdout).some((l) => l.flow?.source?.pod_name === "health-checker" && l.flow.verdict === "FORWARDED"), tcp.stdout);
  });

  test("legacy-lockdown drops the checker (TIMEOUT) but admits frontend; observe names the policy", async () => {
    await custom.createNamespacedCustomObject({
      group: "cilium.io",
      version: "v2",
      plural: "ciliumnetworkpolicies",
      namespace: NS,
      body: {
        apiVersion: "cilium.io/v2",
        kind: "CiliumNetworkPolicy",
        metadata: { name: "legacy-lockdown" },
        spec: { endpointSelector: { matchLabels: { app: "payment-service" } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: "frontend" } }] }] },
      },
    });
    await waitRealized("legacy-lockdown");
    const got = await Promise.all([probe("health-checker", "payment-service", 8080), probe("frontend", "payment-service", 8080)]);
    assert.deepEqual(got, ["health-checker→payment-service:8080 TIMEOUT", "frontend→payment-service:8080 ALLOWED"]);

    // Compact, as the seeds' story prints it.
    const compact = await waitFor(
      "a DROPPED flow to payment-service from `conform observe`",
      async () => {
        const out = await conform(["observe", "--name", name, "--pod", `${NS}/payment-service`, "--verdict", "DROPPED"]);
        return out.split("\n").some((l) => l.includes("production/health-checker")) ? out : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    const lines = compact.trim().split("\n");
    for (const line of lines) {
      assert.match(line, /production\/health-checker:\d+ \(ID:\d+\) (?:->|<>) production\/payment-service:8080 \(ID:\d+\) /, line);
      assert.ok(line.includes("[default deny: production/legacy-lockdown (ingress)]"), line);
    }
    assert.ok(lines.some((l) => l.includes("Policy denied DROPPED (TCP Flags: SYN)")), compact);

    // JSON: the drop with its reason, both pods and the default-deny attribution.
    const json = jsonLines(await conform(["observe", "--name", name, "--from-pod", `${NS}/health-checker`, "--verdict", "DROPPED", "-o", "json"]));
    const drop = json.map((l) => l.flow).find((f) => f?.drop_reason_desc === "POLICY_DENIED" && f.event_type?.type === 1);
    assert.ok(drop, JSON.stringify(json));
    assert.equal(drop.verdict, "DROPPED");
    assert.equal(drop.source?.namespace, NS);
    assert.equal(drop.source?.pod_name, "health-checker");
    assert.equal(drop.destination?.pod_name, "payment-service");
    assert.equal(drop.destination?.ID !== undefined, true, "the local endpoint id");
    assert.equal(drop.traffic_direction, "INGRESS");
    assert.equal(drop.node_name, `${name}/${nodes[1]!.name}`);
    assert.deepEqual(
      drop.ingress_default_deny_by?.map((p) => `${p.kind}/${p.namespace}/${p.name}`),
      ["CiliumNetworkPolicy/production/legacy-lockdown"],
    );

    // The control: frontend's connection is forwarded, and its policy verdict names the allowing rule.
    const allowed = jsonLines(await conform(["observe", "--name", name, "--from-pod", `${NS}/frontend`, "--to-pod", `${NS}/payment-service`, "--all", "-o", "json"])).map((l) => l.flow!);
    assert.ok(allowed.length > 0 && allowed.every((f) => f.verdict !== "DROPPED"), JSON.stringify(allowed));
    const verdict = allowed.find((f) => f.event_type?.type === 5 && f.traffic_direction === "INGRESS");
    assert.ok(verdict, `an ingress policy verdict for frontend's connection: ${JSON.stringify(allowed)}`);
    assert.equal(verdict.verdict, "FORWARDED");
    assert.deepEqual(verdict.ingress_allowed_by?.map((p) => `${p.namespace}/${p.name}`), ["production/legacy-lockdown"], JSON.stringify(verdict));

    // Status: payment-service's ingress is now enforced on node 2, realized at the agent's revision.
    const status = JSON.parse(await conform(["status", "--name", name, "-o", "json"])) as {
      agents: Array<{ node: string; policyRevision: number }>;
      endpoints: Array<{ podName: string; ingressEnforcement: string; egressEnforcement: string; policyRevision: number }>;
    };
    const payment = status.endpoints.find((e) => e.podName === "payment-service")!;
    assert.deepEqual([payment.ingressEnforcement, payment.egressEnforcement], ["enforce", "none"]);
    assert.equal(payment.policyRevision, status.agents.find((a) => a.node === nodes[1]!.name)!.policyRevision);
    assert.equal(status.endpoints.find((e) => e.podName === "health-checker")!.ingressEnforcement, "none");
    const text = await conform(["status", "--name", name]);
    assert.match(text, /production\/payment-service\s+\S+\s+\d+\s+\d+\s+[\d.]+\s+enforce\s+none\s+\d+/);
  });
});
