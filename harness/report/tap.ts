// TAP version 13: one test point per testcase (the same ones the JUnit report has), with a YAML
// diagnostic block on failures. `tap-junit` turns it into JUnit for users who want that path.
import { stringify } from "yaml";
import { printable, scenarioCases } from "./cases.js";
import { renderFlowLine } from "./flow-line.js";
import type { CellReport, RunReport } from "./model.js";

/** `#` starts a directive and `\` escapes in TAP descriptions. */
function escapeDescription(text: string): string {
  return printable(text.replace(/\n/g, " ")).replace(/\\/g, "\\\\").replace(/#/g, "\\#");
}

export function renderTap(report: RunReport): string {
  const lines: string[] = ["TAP version 13"];
  const all = report.scenarios.map((s) => ({ scenario: s, cases: scenarioCases(s) }));
  lines.push(`1..${all.reduce((n, s) => n + s.cases.length, 0)}`);
  let n = 0;
  for (const { scenario, cases } of all) {
    lines.push(`# ${scenario.name} (${scenario.file}): ${scenario.status}${scenario.skipReason ? ` - ${scenario.skipReason}` : ""}`);
    const cellsById = new Map(scenario.cells.map((c) => [c.id, c]));
    for (const c of cases) {
      n++;
      const description = escapeDescription(`${scenario.name}/${c.name}`);
      if (c.status === "pass") {
        lines.push(`ok ${n} - ${description}`);
        continue;
      }
      if (c.status === "skipped") {
        lines.push(`ok ${n} - ${description} # SKIP ${escapeDescription(c.message ?? "")}`);
        continue;
      }
      lines.push(`not ok ${n} - ${description}`);
      const cell = cellsById.get(c.id);
      lines.push(...diagnostics({
        message: c.message,
        severity: c.status === "inconclusive" ? "error" : "fail",
        kind: c.failureKind,
        ...(cell ? cellDiagnostics(cell) : {}),
        ...(c.flows.length > 0 ? { flows: c.flows.map(renderFlowLine) } : {}),
      }));
    }
  }
  return `${lines.join("\n")}\n`;
}

function cellDiagnostics(cell: CellReport): Record<string, unknown> {
  return {
    expected: cell.expected,
    ...(cell.observed ? { observed: cell.observed } : {}),
  };
}

function diagnostics(data: Record<string, unknown>): string[] {
  const clean = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined));
  const body = stringify(clean, { lineWidth: 0 }).trimEnd().split("\n");
  return ["  ---", ...body.map((l) => `  ${l}`), "  ..."];
}
