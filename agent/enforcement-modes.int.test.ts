// Policy enforcement modes and audit mode end to end (policy-semantics.md §1.1, §10) on one real
// 2-node `cni: conform` cluster. The mode is switched the way a Cilium user switches it: edit the
// agent ConfigMap (`policy.enforcementMode`, `policy.auditMode`) and delete the agent pods; the
// DaemonSet's new agents read it. Every phase checks what must pass and what must be dropped,
// both by probe outcome and by the flows the agents report (verdict, drop reason, policy named).
//
// Pods (namespace `modes`): a, b (clients, node 1), guarded (selected by `guarded-from-a`, which
// admits only app=a), open (selected by no policy) — both servers on node 2.
import { after, before, describe, test } from "node:test";
import { conformCli, upTestCluster } from "../harness/cluster/local/testing/cluster.js";
import { createProbePod, waitPodReady } from "../harness/cluster/local/testing/probe-pods.js";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { AgentFlowSource, agentAddresses } from "../harness/cluster/local/agent-flows.js";
import { mergePatch } from "../harness/cluster/local/kubelet/kube.js";
import { netnsNames } from "../harness/cluster/local/names.js";
import { AGENT_CONFIGMAP, AGENT_NAMESPACE, agentLogTail, removeAgentPins } from "../harness/cluster/local/node-agent.js";
import { clusterStateDir } from "../harness/cluster/local/paths.js";
import type { NodeRecord } from "../harness/cluster/local/state.js";
import { editAgentSettings, restartAgents, withPolicySettings } from "../harness/cluster/local/testing/agent-restart.js";
import { NetnsProbeExecutor } from "../harness/probe/netns-executor.js";
import { waitFor } from "../harness/util/wait.js";
import { getAgentJson, parseAgentAddress } from "./api/client.js";
import { agentApiSocketPath } from "./api/paths.js";
import { PolicyStatusSchema } from "./api/provider.js";
import type { Flow, FlowLine, FlowPolicy } from "./observer/flow.js";
import { RESERVED_IDENTITY } from "./identity/reserved.js";
import { AUDIT_MODE_ANNOTATION } from "./policy/index.js";

