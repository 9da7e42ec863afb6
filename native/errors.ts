// Typed errors for everything the addon reports. The addon throws plain Errors carrying
// `code`, `errno`, `op` and, for libbpf calls, the text libbpf logged (`libbpfLog`);
// `toBpfError` turns them into these classes.

/** A failed BPF/netlink/syscall operation. */
export class BpfError extends Error {
  constructor(
    message: string,
    /** errno name, e.g. "EPERM"; "ENOTSUPP" for the kernel's internal 524. */
    readonly code: string,
    readonly errno: number,
    /** What was attempted, e.g. "load", "tc attach", "map update". */
    readonly op: string,
    /** What libbpf logged during the call (warnings, netlink extack, verifier log). */
    readonly libbpfLog: string,
  ) {
    super(message);
    this.name = "BpfError";
  }
}

/** The running kernel lacks something (a map type, program type, helper or command). */
export class NotSupportedError extends BpfError {
  constructor(message: string, code: string, errno: number, op: string, libbpfLog: string, readonly feature: string) {
    super(message, code, errno, op, libbpfLog);
    this.name = "NotSupportedError";
  }
}

/** The verifier rejected a program; `verifierLog` is its log and `message` ends with its verdict. */
export class VerifierError extends BpfError {
  constructor(
    message: string,
    code: string,
    errno: number,
    op: string,
    libbpfLog: string,
    readonly program: string | undefined,
    readonly verifierLog: string,
  ) {
    super(message, code, errno, op, libbpfLog);
    this.name = "VerifierError";
  }
}

/** errnos that mean "this kernel cannot do that": EOPNOTSUPP, ENOTSUPP (524), ENOSYS. */
const NOT_SUPPORTED_ERRNOS = new Set([95, 524, 38]);

interface NativeErrorShape {
  message: string;
  code?: unknown;
  errno?: unknown;
  op?: unknown;
  libbpfLog?: unknown;
}

function isNativeError(e: unknown): e is Error & NativeErrorShape {
  return e instanceof Error && typeof (e as NativeErrorShape).errno === "number";
}

const LOG_BEGIN = /prog '([^']+)': -- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/;

/** The verifier's verdict: the last lines of its log that are not statistics. */
export function verifierSummary(log: string, maxLines = 3): string {
  const lines = log
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^(processed \d+ insns|verification time|stack depth|mark_precise)/.test(l));
  return lines.slice(-maxLines).join(" | ");
}

/**
 * Convert an error thrown by the addon into BpfError / NotSupportedError / VerifierError.
 * `feature` names what a not-supported error is about ("map type ringbuf", "tc attach").
 */
export function toBpfError(e: unknown, feature?: string): unknown {
  if (!isNativeError(e)) return e;
  const code = typeof e.code === "string" ? e.code : "EUNKNOWN";
  const errno = e.errno as number;
  const op = typeof e.op === "string" ? e.op : "bpf";
  const log = typeof e.libbpfLog === "string" ? e.libbpfLog : "";
  const verifier = LOG_BEGIN.exec(log);
  if (verifier && op === "load") {
    const program = verifier[1];
    const vlog = verifier[2] ?? "";
    return new VerifierError(
      `${e.message}: verifier rejected program '${program}': ${verifierSummary(vlog)}`,
      code,
      errno,
      op,
      log,
      program,
      vlog,
    );
  }
  if (NOT_SUPPORTED_ERRNOS.has(errno)) {
    return new NotSupportedError(
      `${e.message}${feature ? ` (${feature} is not supported by this kernel)` : ""}`,
      code,
      errno,
      op,
      log,
      feature ?? op,
    );
  }
  const detail = log.trim() ? `\n${log.trim().split("\n").slice(-5).join("\n")}` : "";
  return new BpfError(`${e.message}${detail}`, code, errno, op, log);
}

/** Run an addon call and rethrow its error typed. */
export function nativeCall<T>(fn: () => T, feature?: string): T {
  try {
    return fn();
  } catch (e) {
    throw toBpfError(e, feature);
  }
}
