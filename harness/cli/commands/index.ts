import type { Command } from "commander";
import { register as registerCluster } from "./cluster.js";
import { register as registerLint } from "./lint.js";
import { register as registerObserve } from "./observe.js";
import { register as registerRun } from "./run.js";
import { register as registerStatus } from "./status.js";

/** Every command module, registered in the order `conform --help` lists them. */
export function registerCommands(program: Command): void {
  registerCluster(program);
  registerLint(program);
  registerObserve(program);
  registerRun(program);
  registerStatus(program);
}
