// One line per event on stdout (the provider sends it to kubelet-<node>.log): time, level,
// message, then key=value context.
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

export function createLogger(write: (line: string) => void = (l) => process.stdout.write(l + "\n")): Logger {
  const line = (level: string) => (msg: string, fields?: LogFields) => write(`${new Date().toISOString()} ${level} ${msg}${format(fields)}`);
  return { info: line("INFO"), warn: line("WARN"), error: line("ERROR") };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
