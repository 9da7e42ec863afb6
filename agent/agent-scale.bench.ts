/**
 * The agent at scale on a real local cluster: 500 pods (endpoints made by the agent's CNI) and
 * 2,000 policy rules. Prints apply→enforced latency of single-policy changes (0 rules vs 2,000
 * rules, side by side) and each agent's RSS (idle, 500 endpoints, 500 endpoints + 2,000 rules).
 * Asserts what makes the figures real (endpoint, identity and policy counts), never a time.
 *
 *   node dist/harness/dev/run-bench.js agent-scale   (~34 min on 2 vCPUs at load 15–18; most of it is 500 pods starting)
 */
import assert from "node:assert/strict";
import type { KubeConfig } from "@kubernetes/client-node";
import { AgentConvergence, agentAddresses } from "../harness/cluster/local/agent-flows.js";
import { localClusterConfigSchema } from "../harness/cluster/local/config.js";
import { downCluster } from "../harness/cluster/local/down.js";
import { readState } from "../harness/cluster/local/state.js";
import { upCluster } from "../harness/cluster/local/up.js";
import { deleteObjects } from "../harness/kube/apply.js";
import { loadKubeConfig } from "../harness/kube/client.js";
import { mib } from "../harness/util/rss.js";
import { StopWaiting, waitFor } from "../harness/util/wait.js";
import { agentEndpoints, agentPolicy, nodeAgents, revisions, sampleRss, waitAgentsReady, whenRealized } from "./bench/agent-watch.js";
import type { NodeAgent } from "./bench/agent-watch.js";
import { applyAll, benchPods, policyLister } from "./bench/kube-load.js";
import { LATENCY_NAMESPACE, LATENCY_SUBJECT, latencyStep, loadPolicies, namespaces, percentile, pods, ruleCount } from "./bench/scale-workload.js";
import { getAgentJson } from "./api/client.js";
import { IdentityStatusSchema } from "./api/provider.js";

const name = `agscale${process.pid}`;
const NODES = 2;
/** Timed single-policy changes per load level (half creates, half edits). */
const STEPS = 30;
/** Agent API poll period while timing: the resolution of the latency figures. */
const POLL_MS = 20;
const APPLY_CONCURRENCY = 6;

// 250 pods per node: the kubelet's pod capacity and each node's pod CIDR (/23 = 510 addresses) are
// raised above the defaults (110, /24). No world netns: the CIDR rules never need to reach it.
const config = localClusterConfigSchema.parse({
  apiVersion: "conform.dev/v1alpha1",
  kind: "LocalCluster",
  metadata: { name },
  spec: { nodes: NODES, cni: "conform", nodeCIDRMaskSize: 23, maxPods: 300, world: false },
});

const abort = new AbortController();
let teardown: Promise<void> | undefined;
const cleanUp = (): Promise<void> =>
  (teardown ??= (async () => {
    if (!readState(name)) return;
    console.log(`tearing down cluster ${name}…`);
    await downCluster(name).catch((err: unknown) => console.error(`teardown of ${name} failed: ${(err as Error).message}; run: conform cluster down --name ${name}`));
  })());
