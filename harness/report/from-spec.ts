// Bridges spec cells to report cells, so the runner fills in only what it observed.
import type { Cell, FlowCheck } from "../spec/cells.js";
import type { CellReport, CheckReport } from "./model.js";

type Observation = Pick<CellReport, "observed" | "status" | "failureKind" | "message" | "flows">;

export function cellReport(cell: Cell, observation: Observation): CellReport {
  return {
    id: cell.id,
    step: cell.step,
    from: cell.from,
    to: cell.to,
    port: cell.target.port,
    protocol: cell.target.protocol,
    expected: { ...cell.expected },
    ...Object.fromEntries(Object.entries(observation).filter(([, v]) => v !== undefined)),
    flows: observation.flows,
  } as CellReport;
}

/** A cell that never ran: its scenario was skipped, or an earlier step failed. */
export function skippedCellReport(cell: Cell, reason: string): CellReport {
  return { ...cellReport(cell, { status: "skipped", flows: [] }), skipReason: reason };
}

/** A flow check that never ran. */
export function skippedCheckReport(check: FlowCheck, reason: string): CheckReport {
  return { id: check.id, step: check.step, kind: "flow", name: check.name, status: "skipped", skipReason: reason, flows: [] };
}
