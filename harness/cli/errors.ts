import { InputError } from "../util/yaml-schema.js";

/** A user-facing error: printed without a stack, exit code 2 (bad input or infrastructure). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Prints an error the way the CLI reports it and returns the exit code to use. */
export function reportError(err: unknown): number {
  if (err instanceof CliError || err instanceof InputError) {
    console.error(err.message);
    return err instanceof CliError ? err.exitCode : 2;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  console.error(`conform: ${e.message}`);
  if (process.env.CONFORM_DEBUG) console.error(e.stack);
  return 2;
}
