// The report API the runner uses: the model, the reporters and their factory, flow rendering.
export { cellCase, checkCase, scenarioCases } from "./cases.js";
export type { TestCaseView } from "./cases.js";
export { flowPolicies, renderFlowLine, unwrapFlow } from "./flow-line.js";
export { cellReport, skippedCellReport, skippedCheckReport } from "./from-spec.js";
export { parseJsonReport, renderJson } from "./json.js";
export { renderJUnit } from "./junit.js";
export { ListReporter, renderListSummary } from "./list.js";
export {
  buildRunReport,
  CELL_STATUSES,
  FAILURE_KINDS,
  REPORT_SCHEMA_VERSION,
  runPassed,
  runReportSchema,
  scenarioStatus,
  summarize,
} from "./model.js";
export type { CellReport, CellStatus, CheckReport, FailureKind, FlowRecord, RunMeta, RunReport, ScenarioError, ScenarioReport, ScenarioStatus } from "./model.js";
export { combineReporters, createReporter, createReporters, registerReporter, reporterNames } from "./reporter.js";
export type { Reporter, ReporterOptions, ScenarioStartInfo } from "./reporter.js";
export { renderTap } from "./tap.js";