let signals = 0;
const onSignal = (sig: NodeJS.Signals): void => {
  if (++signals === 1) {
    console.error(`\n${sig}: stopping; the cluster is removed… press Ctrl-C again to remove it at once`);
    abort.abort();
  } else void cleanUp().finally(() => process.exit(130));
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

/** What main() is doing, for the message when it fails or is interrupted. */
let stage = "starting";
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const checkAbort = (): void => {
  if (abort.signal.aborted) throw new StopWaiting("interrupted");
};

/** Prints progress of a long wait every 30 s, so a slow run is visibly alive. */
function progress(what: string, started: number): (line: string) => void {
  let last = started;
  return (line) => {
    if (Date.now() - last < 30_000) return;
    last = Date.now();
    console.log(`  …${what}: ${line} (${seconds(Date.now() - started)})`);
  };
}

/** The harness's own convergence rule: every agent holds the API server's policies, the revision has settled, every endpoint realized it. */
async function converge(kc: KubeConfig, agents: readonly NodeAgent[], timeoutMs: number): Promise<void> {
  const waiter = new AgentConvergence(
    agentAddresses(name, agents.map((a) => a.node)),
    policyLister(kc),
    { settleTimeoutMs: timeoutMs },
  );
  const revision = await waiter.desiredRevision(abort.signal);
  await waitFor(
    `every endpoint to realize policy revision ${revision}`,
    async () => {
      checkAbort();
      return (await waiter.pendingEndpoints(revision)).length === 0 ? true : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

interface Endpoints {
  readonly perNode: ReadonlyMap<string, number>;
  readonly total: number;
}

async function benchEndpoints(agents: readonly NodeAgent[]): Promise<Endpoints> {
  const perNode = new Map<string, number>();
  for (const a of agents) {
    const eps = (await agentEndpoints(a)).filter((e) => e.namespace.startsWith("scale-"));
    // An endpoint still on the init identity has no pod labels yet: not counted as there.
    perNode.set(a.node, eps.filter((e) => e.identity >= 256).length);
  }
  return { perNode, total: [...perNode.values()].reduce((n, x) => n + x, 0) };
}

/** Time from sending each change to every node having realized it; per step, the slowest node. */
async function timeSteps(kc: KubeConfig, agents: readonly NodeAgent[], label: string): Promise<{ latencies: number[]; rtts: number[] }> {
  const latencies: number[] = [];
  const rtts: number[] = [];
  let expected: Map<string, number> | undefined;
  for (let i = 0; i < STEPS; i++) {
    checkAbort();
    const step = latencyStep(i);
    // Nothing else may move the revisions between steps, or "revision + 1" would not be this change.
    const before = await revisions(agents);
    if (expected) for (const [node, r] of before) assert.equal(r, expected.get(node), `${label} step ${i}: node ${node} moved its policy revision without a change of ours`);
    const t0 = performance.now();
    await applyAll(kc, [step.object], { concurrency: 1 });
    rtts.push(performance.now() - t0);
    const seen = await Promise.all(agents.map((a) => whenRealized(a, before.get(a.node)! + 1, { timeoutMs: 120_000, pollMs: POLL_MS, signal: abort.signal })));
    latencies.push(Math.max(...seen) - t0);
    expected = new Map([...before].map(([node, r]) => [node, r + 1]));
  }
  return { latencies, rtts };
}

async function deleteLatencyPolicies(kc: KubeConfig): Promise<void> {
  const objects = Array.from({ length: STEPS }, (_, i) => latencyStep(i).object).filter((o, i, all) => all.findIndex((x) => x.metadata?.name === o.metadata?.name) === i);
  await deleteObjects(kc, objects);
}

/** Each agent holds exactly the API server's policy set, with no problems reported. */
async function assertPolicies(kc: KubeConfig, agents: readonly NodeAgent[], count: number): Promise<number> {
  const want = (await policyLister(kc)()).sort();
  assert.equal(want.length, count, "policies in the API server");
  let entries = 0;
  for (const a of agents) {
    const status = await agentPolicy(a);
    assert.deepEqual(status.policies.map((p) => `${p.kind}/${p.namespace}/${p.name}`).sort(), want, `policies held by the agent on ${a.node}`);
    const problems = status.policies.filter((p) => p.problems?.length);
    assert.deepEqual(problems, [], `policy problems reported by the agent on ${a.node}`);
    entries += status.endpoints.reduce((n, e) => n + (e.entries ?? 0), 0);
  }
  return entries;
}

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) => "  " + cells.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join("   ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  stage = "bringing the cluster up";
  const t0 = Date.now();
  const up = await upCluster({ name, config, signal: abort.signal });
  const upMs = Date.now() - t0;
  const kc = loadKubeConfig(up.kubeconfig);
  const agents = nodeAgents(name, up.state.nodes.map((n) => n.name));
  await waitAgentsReady(agents, 120_000, abort.signal);
  await converge(kc, agents, 60_000);
  const rssIdle = await sampleRss(agents);

  // 1. 500 endpoints.
  stage = "creating 500 pods and waiting for their endpoints";
  const podObjects = pods();
  const tPods = Date.now();
  await applyAll(kc, namespaces(), { concurrency: 1, signal: abort.signal });
  await applyAll(kc, podObjects, { concurrency: APPLY_CONCURRENCY, signal: abort.signal });
  const podsAppliedMs = Date.now() - tPods;
  const tick = progress("waiting for 500 pods", tPods);
  const endpoints = await waitFor(
    `${podObjects.length} bench pods Ready and as many endpoints in the agents`,
    async () => {
      checkAbort();
      const census = await benchPods(kc);
      const eps = await benchEndpoints(agents);
      tick(`${census.ready}/${census.total} pods Ready [${[...census.notReady].map(([k, v]) => `${k} ${v}`).join(", ")}], ${eps.total} endpoints`);
      return census.ready === podObjects.length && eps.total === podObjects.length ? eps : undefined;
    },
    { timeoutMs: 30 * 60_000, intervalMs: 1000 },
  );
  const podsReadyMs = Date.now() - tPods;
  await converge(kc, agents, 120_000);
  assert.equal(endpoints.total, 500, "endpoints of the bench pods across the agents");
  for (const [node, n] of endpoints.perNode) assert.ok(n > 0, `node ${node} has none of the bench's endpoints`);
  const identities = IdentityStatusSchema.array().parse(await getAgentJson(agents[0]!.address, "/v1/identities"));
  const benchIdentities = identities.filter((i) => i.labels.some((l) => l.startsWith("k8s:io.kubernetes.pod.namespace=scale-")));
  assert.equal(benchIdentities.length, 100, "identities of the bench pods (namespace × app × version)");
  // The timed policy's subject must live on every node, or some node would have nothing to realize.
  for (const a of agents) {
    const subjects = (await agentEndpoints(a)).filter((e) => e.namespace === LATENCY_NAMESPACE && e.labels.includes(`k8s:tier=${LATENCY_SUBJECT.tier}`));
    assert.ok(subjects.length > 0, `node ${a.node} has no endpoint the timed policy selects`);
  }
  const rssEndpoints = await sampleRss(agents);

  // 2. apply→enforced with no policy loaded.
  stage = "timing changes with 0 rules";
  const idle = await timeSteps(kc, agents, "0 rules");
  await deleteLatencyPolicies(kc);
  await converge(kc, agents, 60_000);
  await assertPolicies(kc, agents, 0);

  // 3. 2,000 rules.
  stage = "applying 2,000 rules and waiting for convergence";
  const load = loadPolicies();
  const rules = load.reduce((n, p) => n + ruleCount(p), 0);
  assert.equal(rules, 2000, "rules in the load");
  const tLoad = Date.now();
  await applyAll(kc, load, { concurrency: APPLY_CONCURRENCY, signal: abort.signal });
  const loadAppliedMs = Date.now() - tLoad;
  await converge(kc, agents, 20 * 60_000);
  const loadConvergedMs = Date.now() - tLoad;
  const entries = await assertPolicies(kc, agents, load.length);
  const rssLoaded = await sampleRss(agents);

  // 4. apply→enforced on top of the load.
  stage = "timing changes on top of 2,000 rules";
  const loaded = await timeSteps(kc, agents, "2,000 rules");
  await converge(kc, agents, 120_000);
  const entriesAfter = await assertPolicies(kc, agents, load.length + Math.ceil(STEPS / 2));
  const totalMs = Date.now() - t0;

  const kinds = new Map<string, number>();
  for (const { kind = "?" } of load) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  const perNode = [...endpoints.perNode].map(([n, c]) => `${n} ${c}`).join(", ");
  console.log(`agent scale: ${NODES} nodes; ${endpoints.total} endpoints (${perNode}); ${benchIdentities.length} pod identities`);
  console.log(
    `load: ${load.length} policies (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}), ${rules} rules; ` +
      `${entries} policy map entries over both nodes (${entriesAfter} with the timed policies)`,
  );
  console.log(
    `setup: cluster up ${seconds(upMs)}; ${podObjects.length} pods applied in ${seconds(podsAppliedMs)}, all Ready with endpoints after ${seconds(podsReadyMs)}; ` +
      `${load.length} policies applied in ${seconds(loadAppliedMs)}, every agent converged after ${seconds(loadConvergedMs)}`,
  );
  console.log(`apply→enforced: ${STEPS} single-policy changes (${STEPS / 2} creates, ${STEPS / 2} edits), send → realized by every endpoint on every node (poll ${POLL_MS} ms):`);
  const p = (xs: number[], q: number) => percentile(xs, q);
  const afterAnswer = (r: { latencies: number[]; rtts: number[] }): number[] => r.latencies.map((l, i) => l - r.rtts[i]!);
  table(
    ["", "0 rules", "2,000 rules", "ratio"],
    [
      ["p50", ms(p(idle.latencies, 50)), ms(p(loaded.latencies, 50)), `${(p(loaded.latencies, 50) / p(idle.latencies, 50)).toFixed(1)}×`],
      ["p95", ms(p(idle.latencies, 95)), ms(p(loaded.latencies, 95)), `${(p(loaded.latencies, 95) / p(idle.latencies, 95)).toFixed(1)}×`],
      ["max", ms(Math.max(...idle.latencies)), ms(Math.max(...loaded.latencies)), ""],
      ["API apply round trip p50", ms(p(idle.rtts, 50)), ms(p(loaded.rtts, 50)), ""],
      // The API server accepted the object somewhere within the round trip; from its answer is the lower bound.
      ["p50 from the API's answer", ms(p(afterAnswer(idle), 50)), ms(p(afterAnswer(loaded), 50)), `${(p(afterAnswer(loaded), 50) / p(afterAnswer(idle), 50)).toFixed(1)}×`],
      ["p95 from the API's answer", ms(p(afterAnswer(idle), 95)), ms(p(afterAnswer(loaded), 95)), `${(p(afterAnswer(loaded), 95) / p(afterAnswer(idle), 95)).toFixed(1)}×`],
    ],
  );
  console.log("agent RSS (VmRSS via /v1/status pid, median of 5 samples):");
  table(
    ["", "idle", "500 ep, 0 rules", "500 ep, 2,000 rules", "loaded ÷ idle"],
    agents.map((a) => {
      const [i, e, l] = [rssIdle, rssEndpoints, rssLoaded].map((m) => m.get(a.node)!);
      return [a.node, mib(i!), mib(e!), mib(l!), `${(l! / i!).toFixed(1)}×`];
    }),
  );
  console.log(`whole bench: ${seconds(totalMs)}`);
}

try {
  await main();
} catch (err) {
  process.exitCode = 1;
  console.error(`${abort.signal.aborted ? "interrupted" : "failed"} while ${stage}${abort.signal.aborted ? "" : `: ${(err as Error).stack ?? String(err)}`}`);
} finally {
  await cleanUp();
}
// A pending poll timer must not hold the process after teardown.
process.exit(process.exitCode ?? 0);
