// The terminal reporter: a line per testcase as results come in, then a summary table and the
// failures with their details. Plain text; ANSI colours only when writing to a TTY.
import { formatDuration } from "../spec/duration.js";
import { cellCase, checkCase, formatExpected, formatObserved, printable, scenarioCases } from "./cases.js";
import type { TestCaseView } from "./cases.js";
import type { CellReport, CellStatus, CheckReport, RunMeta, RunReport, ScenarioReport } from "./model.js";
import type { Reporter, ScenarioStartInfo } from "./reporter.js";

const ANSI = { red: "\u001b[31m", green: "\u001b[32m", yellow: "\u001b[33m", dim: "\u001b[2m", bold: "\u001b[1m", reset: "\u001b[0m" } as const;
type Paint = (style: keyof typeof ANSI, text: string) => string;

const STATUS_WORD: Record<CellStatus, string> = { pass: "PASS", fail: "FAIL", inconclusive: "INCONCLUSIVE", skipped: "SKIP" };
const STATUS_STYLE: Record<CellStatus, keyof typeof ANSI> = { pass: "green", fail: "red", inconclusive: "yellow", skipped: "dim" };

export interface ListReporterOptions {
  write: (text: string) => void;
  color: boolean;
}

export class ListReporter implements Reporter {
  readonly name = "list";
  private readonly paint: Paint;

  constructor(private readonly options: ListReporterOptions) {
    this.paint = options.color ? (style, text) => `${ANSI[style]}${text}${ANSI.reset}` : (_style, text) => text;
  }

  onRunStart(run: Omit<RunMeta, "endedAt">): void {
    this.options.write(`${runHeader(run)}\n`);
  }

  onScenarioStart(scenario: ScenarioStartInfo): void {
    this.options.write(`\n${this.paint("bold", scenario.name)} ${this.paint("dim", `(${scenario.file})`)}\n`);
  }

  onCell(_scenario: string, cell: CellReport): void {
    this.options.write(`${this.caseLine(cellCase(cell), cellOutcome(cell))}\n`);
  }

  onCheck(_scenario: string, check: CheckReport): void {
    this.options.write(`${this.caseLine(checkCase(check), check.observed ?? "")}\n`);
  }

  onScenarioEnd(scenario: ScenarioReport): void {
    for (const c of scenarioCases(scenario).filter((x) => x.kind === "error" || x.kind === "scenario")) {
      this.options.write(`${this.caseLine(c, "")}\n`);
    }
    const word = scenario.status.toUpperCase();
    const style = scenario.status === "passed" ? "green" : scenario.status === "failed" ? "red" : "dim";
    const reason = scenario.skipReason ? ` - ${printable(scenario.skipReason)}` : "";
    this.options.write(`${this.paint(style, word)} ${scenario.name} (${formatDuration(scenario.durationMs)})${reason}\n`);
  }

  onRunEnd(report: RunReport): void {
    this.options.write(`\n${renderListSummary(report, this.paint)}`);
  }

  private caseLine(c: TestCaseView, outcome: string): string {
    const word = this.paint(STATUS_STYLE[c.status], STATUS_WORD[c.status].padEnd(12));
    const time = c.durationMs !== undefined ? ` ${this.paint("dim", formatDuration(c.durationMs))}` : "";
    const tail = c.status === "pass" ? (outcome ? `  ${outcome}` : "") : c.message ? `  ${c.message}` : "";
    const kind = c.status === "fail" || c.status === "inconclusive" ? this.paint("dim", ` [${c.failureKind}]`) : "";
    return `  ${word} ${printable(`${c.name}${tail}`)}${kind}${time}`;
  }
}

function cellOutcome(cell: CellReport): string {
  return cell.observed ? formatObserved(cell.observed) : formatExpected(cell.expected);
}

export function runHeader(run: Omit<RunMeta, "endedAt">): string {
  const parts = [`conform ${run.conformVersion}`, `agent ${run.agentVersion}`, `kernel ${run.kernel}`, `kubernetes ${run.kubernetesVersion}`, `cluster ${run.clusterName}`];
  if (run.audit) parts.push("AUDIT MODE (policies not enforced)");
  return parts.join(" | ");
}

/** The end-of-run text: summary table, failure details, totals and the verdict. */
export function renderListSummary(report: RunReport, paint: Paint = (_s, t) => t): string {
  const header = ["SCENARIO", "STATUS", "PASS", "FAIL", "INCONCL", "SKIP", "TIME"];
  const rows = report.scenarios.map((s) => {
    const cases = scenarioCases(s);
    const n = (st: CellStatus) => String(cases.filter((c) => c.status === st).length);
    return [s.name, s.status, n("pass"), n("fail"), n("inconclusive"), n("skipped"), formatDuration(s.durationMs)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out: string[] = [format(header), ...rows.map(format)];

  const failing = report.scenarios.flatMap((s) => scenarioCases(s).filter((c) => c.status === "fail" || c.status === "inconclusive").map((c) => ({ s, c })));
  if (failing.length > 0) {
    out.push("", paint("bold", "Failures:"));
    for (const { s, c } of failing) {
      out.push(`  ${paint(STATUS_STYLE[c.status], STATUS_WORD[c.status])} ${printable(`${s.name}/${c.name}`)}`);
      for (const line of printable(c.detail ?? c.message ?? "").split("\n")) out.push(`    ${line}`);
    }
  }
  const skipped = report.scenarios.filter((s) => s.status === "skipped");
  if (skipped.length > 0) {
    out.push("", paint("bold", "Skipped:"));
    for (const s of skipped) out.push(`  ${s.name}: ${s.skipReason ?? "skipped"}`);
  }
  const sum = report.summary;
  const counts = (c: typeof sum.cells) => `${c.total} (${c.pass} pass, ${c.fail} fail, ${c.inconclusive} inconclusive, ${c.skipped} skipped)`;
  out.push(
    "",
    `scenarios: ${sum.scenarios.total} (${sum.scenarios.passed} passed, ${sum.scenarios.failed} failed, ${sum.scenarios.skipped} skipped)`,
    `cells:     ${counts(sum.cells)}`,
    `checks:    ${counts(sum.checks)}`,
    `time:      ${formatDuration(sum.durationMs)}`,
  );
  const passed = report.scenarios.every((s) => s.status !== "failed");
  out.push(passed ? paint("green", "RESULT: PASSED") : paint("red", "RESULT: FAILED"));
  return `${out.join("\n")}\n`;
}
