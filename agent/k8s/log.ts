// Structured one-line logging for the agent's control side (watchers, allocator, endpoints, CNI
// server): time, level, message, then key=value context, so a node's log greps by field.
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

function format(fields: LogFields | undefined): string {
  if (!fields) return "";
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${typeof v === "string" && /[\s"=]/.test(v) ? JSON.stringify(v) : String(v)}`)
    .join("");
}

export function createLogger(component: string, write: (line: string) => void = (l) => process.stderr.write(l + "\n")): Logger {
  const line = (level: string) => (msg: string, fields?: LogFields) =>
    write(`${new Date().toISOString()} ${level} [${component}] ${msg}${format(fields)}`);
  return { info: line("INFO"), warn: line("WARN"), error: line("ERROR") };
}

/** For tests and library callers that do not want output. */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
