// --grep/--skip selection, --parallel scheduling with namespace locks, the runner's own skip
// reasons (policy enforcement, services, world hosts) and exit codes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RunnerCapabilities } from "../cluster/provider.js";
import { buildRunReport, scenarioStatus } from "../report/index.js";
import type { CellReport, ScenarioReport } from "../report/index.js";
import { exitCodeFor } from "./run.js";
import { skipReasons } from "./requirements.js";
import { conflicts, runScheduled, scenarioCost, scenarioLocks } from "./schedule.js";
import type { ScenarioLocks } from "./schedule.js";
import { parseSelection, selectScenarios, SelectionError } from "./select.js";
import { scenarioYaml, scenariosFrom } from "./testdata/fixtures.js";

describe("--grep / --skip", () => {
  const scenarios = [...scenariosFrom(scenarioYaml("alpha", { to: ["ns/b:8080", "ns/b:9001/udp"] })), ...scenariosFrom(scenarioYaml("beta", { namespace: "other" }))];
  const names = (sel: ReturnType<typeof selectScenarios>) => sel.map((s) => `${s.scenario.name}:${[...s.caseIds].length}${s.all ? "*" : ""}`);

  test("no flags select every scenario whole", () => {
    assert.deepEqual(names(selectScenarios(scenarios, parseSelection(undefined, undefined))), ["alpha:2*", "beta:1*"]);
  });

  test("--grep on a scenario name runs it whole; on a cell id only that cell", () => {
    assert.deepEqual(names(selectScenarios(scenarios, parseSelection("^beta$", undefined))), ["beta:1*"]);
    const udpOnly = selectScenarios(scenarios, parseSelection("9001/udp", undefined));
    assert.deepEqual(names(udpOnly), ["alpha:1"]);
    assert.deepEqual([...udpOnly[0]!.caseIds], ["alpha/check: ns/a -> ns/b:9001/udp"]);
  });

  test("--skip removes scenarios by name and cells by id", () => {
    assert.deepEqual(names(selectScenarios(scenarios, parseSelection(undefined, "alpha"))), ["beta:1*"]);
    assert.deepEqual(names(selectScenarios(scenarios, parseSelection(undefined, "udp"))), ["alpha:1", "beta:1*"]);
    // A scenario whose every cell is skipped does not run at all.
    assert.deepEqual(names(selectScenarios(scenarios, parseSelection(undefined, "-> (ns|other)/b"))), []);
  });

  test("a bad regular expression is refused with the flag named", () => {
    assert.throws(() => parseSelection("([", undefined), (err: unknown) => err instanceof SelectionError && /--grep "\(\[" is not a valid regular expression/.test(err.message));
  });
});

