// `conform run` end to end, spawned as users run it (bin/conform.js), against real local
// clusters: the shipped policy suite passes with one JUnit testcase per cell, a wrong expectation
// fails with its diff in the JUnit text, a run without --keep leaves no cluster behind, bad input
// exits 2 without touching a cluster, and Ctrl-C cleans up and exits 130. One test runs in-process
// with a flow source built from what the world servers saw, to drive the flow-matching path.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import type { ClusterProvider, FlowQuery, FlowSource } from "../cluster/provider.js";
import { LocalProvider } from "../cluster/local/provider.js";
import { clusterStateDir } from "../cluster/local/paths.js";
import { WORLD_HOSTS } from "../cluster/local/topology.js";
import type { FlowRecord } from "../report/model.js";
import { run } from "../util/exec.js";
import { matchesAnyFilter } from "./flow-match.js";
import { runConform as runInProcess } from "./run.js";
import { downCluster } from "../cluster/local/down.js";
import { netnsNames } from "../cluster/local/names.js";
import { repoRoot } from "../cluster/local/paths.js";
import { readState } from "../cluster/local/state.js";
import { listNetns } from "../cluster/local/topology.js";
import { kubeconfigPath } from "../cluster/local/up.js";
import { loadKubeConfig } from "../kube/client.js";
import { loadScenariosOrThrow, scenarioCells } from "../spec/index.js";
import { waitFor } from "../util/wait.js";

const kept = `rn${process.pid}`;
const fresh = `rnf${process.pid}`;
const conform = join(repoRoot, "bin", "conform.js");
const testdata = join(repoRoot, "harness", "runner", "testdata");

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runConform(args: string[], onStart?: (pid: number) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [conform, "run", ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    if (child.pid !== undefined) onStart?.(child.pid);
  });
}

interface JUnitCase {
  name: string;
  failure?: { message: string; type: string; text: string };
  error?: { message: string };
  skipped?: { message: string };
}
interface JUnitSuite {
  name: string;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  properties: Record<string, string>;
  cases: JUnitCase[];
}

/** Parses JUnit XML with a real XML parser (Python's ElementTree), not with regexes. */
function parseJUnit(xml: string): JUnitSuite[] {
  const program = `
import sys, json, xml.etree.ElementTree as E
root = E.fromstring(sys.stdin.read())
out = []
for s in root.iter('testsuite'):
    cases = []
    for c in s.iter('testcase'):
        case = {'name': c.get('name')}
        f = c.find('failure')
        if f is not None: case['failure'] = {'message': f.get('message'), 'type': f.get('type'), 'text': f.text or ''}
        e = c.find('error')
        if e is not None: case['error'] = {'message': e.get('message')}
        k = c.find('skipped')
        if k is not None: case['skipped'] = {'message': k.get('message')}
        cases.append(case)
    props = {p.get('name'): p.get('value') for p in s.iter('property')}
    out.append({'name': s.get('name'), 'tests': int(s.get('tests')), 'failures': int(s.get('failures')), 'errors': int(s.get('errors')), 'skipped': int(s.get('skipped')), 'properties': props, 'cases': cases})
print(json.dumps(out))
`;
  const r = spawnSync("python3", ["-c", program], { input: xml, encoding: "utf8" });
  assert.equal(r.status, 0, `JUnit does not parse: ${r.stderr}`);
  return JSON.parse(r.stdout) as JUnitSuite[];
}

async function namespaceGone(cluster: string, name: string): Promise<boolean> {
  const core = loadKubeConfig(kubeconfigPath(cluster)).makeApiClient(CoreV1Api);
  try {
    await core.readNamespace({ name });
    return false;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return true;
    throw err;
  }
}

/**
 * A flow source made of real observations: every connection a world server logged becomes a
 * FORWARDED flow (client → server). Traffic that never reached a server has no flow, as a flow
 * log that missed it would. The agent's flow API replaces this once it exists.
 */
