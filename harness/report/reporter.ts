// The reporter interface the runner drives, and the factory that builds reporters by name
// (`--reporter list,junit=reports/junit.xml`). File reporters write once, at the end of the run.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { renderJson } from "./json.js";
import { renderJUnit } from "./junit.js";
import { ListReporter } from "./list.js";
import type { CellReport, CheckReport, RunMeta, RunReport, ScenarioReport } from "./model.js";
import { renderTap } from "./tap.js";

export interface ScenarioStartInfo {
  name: string;
  file: string;
}

/**
 * Event order: onRunStart, then per scenario onScenarioStart, onCell/onCheck as results come in,
 * onScenarioEnd; finally onRunEnd with the complete report (the only event file reporters need).
 */
export interface Reporter {
  readonly name: string;
  onRunStart?(run: Omit<RunMeta, "endedAt">): void;
  onScenarioStart?(scenario: ScenarioStartInfo): void;
  onCell?(scenario: string, cell: CellReport): void;
  onCheck?(scenario: string, check: CheckReport): void;
  onScenarioEnd?(scenario: ScenarioReport): void;
  onRunEnd(report: RunReport): void | Promise<void>;
}

export interface ReporterOptions {
  /** Where `list` (and any reporter given `-` as its output) writes; default process.stdout. */
  stdout?: { write(text: string): unknown; isTTY?: boolean };
  /** Colour for `list`; default: stdout is a TTY and NO_COLOR is unset. */
  color?: boolean;
  /** Folder for file reporters without an explicit path; default `reports`. */
  reportsDir?: string;
}

type Factory = (output: string | undefined, options: ReporterOptions) => Reporter;

const DEFAULT_FILES: Record<string, string> = { junit: "junit.xml", tap: "conform.tap", json: "report.json" };

function fileReporter(name: string, render: (report: RunReport) => string): Factory {
  return (output, options) => {
    const target = output ?? join(options.reportsDir ?? "reports", DEFAULT_FILES[name] ?? `${name}.out`);
    return {
      name,
      onRunEnd(report) {
        const text = render(report);
        if (target === "-") {
          (options.stdout ?? process.stdout).write(text);
          return;
        }
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, text);
      },
    };
  };
}

const FACTORIES = new Map<string, Factory>([
  [
    "list",
    (_output, options) => {
      const stdout = options.stdout ?? process.stdout;
      const color = options.color ?? (Boolean(stdout.isTTY) && !process.env.NO_COLOR);
      return new ListReporter({ write: (text) => void stdout.write(text), color });
    },
  ],
  ["junit", fileReporter("junit", renderJUnit)],
  ["tap", fileReporter("tap", renderTap)],
  ["json", fileReporter("json", renderJson)],
]);

/** Lets later reporters (e.g. html) join the factory without this module knowing them. */
export function registerReporter(name: string, factory: Factory): void {
  FACTORIES.set(name, factory);
}

export function reporterNames(): string[] {
  return [...FACTORIES.keys()];
}

/** `name` or `name=path` (`-` for stdout). */
export function createReporter(spec: string, options: ReporterOptions = {}): Reporter {
  const eq = spec.indexOf("=");
  const name = (eq === -1 ? spec : spec.slice(0, eq)).trim();
  const output = eq === -1 ? undefined : spec.slice(eq + 1).trim() || undefined;
  const factory = FACTORIES.get(name);
  if (!factory) throw new Error(`unknown reporter "${name}" (available: ${reporterNames().join(", ")})`);
  return factory(output, options);
}

/** Several reporters as one; specs may also be comma-separated (`list,junit`). */
export function createReporters(specs: readonly string[], options: ReporterOptions = {}): Reporter {
  const reporters = specs.flatMap((s) => s.split(",")).filter((s) => s.trim() !== "").map((s) => createReporter(s, options));
  return combineReporters(reporters);
}

export function combineReporters(reporters: readonly Reporter[]): Reporter {
  return {
    name: reporters.map((r) => r.name).join(","),
    onRunStart: (run) => reporters.forEach((r) => r.onRunStart?.(run)),
    onScenarioStart: (s) => reporters.forEach((r) => r.onScenarioStart?.(s)),
    onCell: (scenario, cell) => reporters.forEach((r) => r.onCell?.(scenario, cell)),
    onCheck: (scenario, check) => reporters.forEach((r) => r.onCheck?.(scenario, check)),
    onScenarioEnd: (s) => reporters.forEach((r) => r.onScenarioEnd?.(s)),
    async onRunEnd(report) {
      // Every reporter gets its chance even if one fails (a full disk must not eat the JUnit file).
      const results = await Promise.allSettled(reporters.map(async (r) => r.onRunEnd(report)));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed.length > 0) throw new AggregateError(failed.map((f) => f.reason), `reporters failed: ${failed.map((f) => String(f.reason)).join("; ")}`);
    },
  };
}