describe("--parallel scheduling", () => {
  const locks = (namespaces: string[], exclusive = false): ScenarioLocks => ({
    namespaces: new Set(namespaces),
    exclusive,
    podSelectors: [],
    denyPeers: [],
    hostPolicy: false,
    podLabels: [],
    usesHosts: false,
  });

  test("scenario locks: its namespaces; cluster-scoped objects other than clusterwide policies make it exclusive", () => {
    const [plain] = scenariosFrom(scenarioYaml("a", { namespace: "team-a" }));
    assert.deepEqual(scenarioLocks(plain!).namespaces, new Set(["team-a"]));
    assert.equal(scenarioLocks(plain!).exclusive, false);
    const [role] = scenariosFrom(footprintYaml("r", "cf-r", { app: "x" }, "{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: cf-r}, rules: []}"));
    assert.equal(scenarioLocks(role!).exclusive, true);
  });

  // A scenario with one namespace and one pod, applying `extra` as its first step.
  function footprintYaml(name: string, namespace: string, labels: Record<string, string>, extra: string, more = ""): string {
    return `apiVersion: conform.dev/v1alpha1
kind: Scenario
metadata: {name: ${name}}
spec:
  fixtures:
    namespaces: [{name: ${namespace}, labels: {team: ${name}}}]
    pods: [{name: p, namespace: ${namespace}, labels: ${JSON.stringify(labels)}, node: 1}${more}]
  steps:
    - apply: [${extra}]
`;
  }
  const quiet = (name: string, namespace: string, labels: Record<string, string>, more = "") =>
    footprintYaml(name, namespace, labels, `{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: ${namespace}}}`, more);
  const ccnp = (name: string, namespace: string, selector: string, ingress = "[{fromEndpoints: [{}]}]") =>
    footprintYaml(name, namespace, { app: name }, `{apiVersion: cilium.io/v2, kind: CiliumClusterwideNetworkPolicy, metadata: {name: ${name}}, spec: {${selector}, ingress: ${ingress}}}`);
  const lockOf = (yaml: string) => scenarioLocks(scenariosFrom(yaml)[0]!);

  test("a clusterwide policy is kept apart only from scenarios owning a pod it selects", () => {
    const byLabel = lockOf(ccnp("cw", "cf-cw", "endpointSelector: {matchLabels: {tier: db}}"));
    assert.equal(byLabel.exclusive, false);
    assert.equal(conflicts(byLabel, lockOf(quiet("web", "cf-web", { tier: "web" }))), false);
    assert.equal(conflicts(byLabel, lockOf(quiet("db", "cf-db", { tier: "db" }))), true);
    // Namespace labels reach through io.cilium.k8s.namespace.labels, and the namespace name through its own label.
    const byNamespaceLabel = lockOf(ccnp("ns", "cf-ns", "endpointSelector: {matchLabels: {io.cilium.k8s.namespace.labels.team: db}}"));
    assert.equal(conflicts(byNamespaceLabel, lockOf(quiet("db", "cf-db", { app: "x" }))), true);
    assert.equal(conflicts(byNamespaceLabel, lockOf(quiet("web", "cf-web", { app: "x" }))), false);
    const byNamespace = lockOf(ccnp("nn", "cf-nn", "endpointSelector: {matchExpressions: [{key: io.kubernetes.pod.namespace, operator: In, values: [cf-web]}]}"));
    assert.equal(conflicts(byNamespace, lockOf(quiet("web", "cf-web", { app: "x" }))), true);
    assert.equal(conflicts(byNamespace, lockOf(quiet("db", "cf-db", { app: "x" }))), false);
    const everything = lockOf(ccnp("all", "cf-all", "endpointSelector: {}"));
    assert.equal(conflicts(everything, lockOf(quiet("web", "cf-web", { app: "x" }))), true);
    // Selecting everything but only denying its own peers, without default deny: it reaches those peers only.
    const denyOwn = lockOf(
      ccnp("deny", "cf-deny", "endpointSelector: {}, enableDefaultDeny: {ingress: false}", "[]").replace(
        "ingress: []}",
        "ingress: [], ingressDeny: [{fromEndpoints: [{matchLabels: {role: intruder}}]}]}",
      ),
    );
    assert.equal(conflicts(denyOwn, lockOf(quiet("web", "cf-web", { app: "x" }))), false);
    assert.equal(conflicts(denyOwn, lockOf(quiet("intruder", "cf-intruder", { role: "intruder" }))), true);
  });

  test("pods whose labels a scenario cannot know are assumed selected", () => {
    const byLabel = lockOf(ccnp("cw", "cf-cw", "endpointSelector: {matchLabels: {tier: db}}"));
    const deployment = lockOf(
      footprintYaml("dep", "cf-dep", { app: "x" }, "{apiVersion: apps/v1, kind: Deployment, metadata: {name: d, namespace: cf-dep}, spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: conform/probe:v1}]}}}}"),
    );
    assert.equal(deployment.podLabels, undefined);
    assert.equal(conflicts(byLabel, deployment), true);
    // A pod in a namespace the scenario does not create: that namespace's labels are unknown.
    const foreign = lockOf(quiet("fo", "cf-fo", { app: "x" }, ", {name: q, namespace: default, labels: {app: y}, node: 1}"));
    assert.equal(foreign.podLabels, undefined);
    assert.equal(conflicts(byLabel, foreign), true);
  });

  test("a host policy is kept apart from scenarios that probe nodes; with egress rules it runs alone", () => {
    const host = lockOf(ccnp("hp", "cf-hp", "nodeSelector: {matchLabels: {conform.dev/node-index: '2'}}"));
    assert.equal(host.hostPolicy, true);
    assert.equal(host.exclusive, false);
    assert.equal(conflicts(host, lockOf(quiet("web", "cf-web", { app: "x" }))), false);
    const [probesNodes] = scenariosFrom(scenarioYaml("n", { namespace: "cf-n", to: ["host:10250/tcp"] }));
    assert.equal(conflicts(host, scenarioLocks(probesNodes!)), true);
    const hostNet = lockOf(
      footprintYaml("hn", "cf-hn", { app: "x" }, "{apiVersion: v1, kind: Pod, metadata: {name: h, namespace: cf-hn}, spec: {hostNetwork: true, containers: [{name: probe, image: conform/probe:v1}]}}"),
    );
    assert.equal(conflicts(host, hostNet), true);
    const egress = lockOf(ccnp("he", "cf-he", "nodeSelector: {matchLabels: {conform.dev/node-index: '2'}}, egress: [{toEntities: [world]}]"));
    assert.equal(egress.exclusive, true);
  });

  test("the costliest scenario starts first: waves of would-be drops cost probe timeouts", async () => {
    const [passes] = scenariosFrom(scenarioYaml("p", { namespace: "cf-p" }));
    const [drops] = scenariosFrom(scenarioYaml("d", { namespace: "cf-d" }).replace("{cf-d/a: ALLOWED}", "{cf-d/a: DROPPED}"));
    assert.ok(scenarioCost(drops!, 16) > scenarioCost(passes!, 16));
    const order = async (items: { name: string; locks: ScenarioLocks; cost: number }[]) => {
      const events: string[] = [];
      await runScheduled(items, {
        parallel: 1,
        locks: (i) => i.locks,
        cost: (i) => i.cost,
        work: async (i) => void events.push(i.name),
        onNotStarted: () => undefined,
        onError: () => undefined,
      });
      return events;
    };
    assert.deepEqual(
      await order([
        { name: "cheap", locks: locks(["a"]), cost: 1 },
        { name: "dear", locks: locks(["b"]), cost: 9 },
      ]),
      ["dear", "cheap"],
    );
    // Two that cannot overlap form a chain; it starts before a single costlier scenario.
    const chain = [
      { name: "solo", locks: locks(["s"]), cost: 8 },
      { name: "first", locks: locks(["shared"]), cost: 5 },
      { name: "second", locks: locks(["shared"]), cost: 4 },
    ];
    assert.deepEqual(await order(chain), ["first", "second", "solo"]);
  });

  async function trace(items: { name: string; locks: ScenarioLocks }[], parallel: number) {
    const events: string[] = [];
    let running = 0;
    let peak = 0;
    const results = await runScheduled(items, {
      parallel,
      locks: (i) => i.locks,
      work: async (i) => {
        running++;
        peak = Math.max(peak, running);
        events.push(`start ${i.name}`);
        await new Promise((r) => setTimeout(r, 20));
        events.push(`end ${i.name}`);
        running--;
        return i.name;
      },
      onNotStarted: (i) => `not started ${i.name}`,
      onError: (i) => `error ${i.name}`,
    });
    return { events, peak, results };
  }

  test("independent scenarios overlap up to the limit; results stay in input order", async () => {
    const items = ["a", "b", "c"].map((n) => ({ name: n, locks: locks([n]) }));
    const r = await trace(items, 2);
    assert.equal(r.peak, 2);
    assert.deepEqual(r.results, ["a", "b", "c"]);
    assert.deepEqual(r.events.slice(0, 2), ["start a", "start b"]);
  });

  test("scenarios sharing a namespace never overlap; an exclusive one runs alone", async () => {
    const shared = await trace([{ name: "a", locks: locks(["shop"]) }, { name: "b", locks: locks(["shop"]) }, { name: "c", locks: locks(["other"]) }], 3);
    assert.ok(shared.events.indexOf("end a") < shared.events.indexOf("start b"), shared.events.join(", "));
    assert.ok(shared.events.indexOf("start c") < shared.events.indexOf("end a"), "c runs beside a");
    const exclusive = await trace([{ name: "a", locks: locks(["x"]) }, { name: "cw", locks: locks(["y"], true) }, { name: "c", locks: locks(["z"]) }], 3);
    assert.ok(exclusive.events.indexOf("end a") < exclusive.events.indexOf("start cw"));
    assert.ok(exclusive.events.indexOf("end cw") < exclusive.events.indexOf("start c") || exclusive.events.indexOf("end c") < exclusive.events.indexOf("start cw"));
  });

  test("once stopped, nothing new starts and the rest are reported as not started", async () => {
    let stop = false;
    const results = await runScheduled(["a", "b", "c"], {
      parallel: 1,
      locks: () => locks(["same"]),
      work: async (n) => {
        stop = true;
        return n;
      },
      stop: () => stop,
      onNotStarted: (n) => `skipped ${n}`,
      onError: (n) => `error ${n}`,
    });
    assert.deepEqual(results, ["a", "skipped b", "skipped c"]);
  });

  test("work that throws becomes that item's error result", async () => {
    const results = await runScheduled(["a", "b"], {
      parallel: 2,
      locks: (n) => locks([n]),
      work: async (n) => {
        if (n === "a") throw new Error("boom");
        return n;
      },
      onNotStarted: (n) => n,
      onError: (n, err) => `error ${n}: ${(err as Error).message}`,
    });
    assert.deepEqual(results, ["error a: boom", "b"]);
  });
});