function worldServerFlows(cluster: string): FlowSource {
  const hosts: Record<string, string> = { "world-web": WORLD_HOSTS.web, "world-extra": WORLD_HOSTS.extra, "world-dns": WORLD_HOSTS.dns };
  return {
    async query(q: FlowQuery): Promise<FlowRecord[]> {
      const flows: FlowRecord[] = [];
      for (const [log, server] of Object.entries(hosts)) {
        let text = "";
        try {
          text = readFileSync(join(clusterStateDir(cluster), "logs", `${log}.log`), "utf8");
        } catch {
          continue;
        }
        for (const line of text.split("\n")) {
          if (!line.startsWith("{")) continue;
          const e = JSON.parse(line) as { time?: string; proto?: string; port?: number; client?: string; transport?: string };
          if (!e.client || !e.time) continue;
          const t = Date.parse(e.time);
          if (t < q.since.getTime() || t > q.until.getTime()) continue;
          const [ip, port] = [e.client.slice(0, e.client.lastIndexOf(":")), Number(e.client.slice(e.client.lastIndexOf(":") + 1))];
          const l4 = e.proto === "udp" || (e.proto === "dns" && e.transport !== "tcp") ? "UDP" : "TCP";
          const flow: FlowRecord = {
            time: e.time,
            verdict: "FORWARDED",
            IP: { source: ip, destination: server, ipVersion: "IPv4" },
            l4: { [l4]: { source_port: port, destination_port: e.port ?? 53 } },
            Type: "L3_L4",
            is_reply: false,
            Summary: `${e.proto} seen by ${log}`,
          };
          if (matchesAnyFilter(flow, q.filters)) flows.push(flow);
        }
      }
      return flows;
    },
  };
}

