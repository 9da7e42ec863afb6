// The JSON report: the whole run report, versioned (`schemaVersion`), validated before writing so
// consumers can rely on runReportSchema.
import { runReportSchema } from "./model.js";
import type { RunReport } from "./model.js";

export function renderJson(report: RunReport): string {
  return `${JSON.stringify(runReportSchema.parse(report), null, 2)}\n`;
}

/** Reads a JSON report back (e.g. for trend comparisons), with schema errors naming the field. */
export function parseJsonReport(text: string): RunReport {
  return runReportSchema.parse(JSON.parse(text));
}
