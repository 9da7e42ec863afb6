import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { scenarioCases } from "./cases.js";
import { parseJsonReport, renderJson } from "./json.js";
import { renderJUnit } from "./junit.js";
import { ListReporter } from "./list.js";
import { cellReportSchema, REPORT_SCHEMA_VERSION, runPassed, scenarioStatus } from "./model.js";
import { cellReport, skippedCellReport } from "./from-spec.js";
import { loadScenarioText } from "../spec/loader.js";
import type { RunReport } from "./model.js";
import { combineReporters, createReporter, createReporters, reporterNames } from "./reporter.js";
import type { Reporter } from "./reporter.js";
import { renderTap } from "./tap.js";
import { assertGolden, REPO_ROOT } from "./testdata/golden.js";
import { sampleReport } from "./testdata/sample-report.js";

/** Feeds a finished report to a reporter as the runner would have, event by event. */
async function replay(report: RunReport, reporter: Reporter): Promise<void> {
  const { endedAt: _endedAt, ...start } = report.run;
  reporter.onRunStart?.(start);
  for (const s of report.scenarios) {
    reporter.onScenarioStart?.({ name: s.name, file: s.file });
    for (const c of s.cells) reporter.onCell?.(s.name, c);
    for (const c of s.checks) reporter.onCheck?.(s.name, c);
    reporter.onScenarioEnd?.(s);
  }
  await reporter.onRunEnd(report);
}

function totalCases(report: RunReport): number {
  return report.scenarios.reduce((n, s) => n + scenarioCases(s).length, 0);
}

