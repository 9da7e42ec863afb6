// The full agent on a real 2-node `spec.cni: conform` cluster brought up by `conform cluster up`:
// policies are enforced by the eBPF datapath, cross-node and by identity. Every step waits until
// every agent reports the policy's resourceVersion realised on all its endpoints (the agents'
// policy-status.json, and every pod's CiliumEndpoint published with its identity) — no sleeps.
import { after, before, describe, test } from "node:test";
import { conformCli, upTestCluster } from "../harness/cluster/local/testing/cluster.js";
import { createProbePod, waitPodReady } from "../harness/cluster/local/testing/probe-pods.js";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, NetworkingV1Api } from "@kubernetes/client-node";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { execCapture } from "../harness/cluster/local/kubelet/exec.js";
import { netnsNames } from "../harness/cluster/local/names.js";
import { agentLogTail, agentPinDir, agentStateDir, removeAgentPins } from "../harness/cluster/local/node-agent.js";
import { clusterStateDir } from "../harness/cluster/local/paths.js";
import type { NodeRecord } from "../harness/cluster/local/state.js";
import { NetnsProbeExecutor } from "../harness/probe/netns-executor.js";
import type { ProbeResult } from "../harness/probe/schema.js";
import { waitFor } from "../harness/util/wait.js";
import { BpfMap, Direction, MAP_NAMES, PerCpuTypedMap, metricsIndex, metricsValueCodec, u32Codec } from "../native/index.js";
import { POLICY_STATUS_FILE } from "./agent.js";
import type { PolicySyncStatus } from "./sync/policy-sync.js";
import { hostVethName } from "./endpoint/link-ops.js";
import { HEALTH_CONTAINER_ID, HEALTH_IFNAME } from "./health/health-endpoint.js";

