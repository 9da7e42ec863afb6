// JUnit XML: one <testsuite> per scenario, one <testcase> per cell/check/error. A failing cell's
// body carries expected vs observed, the drop reason, the policies the flows name and the flow
// lines, so CI shows why without opening another file. Inconclusive cases (the probe could not
// run, a step errored) are <error>s, not <failure>s: they say nothing about the datapath.
import { scenarioCases } from "./cases.js";
import type { TestCaseView } from "./cases.js";
import type { RunReport, ScenarioReport } from "./model.js";
import { element, renderXml } from "./xml.js";
import type { XmlElement } from "./xml.js";

const seconds = (ms: number | undefined) => ((ms ?? 0) / 1000).toFixed(3);

export function renderJUnit(report: RunReport): string {
  const suites = report.scenarios.map((s) => suiteElement(report, s));
  const totals = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  for (const suite of suites) for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += Number(suite.attributes[key]);
  return renderXml(
    element("testsuites", { name: "conform", ...totals, time: seconds(report.summary.durationMs), timestamp: report.run.startedAt }, suites),
  );
}

function suiteElement(report: RunReport, scenario: ScenarioReport): XmlElement {
  const cases = scenarioCases(scenario);
  const count = (pred: (c: TestCaseView) => boolean) => cases.filter(pred).length;
  const run = report.run;
  const properties: [string, string | undefined][] = [
    ["conform.version", run.conformVersion],
    ["agent.version", run.agentVersion],
    ["kernel", run.kernel],
    ["kubernetes.version", run.kubernetesVersion],
    ["cluster.name", run.clusterName],
    ["audit", String(run.audit)],
    ["scenario.file", scenario.file],
    ["manifest.digest", scenario.manifestDigest],
    ["skip.reason", scenario.skipReason],
  ];
  return element(
    "testsuite",
    {
      name: scenario.name,
      tests: cases.length,
      failures: count((c) => c.status === "fail"),
      errors: count((c) => c.status === "inconclusive"),
      skipped: count((c) => c.status === "skipped"),
      time: seconds(scenario.durationMs),
      file: scenario.file,
    },
    [
      element(
        "properties",
        {},
        properties.filter(([, v]) => v !== undefined).map(([name, value]) => element("property", { name, value })),
      ),
      ...cases.map((c) => caseElement(scenario, c)),
    ],
  );
}

function caseElement(scenario: ScenarioReport, c: TestCaseView): XmlElement {
  const attrs = { name: c.name, classname: scenario.name, time: seconds(c.durationMs), file: scenario.file };
  switch (c.status) {
    case "pass":
      return element("testcase", attrs);
    case "skipped":
      return element("testcase", attrs, [element("skipped", { message: c.message })]);
    case "fail":
      return element("testcase", attrs, [element("failure", { message: c.message, type: c.failureKind }, [c.detail ?? ""])]);
    case "inconclusive":
      return element("testcase", attrs, [element("error", { message: c.message, type: c.failureKind }, [c.detail ?? ""])]);
  }
}