function python(code: string, input: string): { ok: boolean; out: string } | undefined {
  const r = spawnSync("python3", ["-c", code], { input, encoding: "utf8" });
  if (r.error) return undefined;
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

describe("report model", () => {
  it("summarises scenarios, cells and checks", () => {
    const report = sampleReport();
    assert.equal(report.schemaVersion, REPORT_SCHEMA_VERSION);
    assert.deepEqual(report.summary.scenarios, { total: 4, passed: 1, failed: 2, skipped: 1 });
    assert.deepEqual(report.summary.cells, { total: 8, pass: 3, fail: 2, inconclusive: 1, skipped: 2 });
    assert.deepEqual(report.summary.checks, { total: 2, pass: 1, fail: 1, inconclusive: 0, skipped: 0 });
    assert.equal(report.summary.durationMs, 22_500);
    assert.equal(runPassed(report), false);
  });

  it("derives scenario status from cells, checks and errors", () => {
    const pass = { status: "pass" as const };
    assert.equal(scenarioStatus({ errors: [], cells: [], checks: [] }), "passed");
    assert.equal(scenarioStatus({ errors: [{ message: "x" }], cells: [], checks: [] }), "failed");
    assert.equal(scenarioStatus({ errors: [], cells: [{ ...sampleReport().scenarios[0]!.cells[4]! }], checks: [] }), "failed");
    assert.equal(scenarioStatus({ errors: [], cells: [], checks: [], skipReason: "needs 3 nodes" }), "skipped");
    assert.ok(pass);
  });
});

describe("report cells from spec cells", () => {
  it("copies the cell's identity and expectation and validates", () => {
    const cell = loadScenarioText(
      "apiVersion: conform.dev/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec:\n  fixtures: {pods: [{name: a, namespace: n, ports: [80]}]}\n  steps: [{expect: {cells: [{from: n/a, to: n/a, expect: {outcome: DROPPED, by: n/p}}]}}]\n",
      "/nonexistent/s.yaml",
    ).scenarios[0]!.steps.flatMap((s) => (s.kind === "expect" ? s.cells : []))[0]!;
    const report = cellReport(cell, { status: "fail", failureKind: "mismatch", observed: { outcome: "ALLOWED", policies: [] }, flows: [] });
    assert.deepEqual(report, {
      id: "s/steps[0]: n/a -> n/a:80/tcp",
      step: "steps[0]",
      from: "n/a",
      to: "n/a:80/tcp",
      port: 80,
      protocol: "tcp",
      expected: { outcome: "DROPPED", by: "n/p" },
      status: "fail",
      failureKind: "mismatch",
      observed: { outcome: "ALLOWED", policies: [] },
      flows: [],
    });
    assert.equal(skippedCellReport(cell, "needs 3 nodes").skipReason, "needs 3 nodes");
    assert.ok(cellReportSchema.safeParse(skippedCellReport(cell, "x")).success);
  });
});

describe("list reporter", () => {
  it("prints progress lines and a summary (golden, no colour)", async () => {
    let out = "";
    await replay(sampleReport(), new ListReporter({ write: (t) => (out += t), color: false }));
    assert.ok(!out.includes("\u001b["), "no ANSI escapes without a TTY");
    assertGolden("list", out);
  });

  it("colours only when asked to", async () => {
    let out = "";
    await replay(sampleReport(), new ListReporter({ write: (t) => (out += t), color: true }));
    assert.ok(out.includes("\u001b[31mFAIL"));
  });
});

describe("junit reporter", () => {
  it("renders one testcase per cell, check and error, grouped per scenario (golden)", () => {
    const xml = renderJUnit(sampleReport());
    assertGolden("junit", xml);
    assert.equal((xml.match(/<testcase /g) ?? []).length, totalCases(sampleReport()));
    assert.equal((xml.match(/<testsuite /g) ?? []).length, 4);
  });

  it("is well-formed XML with the expected structure", (t) => {
    const code = [
      "import sys, xml.etree.ElementTree as E",
      "r = E.fromstring(sys.stdin.read())",
      "print(r.tag, r.get('tests'), r.get('failures'), r.get('errors'), r.get('skipped'), len(r.findall('testsuite')), len(r.findall('.//testcase')))",
      "for s in r.findall('testsuite'):",
      "  print(s.get('name'), {p.get('name'): p.get('value') for p in s.find('properties')}.get('manifest.digest'))",
      "f = r.find(\".//failure[@type='mismatch']\")",
      "print(f.get('message'))",
      "e = r.find(\".//error[@type='probe-error']\")",
      "print(ascii(e.text.splitlines()[3]))",
    ].join("\n");
    const result = python(code, renderJUnit(sampleReport()));
    if (!result) return t.skip("python3 not available to parse the XML");
    assert.ok(result.ok, result.out);
    const lines = result.out.trim().split("\n");
    assert.equal(lines[0], "testsuites 11 3 2 2 4 11");
    assert.equal(lines[1], `backend-ingress sha256:${"ab12".repeat(16)}`);
    assert.equal(lines[3], "wireguard-encrypts None");
    assert.equal(lines[5], "expected DROPPED (reason POLICY_DENIED, by shop/backend-ingress), observed ALLOWED");
    // The control character is replaced, quotes, < and & survive the round trip.
    assert.equal(lines[6], `'probe:    exec failed: pod <frontend> not running & no "retry"\\ufffd'`);
  });

  it("carries versions and the manifest digest as properties, and the flows in failure text", () => {
    const xml = renderJUnit(sampleReport());
    for (const p of ['name="agent.version" value="0.1.0-test"', 'name="kernel" value="6.1.0-test"', 'name="kubernetes.version" value="v1.31.4"', `name="manifest.digest" value="sha256:${"ab12".repeat(16)}"`]) {
      assert.ok(xml.includes(p), p);
    }
    assert.ok(xml.includes('<skipped message="needs wireguard encryption, the cluster has none"/>'));
    assert.ok(xml.includes("Policy denied DROPPED BY shop/backend-ingress (CiliumNetworkPolicy) (TCP Flags: SYN)"));
  });
});

describe("tap reporter", () => {
  it("renders TAP 13 with YAML diagnostics (golden)", () => {
    const tap = renderTap(sampleReport());
    assertGolden("tap", tap);
    assert.ok(tap.startsWith(`TAP version 13\n1..${totalCases(sampleReport())}\n`));
  });

  it("converts to JUnit with tap-junit keeping every cell", (t) => {
    const report = sampleReport();
    const bin = join(REPO_ROOT, "node_modules", "tap-junit", "bin", "tap-junit");
    const result = spawnSync(process.execPath, [bin, "-s", "conform"], { input: renderTap(report), encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    const xml = result.stdout;
    const testcases = xml.match(/<testcase [^>]*>|<testcase [^>]*\/>/g) ?? [];
    assert.equal(testcases.length, totalCases(report));
    const cellCount = report.scenarios.reduce((n, s) => n + s.cells.length, 0);
    assert.equal(testcases.filter((tc) => tc.includes(" -&gt; ")).length, cellCount);
    assert.match(xml, new RegExp(`<testsuites tests="${totalCases(report)}"`));
    // tap-junit has no <error>: inconclusive cases count as failures there.
    assert.match(xml, /failures="5"/);
    const parsed = python("import sys, xml.etree.ElementTree as E; r = E.fromstring(sys.stdin.read()); print(len(r.findall('.//testcase')), len(r.findall('.//skipped')))", xml);
    if (!parsed) return t.skip("python3 not available to parse tap-junit's XML");
    assert.equal(parsed.out.trim(), `${totalCases(report)} 2`);
  });
});

describe("json reporter", () => {
  it("writes the versioned report, which reads back identically (golden)", () => {
    const json = renderJson(sampleReport());
    assertGolden("json", json);
    const back = parseJsonReport(json);
    assert.deepEqual(back, sampleReport());
    assert.equal(JSON.parse(json).schemaVersion, 1);
  });

  it("rejects a report that does not match the schema", () => {
    const bad = JSON.parse(renderJson(sampleReport()));
    bad.scenarios[0].cells[0].status = "passed";
    assert.throws(() => parseJsonReport(JSON.stringify(bad)), /status/);
  });
});

describe("reporter factory", () => {
  it("builds reporters by name and writes files where told", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cft-report-"));
    try {
      let stdout = "";
      const sink = { write: (t: string) => (stdout += t), isTTY: false };
      const reporter = createReporters(["list,junit", `tap=${join(dir, "out", "run.tap")}`, "json"], { stdout: sink, reportsDir: dir });
      assert.equal(reporter.name, "list,junit,tap,json");
      await replay(sampleReport(), reporter);
      assert.equal(readFileSync(join(dir, "junit.xml"), "utf8"), renderJUnit(sampleReport()));
      assert.equal(readFileSync(join(dir, "out", "run.tap"), "utf8"), renderTap(sampleReport()));
      assert.equal(readFileSync(join(dir, "report.json"), "utf8"), renderJson(sampleReport()));
      assert.ok(stdout.includes("RESULT: FAILED"));
      assert.ok(!stdout.includes("\u001b["));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("writes to stdout for '-', and rejects unknown names", async () => {
    let stdout = "";
    await createReporter("json=-", { stdout: { write: (t: string) => (stdout += t) } }).onRunEnd(sampleReport());
    assert.equal(stdout, renderJson(sampleReport()));
    assert.throws(() => createReporter("xml"), /unknown reporter "xml" \(available: list, junit, tap, json/);
    assert.deepEqual(reporterNames().slice(0, 4), ["list", "junit", "tap", "json"]);
  });

  it("runs every reporter's onRunEnd even when one fails", async () => {
    const calls: string[] = [];
    const combined = combineReporters([
      { name: "a", onRunEnd: () => { throw new Error("disk full"); } },
      { name: "b", onRunEnd: () => void calls.push("b") },
    ]);
    await assert.rejects(async () => combined.onRunEnd(sampleReport()), /disk full/);
    assert.deepEqual(calls, ["b"]);
  });
});