const name = `em${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "cft-modes-int-"));
const NS = "modes";
const PORT = 8080;
/** The agent API's TCP listener on the node address (hostNetwork): something of the host's to reach. */
const HOST_PORT = 4244;
const CNP = { group: "cilium.io", version: "v2", plural: "ciliumnetworkpolicies" } as const;
const GUARDED = "guarded-from-a";
const CLIENTS_EGRESS = "clients-egress";

type Mode = "none" | "enforce" | "audit";
type Outcome = "ALLOWED" | "TIMEOUT";
type Direction = "ingress" | "egress";

const conform = (args: string[]) => conformCli(args);

const policyNames = (list: readonly FlowPolicy[] | undefined): string[] => (list ?? []).map((p) => `${p.namespace ?? ""}/${p.name ?? ""}`);
const brief = (f: Flow): string =>
  `${f.verdict} ${f.traffic_direction} type=${f.event_type?.type} ${f.drop_reason_desc ?? ""} ${f.IP?.source}->${f.IP?.destination}:${f.l4?.TCP?.destination_port ?? ""} ` +
  `allowed_by=${JSON.stringify(policyNames(f.ingress_allowed_by ?? f.egress_allowed_by))} default_deny_by=${JSON.stringify(policyNames(f.ingress_default_deny_by ?? f.egress_default_deny_by))}`;

describe("enforcement modes default / always / never and audit mode, switched through the agent ConfigMap", { timeout: 600_000 }, () => {
  let kc: KubeConfig;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let nodes: NodeRecord[];
  let flows: AgentFlowSource;
  const pods = new Map<string, V1Pod>();
  const podProbes = new NetnsProbeExecutor({ resolveNetns: (p) => netnsNames.pod(name, pods.get(p.name)?.metadata?.uid ?? "") });
  const hostProbes = new NetnsProbeExecutor({ resolveNetns: (p) => nodes.find((n) => n.name === p.name)!.netns });
  const logs = async (): Promise<string> => nodes.map((n) => agentLogTail(clusterStateDir(name), n.name, 20)).join("\n---\n");
  const ip = (pod: string): string => pods.get(pod)!.status!.podIP!;
  /** The node that runs the servers: host traffic there is identity host (1) for them. */
  const serverNode = (): NodeRecord => nodes[1]!;

  before(async () => {
    // spec.agent starts the agents in the default mode explicitly: `up` must put it in the ConfigMap.
    ({ nodes, kc } = await upTestCluster(name, dir, { nodes: 2, cni: "conform", world: false, agent: { enforcementMode: "default", auditMode: false } }));
    core = kc.makeApiClient(CoreV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    flows = new AgentFlowSource(agentAddresses(name, nodes.map((n) => n.name)));
    await core.createNamespace({ body: { metadata: { name: NS } } });
    const place: Array<[string, string]> = [
      ["a", nodes[0]!.name],
      ["b", nodes[0]!.name],
      ["guarded", serverNode().name],
      ["open", serverNode().name],
    ];
    for (const [pod, node] of place) await createProbePod(core, { namespace: NS, name: pod, node, args: ["serve", "--http", String(PORT)] });
    for (const [pod] of place) {
      pods.set(pod, await waitPodReady(core, NS, pod, logs));
    }
    await createPolicy(GUARDED, { endpointSelector: { matchLabels: { app: "guarded" } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: "a" } }] }] });
  });

  after(async () => {
    await conform(["cluster", "down", "--name", name]).catch((err: unknown) => console.error(String(err)));
    removeAgentPins(name);
    rmSync(dir, { recursive: true, force: true });
  });

  async function createPolicy(policy: string, spec: Record<string, unknown>): Promise<void> {
    await custom.createNamespacedCustomObject({ ...CNP, namespace: NS, body: { apiVersion: "cilium.io/v2", kind: "CiliumNetworkPolicy", metadata: { name: policy }, spec } });
  }

  /**
   * Switches the agents' policy settings (ConfigMap + agent pods deleted), then waits until every
   * agent holds exactly `policies`, has realized its last compile on every endpoint, and reports
   * each pod's enforcement as `modes` says: the mode is in force, not just configured.
   */
  async function switchAgents(settings: { enforcementMode: "default" | "always" | "never"; auditMode: boolean }): Promise<void> {
    await editAgentSettings(core, withPolicySettings(settings));
    await restartAgents(core, { cluster: name, nodes: nodes.map((n) => n.name), onTimeout: logs });
  }

  async function waitEnforcement(policies: readonly string[], modes: Record<string, { ingress: Mode; egress: Mode }>): Promise<void> {
    const want = [...policies].sort();
    let last = "";
    await waitFor(
      `agents to enforce ${JSON.stringify(modes)} with ${want.join(", ")}`,
      async () => {
        const seen: Record<string, { ingress: Mode; egress: Mode }> = {};
        for (const node of nodes) {
          const p = PolicyStatusSchema.parse(await getAgentJson(parseAgentAddress(`unix:${agentApiSocketPath(name, node.name)}`), "/v1/policy"));
          const have = p.policies.filter((x) => x.namespace === NS).map((x) => x.name).sort();
          last = `${node.name}: policies ${have.join(",")} revision ${p.revision}`;
          if (JSON.stringify(have) !== JSON.stringify(want)) return undefined;
          if (p.policies.some((x) => x.problems?.length)) throw new Error(`policy problems: ${JSON.stringify(p.policies)}`);
          for (const e of p.endpoints) {
            if (e.realizedRevision !== p.revision) return undefined;
            if (e.namespace === NS) seen[e.podName] = { ingress: e.ingress.mode, egress: e.egress.mode };
          }
        }
        last = JSON.stringify(seen);
        return JSON.stringify(Object.keys(modes).sort().map((k) => [k, seen[k]])) === JSON.stringify(Object.keys(modes).sort().map((k) => [k, modes[k]])) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, onTimeout: async () => `last seen: ${last}\n${await logs()}` },
    );
  }

  /** Probes grouped per source (one batch client each); returns `from→to:port OUTCOME` lines. */
  async function probe(cells: ReadonlyArray<readonly [string, string, number, Outcome]>): Promise<void> {
    const target = (to: string): string => (to === "host" ? serverNode().ip : ip(to));
    const got = await Promise.all(
      cells.map(async ([from, to, port]) => {
        const input = [{ kind: "tcp" as const, id: `${from}-${to}-${port}`, host: target(to), port, timeoutMs: 1500 }];
        const [r] = from === "host" ? await hostProbes.runBatch({ namespace: "", name: serverNode().name }, input) : await podProbes.runBatch({ namespace: NS, name: from }, input);
        return `${from}→${to}:${port} ${r!.outcome}${r!.outcome === "PROBE_ERROR" ? ` ${JSON.stringify(r)}` : ""}`;
      }),
    );
    assert.deepEqual(
      got,
      cells.map(([f, t, p, o]) => `${f}→${t}:${p} ${o}`),
    );
  }

  const addressOf = (end: string): string => (end === "host" ? serverNode().ip : ip(end));

  /** Flows from → to since `since` (every node), once `ready` holds on them or the wait ends. */
  async function flowsUntil(from: string, to: string, since: Date, what: string, ready: (fs: Flow[]) => boolean): Promise<Flow[]> {
    let seen: Flow[] = [];
    let unfiltered: Flow[] = [];
    return waitFor(
      `${what} (${from}→${to})`,
      async () => {
        // The node reaches its pods from whichever of its addresses routes there: host traffic is
        // told by its identity (host, 1), not by the underlay address.
        const filter = from === "host" ? { destinationIp: [addressOf(to)] } : { sourceIp: [addressOf(from)], destinationIp: [addressOf(to)] };
        const lines = (await flows.query({ since, until: new Date(), filters: [filter] })) as FlowLine[];
        unfiltered = lines.map((l) => l.flow).filter((f): f is Flow => f !== undefined);
        seen = unfiltered.filter((f) => from !== "host" || f.source?.identity === RESERVED_IDENTITY.host);
        return ready(seen) ? seen : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 250, onTimeout: async () => `flows seen:\n${unfiltered.map((f) => `${brief(f)} src-identity=${f.source?.identity}`).join("\n")}` },
    );
  }

  const isPolicyVerdict = (f: Flow, dir: Direction): boolean => f.event_type?.type === 5 && f.traffic_direction === dir.toUpperCase();

  /** Passed: a FORWARDED policy verdict per enforced direction, naming its policy; nothing dropped or audited. */
  async function expectForwarded(from: string, to: string, since: Date, allowedBy: Partial<Record<Direction, string[]>>): Promise<void> {
    const dirs = Object.keys(allowedBy) as Direction[];
    const fs = await flowsUntil(from, to, since, "FORWARDED flows", (list) =>
      list.some((f) => f.verdict === "FORWARDED") && dirs.every((d) => list.some((f) => isPolicyVerdict(f, d) && f.verdict === "FORWARDED")),
    );
    for (const d of dirs) {
      const verdict = fs.find((f) => isPolicyVerdict(f, d) && f.verdict === "FORWARDED")!;
      assert.deepEqual(policyNames(verdict[`${d}_allowed_by`]), allowedBy[d]!, `${from}→${to} ${d}: ${brief(verdict)}`);
    }
    assert.deepEqual(fs.filter((f) => f.verdict === "DROPPED" || f.verdict === "AUDIT").map(brief), [], `${from}→${to} has no drop or audit`);
  }

  /** Dropped by default deny (POLICY_DENIED) in `dir`, attributed to `defaultDenyBy` (empty: no policy, e.g. mode always). */
  async function expectDropped(from: string, to: string, since: Date, dir: Direction, defaultDenyBy: string[]): Promise<void> {
    const fs = await flowsUntil(from, to, since, `a DROPPED ${dir} flow`, (list) => list.some((f) => f.verdict === "DROPPED" && f.traffic_direction === dir.toUpperCase()));
    const drops = fs.filter((f) => f.verdict === "DROPPED");
    for (const d of drops) {
      assert.equal(d.drop_reason_desc, "POLICY_DENIED", brief(d));
      assert.equal(d.traffic_direction, dir.toUpperCase(), brief(d));
      assert.deepEqual(policyNames(d[`${dir}_default_deny_by`]), defaultDenyBy, brief(d));
    }
    assert.deepEqual(fs.filter((f) => f.verdict === "AUDIT" || (f.verdict === "FORWARDED" && isPolicyVerdict(f, dir))).map(brief), [], `${from}→${to} is never let through in ${dir}`);
  }

  /** Audited: the would-be default-deny drop is an AUDIT verdict naming the policy; nothing dropped. */
  async function expectAudited(from: string, to: string, since: Date, defaultDenyBy: string[]): Promise<void> {
    const fs = await flowsUntil(from, to, since, "an AUDIT ingress verdict", (list) => list.some((f) => f.verdict === "AUDIT"));
    const audits = fs.filter((f) => f.verdict === "AUDIT");
    for (const a of audits) {
      assert.equal(a.traffic_direction, "INGRESS", brief(a));
      assert.equal(a.drop_reason_desc, "POLICY_DENIED", brief(a));
      assert.deepEqual(policyNames(a.ingress_default_deny_by), defaultDenyBy, brief(a));
    }
    assert.deepEqual(fs.filter((f) => f.verdict === "DROPPED").map(brief), [], `${from}→${to} is never dropped`);
  }

  const guardedBy = [`${NS}/${GUARDED}`];

  test("default: a pod no policy selects is open to everyone; guarded-from-a admits a and drops b", async () => {
    const cm = await core.readNamespacedConfigMap({ namespace: AGENT_NAMESPACE, name: AGENT_CONFIGMAP });
    assert.deepEqual((parseYaml(cm.data?.["config.yaml"] ?? "") as { policy?: unknown }).policy, { enforcementMode: "default", auditMode: false }, "spec.agent reached the agent ConfigMap");
    await waitEnforcement([GUARDED], {
      a: { ingress: "none", egress: "none" },
      b: { ingress: "none", egress: "none" },
      guarded: { ingress: "enforce", egress: "none" },
      open: { ingress: "none", egress: "none" },
    });
    const since = new Date();
    await probe([
      ["a", "open", PORT, "ALLOWED"],
      ["b", "open", PORT, "ALLOWED"],
      ["host", "open", PORT, "ALLOWED"],
      ["open", "host", HOST_PORT, "ALLOWED"],
      ["a", "guarded", PORT, "ALLOWED"],
      ["b", "guarded", PORT, "TIMEOUT"],
    ]);
    // Not enforced: no policy verdict to name a policy, but nothing dropped either.
    await expectForwarded("b", "open", since, {});
    await expectForwarded("open", "host", since, {});
    await expectForwarded("host", "open", since, {});
    await expectForwarded("a", "guarded", since, { ingress: guardedBy });
    await expectDropped("b", "guarded", since, "ingress", guardedBy);
  });

  test("always: a pod no policy selects is default deny both ways, host to pod stays allowed; an allow opens just its cell", async () => {
    // The clients' egress needs an allow too under `always`; with it, drops happen at the servers' ingress.
    await createPolicy(CLIENTS_EGRESS, {
      endpointSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["a", "b"] }] },
      egress: [{ toEndpoints: [{ matchExpressions: [{ key: "app", operator: "In", values: ["guarded", "open"] }] }] }],
    });
    await switchAgents({ enforcementMode: "always", auditMode: false });
    await waitEnforcement([CLIENTS_EGRESS, GUARDED], {
      a: { ingress: "enforce", egress: "enforce" },
      b: { ingress: "enforce", egress: "enforce" },
      guarded: { ingress: "enforce", egress: "enforce" },
      open: { ingress: "enforce", egress: "enforce" },
    });
    const since = new Date();
    await probe([
      ["a", "open", PORT, "TIMEOUT"],
      ["open", "b", PORT, "TIMEOUT"],
      ["open", "host", HOST_PORT, "TIMEOUT"],
      ["host", "open", PORT, "ALLOWED"],
      ["a", "guarded", PORT, "ALLOWED"],
      ["b", "guarded", PORT, "TIMEOUT"],
    ]);
    // open: nothing selects it, so no policy is named; the default deny comes from the mode.
    await expectDropped("a", "open", since, "ingress", []);
    await expectDropped("open", "b", since, "egress", []);
    // Pod to host is not implicitly allowed; host to pod is (allow-localhost, a synthesized entry names no policy).
    await expectDropped("open", "host", since, "egress", []);
    await expectForwarded("host", "open", since, { ingress: [] });
    await expectForwarded("a", "guarded", since, { egress: [`${NS}/${CLIENTS_EGRESS}`], ingress: guardedBy });
    await expectDropped("b", "guarded", since, "ingress", guardedBy);
  });

  test("never: guarded-from-a is in force but ignored, b gets through with no drop", async () => {
    await custom.deleteNamespacedCustomObject({ ...CNP, namespace: NS, name: CLIENTS_EGRESS });
    await switchAgents({ enforcementMode: "never", auditMode: false });
    await waitEnforcement([GUARDED], {
      a: { ingress: "none", egress: "none" },
      b: { ingress: "none", egress: "none" },
      guarded: { ingress: "none", egress: "none" },
      open: { ingress: "none", egress: "none" },
    });
    const since = new Date();
    await probe([
      ["b", "guarded", PORT, "ALLOWED"],
      ["a", "guarded", PORT, "ALLOWED"],
      ["open", "b", PORT, "ALLOWED"],
    ]);
    await expectForwarded("b", "guarded", since, {});
    await expectForwarded("a", "guarded", since, {});
    await expectForwarded("open", "b", since, {});
  });

  test("agent auditMode: b's would-be drop is delivered and reported AUDIT naming the policy; a stays FORWARDED", async () => {
    await switchAgents({ enforcementMode: "default", auditMode: true });
    await waitEnforcement([GUARDED], {
      a: { ingress: "none", egress: "none" },
      b: { ingress: "none", egress: "none" },
      guarded: { ingress: "audit", egress: "none" },
      open: { ingress: "none", egress: "none" },
    });
    const since = new Date();
    await probe([
      ["b", "guarded", PORT, "ALLOWED"],
      ["a", "guarded", PORT, "ALLOWED"],
      ["b", "open", PORT, "ALLOWED"],
    ]);
    await expectAudited("b", "guarded", since, guardedBy);
    await expectForwarded("a", "guarded", since, { ingress: guardedBy });
    // Audit needs enforcement: a pod no policy selects shows no AUDIT (policy-semantics.md §10).
    await expectForwarded("b", "open", since, {});
  });

  test("back to default: b is dropped again; the per-policy audit annotation alone then audits it", async () => {
    await switchAgents({ enforcementMode: "default", auditMode: false });
    await waitEnforcement([GUARDED], {
      a: { ingress: "none", egress: "none" },
      b: { ingress: "none", egress: "none" },
      guarded: { ingress: "enforce", egress: "none" },
      open: { ingress: "none", egress: "none" },
    });
    let since = new Date();
    await probe([
      ["b", "guarded", PORT, "TIMEOUT"],
      ["a", "guarded", PORT, "ALLOWED"],
    ]);
    await expectDropped("b", "guarded", since, "ingress", guardedBy);
    await expectForwarded("a", "guarded", since, { ingress: guardedBy });

    // conform extension (no upstream equivalent, policy-semantics.md §10): audit per policy.
    await custom.patchNamespacedCustomObject({ ...CNP, namespace: NS, name: GUARDED, body: { metadata: { annotations: { [AUDIT_MODE_ANNOTATION]: "true" } } } }, mergePatch);
    await waitEnforcement([GUARDED], {
      a: { ingress: "none", egress: "none" },
      b: { ingress: "none", egress: "none" },
      guarded: { ingress: "audit", egress: "none" },
      open: { ingress: "none", egress: "none" },
    });
    since = new Date();
    await probe([
      ["b", "guarded", PORT, "ALLOWED"],
      ["a", "guarded", PORT, "ALLOWED"],
    ]);
    await expectAudited("b", "guarded", since, guardedBy);
    await expectForwarded("a", "guarded", since, { ingress: guardedBy });
  });
});