const name = `as${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "cft-as-int-"));
const CNP = { group: "cilium.io", version: "v2", plural: "ciliumnetworkpolicies" } as const;
const CCNP = { group: "cilium.io", version: "v2", plural: "ciliumclusterwidenetworkpolicies" } as const;

const conform = (args: string[]) => conformCli(args, { timeoutMs: 180_000 });

describe("the conform agent enforces policy on a 2-node cluster", { timeout: 420_000 }, () => {
  let kc: KubeConfig;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let nodes: NodeRecord[];
  const pods = new Map<string, V1Pod>();
  const probes = new NetnsProbeExecutor({ resolveNetns: (p) => netnsNames.pod(name, pods.get(p.name)?.metadata?.uid ?? "") });

  before(async () => {
    ({ nodes, kc } = await upTestCluster(name, dir, { nodes: 2, cni: "conform", world: false }));
    core = kc.makeApiClient(CoreV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    for (const ns of ["shop", "other"]) await core.createNamespace({ body: { metadata: { name: ns } } });
    const place: Array<[string, string, string]> = [
      ["shop", "frontend", nodes[0]!.name],
      ["shop", "backend", nodes[1]!.name],
      ["other", "stranger", nodes[0]!.name],
    ];
    for (const [ns, pod, node] of place) await createProbePod(core, { namespace: ns, name: pod, node, args: ["serve", "--http", "8080", "--tcp", "9000"] });
    for (const [ns, pod] of place) pods.set(pod, await waitPodReady(core, ns, pod, async () => agentLogs()));
  });

  after(async () => {
    await conform(["cluster", "down", "--name", name]).catch((err: unknown) => console.error(String(err)));
    // Only needed when `cluster down` itself failed: it unpins the agents' maps.
    removeAgentPins(name);
    rmSync(dir, { recursive: true, force: true });
  });

  function agentLogs(): Promise<string> {
    return Promise.resolve(nodes.map((n) => agentLogTail(clusterStateDir(name), n.name, 15)).join("\n---\n"));
  }

  const statusOf = (node: NodeRecord): PolicySyncStatus => JSON.parse(readFileSync(join(agentStateDir(clusterStateDir(name), node.name), POLICY_STATUS_FILE), "utf8")) as PolicySyncStatus;

  /** Every agent has `expected` (policy key → resourceVersion, or null = absent) in force on all its endpoints, and every pod's CEP is published. */
  async function waitRealized(expected: Record<string, string | null>): Promise<void> {
    await waitFor(
      `every agent to realise ${JSON.stringify(expected)}`,
      async () => {
        for (const node of nodes) {
          const s = statusOf(node);
          for (const [key, rv] of Object.entries(expected)) if ((s.policies[key] ?? null) !== rv) return undefined;
          if (Object.values(s.endpoints).some((e) => e.revision !== s.revision)) return undefined;
        }
        for (const [podName, pod] of pods) {
          const node = nodes.find((n) => n.name === pod.spec?.nodeName)!;
          const cep = (await custom.getNamespacedCustomObject({ group: "cilium.io", version: "v2", plural: "ciliumendpoints", namespace: pod.metadata!.namespace!, name: podName })) as {
            status?: { identity?: { id?: number }; networking?: { node?: string } };
          };
          if (!cep.status?.identity?.id || cep.status.networking?.node !== node.ip) return undefined;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100, onTimeout: async () => nodes.map((n) => JSON.stringify(statusOf(n))).join("\n") + "\n" + (await agentLogs()) },
    );
  }

  async function probe(from: string, to: string, port: number): Promise<ProbeResult> {
    const pod = pods.get(from)!;
    const [r] = await probes.runBatch({ namespace: pod.metadata!.namespace!, name: from }, [{ kind: "tcp", id: `${from}-${to}-${port}`, host: pods.get(to)!.status!.podIP!, port, timeoutMs: 1500 }]);
    return r!;
  }

  async function expectOutcomes(cases: Array<[string, string, number, "ALLOWED" | "TIMEOUT"]>): Promise<void> {
    const got = await Promise.all(cases.map(([f, t, p]) => probe(f, t, p)));
    assert.deepEqual(
      got.map((r, i) => `${cases[i]![0]}→${cases[i]![1]}:${cases[i]![2]} ${r.outcome}`),
      cases.map(([f, t, p, o]) => `${f}→${t}:${p} ${o}`),
    );
  }

  /** Packets cf_metrics_v1 of a node counted as dropped in a direction for a reason (summed over CPUs). */
  function dropped(node: NodeRecord, direction: Direction, reason: number): bigint {
    const map = BpfMap.openPinned(join(agentPinDir(name), node.name, MAP_NAMES.metrics));
    try {
      const slots = new PerCpuTypedMap(map, u32Codec, metricsValueCodec).get(metricsIndex(direction, reason)) ?? [];
      return slots.reduce((a, s) => a + s.packets, 0n);
    } finally {
      map.close();
    }
  }

  test("without policy everything is reachable, and the programs sit on the pods' host veths", async () => {
    await waitRealized({});
    await expectOutcomes([
      ["frontend", "backend", 8080, "ALLOWED"],
      ["stranger", "backend", 8080, "ALLOWED"],
      ["frontend", "stranger", 9000, "ALLOWED"],
    ]);
    const links = await execCapture("ip", ["-n", nodes[1]!.netns, "-br", "link", "show", "type", "veth"], { timeoutMs: 5000 });
    const healthVeth = hostVethName(HEALTH_CONTAINER_ID, HEALTH_IFNAME);
    const all = links.stdout.split("\n").map((l) => l.split(/[\s@]/)[0] ?? "").filter((n) => n.startsWith("lxc"));
    assert.ok(all.includes(healthVeth), `node 2's health endpoint has its veth ${healthVeth}`);
    const lxc = all.filter((n) => n !== healthVeth);
    assert.equal(lxc.length, 1, "backend is the only pod on node 2");
    for (const hook of ["ingress", "egress"]) {
      const tc = await execCapture("tc", ["-n", nodes[1]!.netns, "filter", "show", "dev", lxc[0]!, hook], { timeoutMs: 5000 });
      // tc shows program names cut to the kernel's 15 characters.
      assert.match(tc.stdout, hook === "ingress" ? /cf_from_endpoin/ : /cf_to_endpoint/);
    }
  });

  test("every node has a health endpoint: CEP kube-system/cilium-health-<node> with identity 4, answering HTTP on 4240 across nodes", async () => {
    for (const node of nodes) {
      const cep = (await custom.getNamespacedCustomObject({ group: "cilium.io", version: "v2", plural: "ciliumendpoints", namespace: "kube-system", name: `cilium-health-${node.name}` })) as {
        status?: { identity?: { id?: number; labels?: string[] }; networking?: { addressing?: { ipv4?: string }[] } };
      };
      assert.equal(cep.status?.identity?.id, 4);
      assert.deepEqual(cep.status?.identity?.labels, ["reserved:health="]);
      const ip = cep.status?.networking?.addressing?.[0]?.ipv4 ?? "";
      // frontend runs on node 1: one probe stays on the node, the other crosses to node 2.
      const [r] = await probes.runBatch({ namespace: "shop", name: "frontend" }, [{ kind: "http", id: `health-${node.name}`, host: ip, port: 4240, method: "GET", path: "/hello", timeoutMs: 3000 }]);
      assert.equal(r?.outcome, "ALLOWED", `${node.name}'s health endpoint ${ip}: ${r?.detail}`);
      assert.equal(r?.http?.status, 200);
    }
  });

  test("CNP: backend admits frontend on 8080 only; cross-node, by identity; drops counted by the datapath", async () => {
    const created = (await custom.createNamespacedCustomObject({
      ...CNP,
      namespace: "shop",
      body: {
        apiVersion: "cilium.io/v2",
        kind: "CiliumNetworkPolicy",
        metadata: { name: "backend-from-frontend" },
        spec: { endpointSelector: { matchLabels: { app: "backend" } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: "frontend" } }], toPorts: [{ ports: [{ port: "8080", protocol: "TCP" }] }] }] },
      },
    })) as { metadata: { resourceVersion: string } };
    await waitRealized({ "CiliumNetworkPolicy/shop/backend-from-frontend": created.metadata.resourceVersion });
    const before = dropped(nodes[1]!, Direction.ingress, 133);
    await expectOutcomes([
      ["frontend", "backend", 8080, "ALLOWED"],
      ["frontend", "backend", 9000, "TIMEOUT"],
      ["stranger", "backend", 8080, "TIMEOUT"],
      ["frontend", "stranger", 9000, "ALLOWED"],
    ]);
    // Two refused connections, each at least one SYN dropped by default deny (133) on backend's veth.
    assert.ok(dropped(nodes[1]!, Direction.ingress, 133) - before >= 2n, "the drops happened in node 2's datapath");
  });

  test("a policy the engine rejects is reported (Event) and leaves the rest in force", async () => {
    const bad = (await custom.createNamespacedCustomObject({
      ...CNP,
      namespace: "shop",
      body: {
        apiVersion: "cilium.io/v2",
        kind: "CiliumNetworkPolicy",
        metadata: { name: "unsupported" },
        spec: { endpointSelector: { matchLabels: { app: "frontend" } }, egress: [{ toServices: [{ k8sService: { serviceName: "x", namespace: "shop" } }] }] },
      },
    })) as { metadata: { resourceVersion: string } };
    const events = await waitFor(
      "a PolicyRejected Event on shop/unsupported",
      async () => {
        const list = await core.listNamespacedEvent({ namespace: "shop", fieldSelector: "involvedObject.name=unsupported,reason=PolicyRejected" });
        return list.items.length >= 1 ? list.items : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    assert.match(events[0]?.message ?? "", /toServices/);
    await waitFor(
      "every agent to list the rejected update",
      async () => (nodes.every((n) => statusOf(n).rejected["CiliumNetworkPolicy/shop/unsupported"]?.resourceVersion === bad.metadata.resourceVersion) ? true : undefined),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    for (const n of nodes) assert.equal(statusOf(n).policies["CiliumNetworkPolicy/shop/unsupported"], undefined, "never in force");
    await custom.deleteNamespacedCustomObject({ ...CNP, namespace: "shop", name: "unsupported" });
    await expectOutcomes([
      ["frontend", "backend", 8080, "ALLOWED"],
      ["stranger", "backend", 8080, "TIMEOUT"],
    ]);
  });

  test("KNP in other: ingress [{}] admits everything, ingress [] (isolation) admits nothing", async () => {
    const net = kc.makeApiClient(NetworkingV1Api);
    const allowAll = await net.createNamespacedNetworkPolicy({
      namespace: "other",
      body: { metadata: { name: "stranger-ingress" }, spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{}] } },
    });
    await waitRealized({ "NetworkPolicy/other/stranger-ingress": allowAll.metadata!.resourceVersion! });
    await expectOutcomes([
      ["frontend", "stranger", 9000, "ALLOWED"],
      ["backend", "stranger", 8080, "ALLOWED"],
    ]);
    const isolate = await net.replaceNamespacedNetworkPolicy({
      namespace: "other",
      name: "stranger-ingress",
      body: { metadata: { name: "stranger-ingress", resourceVersion: allowAll.metadata!.resourceVersion! }, spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [] } },
    });
    await waitRealized({ "NetworkPolicy/other/stranger-ingress": isolate.metadata!.resourceVersion! });
    await expectOutcomes([
      ["frontend", "stranger", 9000, "TIMEOUT"],
      ["backend", "stranger", 8080, "TIMEOUT"],
    ]);
  });

  test("CCNP ingressDeny from frontend beats the CNP allow (POLICY_DENY in the datapath)", async () => {
    const created = (await custom.createClusterCustomObject({
      ...CCNP,
      body: {
        apiVersion: "cilium.io/v2",
        kind: "CiliumClusterwideNetworkPolicy",
        metadata: { name: "deny-frontend-to-backend" },
        spec: { endpointSelector: { matchLabels: { app: "backend" } }, ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: "frontend" } }] }] },
      },
    })) as { metadata: { resourceVersion: string } };
    await waitRealized({ "CiliumClusterwideNetworkPolicy/deny-frontend-to-backend": created.metadata.resourceVersion });
    const before = dropped(nodes[1]!, Direction.ingress, 181);
    await expectOutcomes([["frontend", "backend", 8080, "TIMEOUT"]]);
    assert.ok(dropped(nodes[1]!, Direction.ingress, 181) - before >= 1n, "dropped by a deny entry (181) on node 2");
  });

  test("deleting the policies restores every path", async () => {
    await custom.deleteClusterCustomObject({ ...CCNP, name: "deny-frontend-to-backend" });
    await custom.deleteNamespacedCustomObject({ ...CNP, namespace: "shop", name: "backend-from-frontend" });
    await kc.makeApiClient(NetworkingV1Api).deleteNamespacedNetworkPolicy({ namespace: "other", name: "stranger-ingress" });
    await waitRealized({
      "CiliumClusterwideNetworkPolicy/deny-frontend-to-backend": null,
      "CiliumNetworkPolicy/shop/backend-from-frontend": null,
      "NetworkPolicy/other/stranger-ingress": null,
    });
    await expectOutcomes([
      ["frontend", "backend", 8080, "ALLOWED"],
      ["frontend", "backend", 9000, "ALLOWED"],
      ["stranger", "backend", 8080, "ALLOWED"],
      ["backend", "stranger", 8080, "ALLOWED"],
    ]);
  });
});