describe("runner skip reasons", () => {
  const everything: RunnerCapabilities = {
    nodes: 2,
    routingMode: "native",
    encryption: "none",
    kubeProxyReplacement: false,
    policyEnforcement: true,
    serviceLoadBalancing: true,
    world: true,
  };

  test("a capable cluster runs the scenario", () => {
    const [s] = scenariosFrom(scenarioYaml("s", { applyKind: "CiliumNetworkPolicy", to: ["ns/b:8080", "world:203.0.113.10:80"] }));
    assert.deepEqual(skipReasons(s!, everything), []);
  });

  test("policy scenarios skip where nothing enforces policy; plain ones do not", () => {
    for (const kind of ["NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"]) {
      const [s] = scenariosFrom(scenarioYaml("s", { applyKind: kind }));
      const reasons = skipReasons(s!, { ...everything, policyEnforcement: false });
      assert.equal(reasons.length, 1, kind);
      assert.match(reasons[0]!, new RegExp(`applies network policy \\(${kind} `));
      assert.match(reasons[0]!, /enforces none/);
    }
    const [plain] = scenariosFrom(scenarioYaml("s"));
    assert.deepEqual(skipReasons(plain!, { ...everything, policyEnforcement: false }), []);
  });

  test("world targets need world hosts; declared requirements come through checkRequirements", () => {
    const [s] = scenariosFrom(scenarioYaml("s", { to: ["world:203.0.113.10:80"] }));
    assert.deepEqual(skipReasons(s!, { ...everything, world: false }), ["probes world hosts (203.0.113.0/24), and this cluster has none"]);
    assert.deepEqual(skipReasons(s!, { ...everything, nodes: 1 }), ["needs 2 nodes, the cluster has 1"]);
  });
});