describe("conform run (local cluster, spawned CLI)", { timeout: 900_000 }, () => {
  let out: string;

  before(() => {
    out = mkdtempSync(join(tmpdir(), "cft-rn-reports-"));
  });

  after(async () => {
    await downCluster(kept);
    await downCluster(fresh);
    rmSync(out, { recursive: true, force: true });
  });

  test("bad input exits 2 before any cluster is touched", async () => {
    const r = await runConform(["harness/runner/testdata/no-such.yaml", "--name", kept]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no-such\.yaml: no such file or directory/);
    const badGrep = await runConform(["harness/runner/testdata/one-cell.yaml", "--name", kept, "--grep", "(["]);
    assert.equal(badGrep.code, 2);
    assert.match(badGrep.stderr, /--grep "\(\[" is not a valid regular expression/);
    assert.equal(readState(kept), undefined, "no cluster was created");
  });

  test("suites/policy and suites/observability pass on the local cluster, and their --mutate self-check: exit 0, one JUnit testcase per cell, zero failures", async () => {
    const dir = join(out, "policy");
    const r = await runConform(["suites/policy", "suites/observability", "--name", kept, "--keep", "--mutate", "--output-dir", dir, "--reporter", "list,junit,json"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /RESULT: PASSED/);

    const scenarios = loadScenariosOrThrow([join(repoRoot, "suites", "policy"), join(repoRoot, "suites", "observability")]);
    const suites = parseJUnit(readFileSync(join(dir, "junit.xml"), "utf8"));
    assert.deepEqual(suites.map((s) => s.name).sort(), scenarios.map((s) => s.name).sort());
    for (const scenario of scenarios) {
      const suite = suites.find((s) => s.name === scenario.name)!;
      const cells = scenarioCells(scenario);
      const flowChecks = scenario.steps.flatMap((s) => (s.kind === "expect" ? s.flows : []));
      const waits = scenario.steps.filter((s) => s.kind === "wait" && s.for === "policy-converged");
      // One testcase per cell, per flow check, per convergence wait, and the mutation self-check.
      assert.equal(suite.tests, cells.length + flowChecks.length + waits.length + 1, `${scenario.name}: testcases`);
      const cellCases = suite.cases.filter((c) => c.name.includes(" -> "));
      assert.deepEqual(cellCases.map((c) => c.name), cells.map((c) => `${c.step}: ${c.from} -> ${c.to}`));
      assert.equal(suite.failures, 0, JSON.stringify(suite.cases.filter((c) => c.failure)));
      assert.equal(suite.errors, 0, JSON.stringify(suite.cases.filter((c) => c.error)));
      // The default local cluster runs the agent: nothing is skipped but the self-check of the
      // one scenario that applies no policy.
      const mutation = suite.cases.find((c) => c.name === "self-check: mutation policies removed");
      assert.ok(mutation, `${scenario.name}: the mutation self-check is reported`);
      const appliesPolicy = scenario.name !== "baseline-connectivity";
      assert.equal(suite.skipped, appliesPolicy ? 0 : 1, `${scenario.name}: skipped`);
      if (!appliesPolicy) assert.match(mutation.skipped?.message ?? "", /applies no network policy/);
      assert.equal(suite.properties["manifest.digest"], scenario.manifestDigest);
      assert.match(suite.properties["kubernetes.version"] ?? "", /^v1\.\d+\.\d+/);
      assert.match(suite.properties.kernel ?? "", /^\d+\.\d+/);
      assert.match(suite.properties["agent.version"] ?? "", /^\d+\.\d+\.\d+/);
      assert.equal(suite.properties["cluster.name"], kept);
    }
    // What must be refused was refused by the peer, not lost: the closed ports' cells observed REJECTED.
    const json = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
    const rejected = json.scenarios.flatMap((s: { cells: { expected: { outcome: string }; observed: { outcome: string } }[] }) => s.cells).filter((c: { expected: { outcome: string } }) => c.expected.outcome === "REJECTED");
    assert.ok(rejected.length >= 2);
    for (const c of rejected) assert.equal(c.observed.outcome, "REJECTED");
    // Probes of policy drops ended on the agents' drop flows (drop notices), not on their timeouts.
    type JsonCell = { expected: { outcome: string }; observed: { outcome: string; detail: string } };
    const dropped: JsonCell[] = json.scenarios.flatMap((s: { cells: JsonCell[] }) => s.cells).filter((c: JsonCell) => c.observed.outcome === "DROPPED");
    assert.ok(dropped.length > 20);
    const early = dropped.filter((c) => /the datapath dropped it \(POLICY_DEN(IED|Y)\), so the probe stopped waiting/.test(c.observed.detail));
    assert.ok(early.length > dropped.length / 2, `${early.length} of ${dropped.length} drops ended early; e.g. ${dropped[0]?.observed.detail}`);

    // Fixtures were deleted for real; the cluster itself was kept.
    assert.ok(await namespaceGone(kept, "cf-baseline"), "the scenario's namespace is gone");
    assert.equal(readState(kept)?.phase, "running");
  });

  test("a wrong expectation fails: exit 1, the expected-vs-observed diff in the JUnit failure", async () => {
    const dir = join(out, "wrong");
    const r = await runConform([join(testdata, "wrong-expectation.yaml"), "--name", kept, "--keep", "--output-dir", dir]);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    const [suite] = parseJUnit(readFileSync(join(dir, "junit.xml"), "utf8"));
    assert.equal(suite?.tests, 2);
    assert.equal(suite?.failures, 1);
    const failed = suite!.cases.find((c) => c.failure)!;
    assert.equal(failed.name, "wrong: cf-rn-wrong/a -> cf-rn-wrong/b:8080/tcp");
    assert.equal(failed.failure?.type, "mismatch");
    assert.match(failed.failure?.message ?? "", /^expected DROPPED, observed ALLOWED/);
    assert.match(failed.failure?.text ?? "", /expected: DROPPED\nobserved: ALLOWED\n/);
    // The right expectation beside it still passes.
    assert.ok(suite!.cases.some((c) => c.name.endsWith("b:9001/udp") && !c.failure && !c.error));
    assert.ok(await namespaceGone(kept, "cf-rn-wrong"));
  });

  test("a misspelt manifest field is refused by the API server: exit 2, file, line and field in the JUnit error", async () => {
    const dir = join(out, "typo");
    const r = await runConform([join(testdata, "typo-manifest.yaml"), "--name", kept, "--keep", "--output-dir", dir]);
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    const [suite] = parseJUnit(readFileSync(join(dir, "junit.xml"), "utf8"));
    const error = suite!.cases.find((c) => c.error)!;
    assert.equal(error.name, "apply-typo: error");
    assert.match(error.error?.message ?? "", /apply Service cf-rn-typo\/web \(.*typo\/service\.yaml:1\) was refused: .*\.spec\.selecter: field not declared in schema/);
    // The cell after the failed step never ran, and says why.
    assert.equal(suite!.cases.find((c) => c.skipped)?.skipped?.message, "not run: apply-typo failed");
    assert.ok(await namespaceGone(kept, "cf-rn-typo"));
  });

  test("without --keep: a name that exists is refused; a fresh cluster is created and removed at the end", async () => {
    const taken = await runConform([join(testdata, "one-cell.yaml"), "--name", kept]);
    assert.equal(taken.code, 2);
    assert.match(taken.stderr, new RegExp(`a local cluster named "${kept}" already exists; reuse it with --keep`));

    const r = await runConform([join(testdata, "one-cell.yaml"), "--name", fresh, "--output-dir", join(out, "fresh"), "--reporter", "list"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`creating local cluster "${fresh}"`));
    assert.equal(readState(fresh), undefined, "state removed");
    assert.deepEqual(listNetns().filter((n) => n.startsWith(netnsNames.prefix(fresh))), [], "no network namespace left");
  });

  test("Ctrl-C while fixtures come up: fixtures deleted, the kept cluster left running, exit 130", async () => {
    const core = loadKubeConfig(kubeconfigPath(kept)).makeApiClient(CoreV1Api);
    let pid = 0;
    const running = runConform([join(testdata, "stuck-pod.yaml"), "--name", kept, "--keep", "--output-dir", join(out, "stuck")], (p) => (pid = p));
    // The run sits in the fixtures phase once the unrunnable pod exists.
    await waitFor(
      "the stuck pod to exist",
      async () => ((await core.listNamespacedPod({ namespace: "cf-rn-stuck" })).items.some((p) => p.metadata?.name === "never-ready") ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    process.kill(pid, "SIGINT");
    const r = await running;
    assert.equal(r.code, 130, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /interrupted: cleaning up/);
    assert.ok(await namespaceGone(kept, "cf-rn-stuck"), "fixtures deleted");
    assert.equal(readState(kept)?.phase, "running", "--keep: the cluster stays");
  });

  test("with a flow source: flows matched by 5-tuple, a silent drop without a flow is called out, an unnamed policy fails", async () => {
    const world = netnsNames.world(kept);
    // A real silent drop: the world host never answers 9000/tcp.
    await run("ip", ["netns", "exec", world, "nft", "-f", "-"], { input: "table inet cftrn {\n  chain inbound {\n    type filter hook input priority 0;\n    tcp dport 9000 drop\n  }\n}\n" });
    try {
      const local = new LocalProvider();
      const provider: ClusterProvider = {
        name: "local",
        acquire: async (o) => ({ ...(await local.acquire(o)), flowSource: worldServerFlows(kept) }),
        release: (h) => local.release(h),
      };
      let stderr = "";
      const result = await runInProcess({
        paths: [join(testdata, "flow-source.yaml")],
        cluster: "local",
        name: kept,
        keep: true,
        audit: false,
        reporters: ["json"],
        outputDir: join(out, "flows"),
        parallel: 1,
        stdout: { write: () => true },
        stderr: { write: (t: string) => (stderr += t) },
        provider,
        flowSettleMs: 300,
      });
      assert.equal(result.exitCode, 1, stderr);
      const cells = new Map(result.report!.scenarios[0]!.cells.map((c) => [c.to, c]));
      for (const to of ["world:203.0.113.10:80/http", "world:203.0.113.53:53/udp"]) {
        const c = cells.get(to)!;
        assert.equal(c.status, "pass", to);
        assert.equal(c.flows.length, 1, `${to}: exactly the probe's own connection`);
        const flow = c.flows[0] as { IP: { source: string } };
        assert.match(flow.IP.source, /^10\.244\./);
      }
      const dropped = cells.get("world:203.0.113.10:9000/tcp")!;
      assert.equal(dropped.status, "fail");
      assert.equal(dropped.failureKind, "observability-disagrees");
      assert.equal(dropped.observed?.outcome, "TIMEOUT");
      assert.match(dropped.message ?? "", /no flow for this connection/);
      const unnamed = cells.get("world:203.0.113.10:8080/http")!;
      assert.equal(unnamed.status, "fail");
      assert.equal(unnamed.failureKind, "mismatch");
      assert.match(unnamed.message ?? "", /no flow names a policy, not cf-rn-flows\/allow-web/);
      const checks = new Map(result.report!.scenarios[0]!.checks.map((c) => [c.name, c]));
      assert.equal(checks.get("web")?.status, "pass");
      assert.equal(checks.get("nothing-to-9000")?.status, "pass");
    } finally {
      await run("ip", ["netns", "exec", world, "nft", "delete", "table", "inet", "cftrn"]).catch(() => undefined);
    }
  });
});
