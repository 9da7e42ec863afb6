// `conform` command-line entry. Each command lives in its own module under ./commands and
// registers itself on the program.
import { Command } from "commander";
import { registerCommands } from "./commands/index.js";
import { reportError } from "./errors.js";

const program = new Command("conform")
  .description("Declarative conformance suite for Kubernetes networking")
  .showHelpAfterError();
registerCommands(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err);
}