describe("exit codes", () => {
  const meta = { conformVersion: "0", agentVersion: "none", kernel: "6", kubernetesVersion: "v1", clusterName: "c", audit: false, startedAt: "2026-01-01T00:00:00.000Z", endedAt: "2026-01-01T00:00:01.000Z" };
  const scenario = (over: Partial<ScenarioReport>): ScenarioReport => ({ name: "s", file: "f", status: "passed", durationMs: 1, errors: [], cells: [], checks: [], ...over });
  const cell = (status: CellReport["status"]): CellReport => ({ id: "s/x: a -> b", step: "x", from: "a", to: "b", protocol: "tcp", expected: { outcome: "ALLOWED" }, status, flows: [] });

  test("0 passed, 1 failed or inconclusive cells, 2 scenario errors, 130 interrupted", () => {
    const report = (...scenarios: ScenarioReport[]) => buildRunReport(meta, scenarios.map((s) => ({ ...s, status: scenarioStatus(s) })));
    assert.equal(exitCodeFor(report(scenario({ cells: [cell("pass"), cell("skipped")] })), false), 0);
    assert.equal(exitCodeFor(report(scenario({ cells: [cell("fail")] })), false), 1);
    assert.equal(exitCodeFor(report(scenario({ cells: [cell("inconclusive")] })), false), 1);
    assert.equal(exitCodeFor(report(scenario({ cells: [cell("fail")] }), scenario({ name: "t", errors: [{ step: "apply", message: "refused" }] })), false), 2);
    assert.equal(exitCodeFor(report(scenario({ skipReason: "needs 3 nodes" })), false), 0);
    assert.equal(exitCodeFor(report(scenario({ cells: [cell("pass")] })), true), 130);
  });
});
