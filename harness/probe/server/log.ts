// One JSON line per event on stdout: the kubelet keeps it as the container log, and tests and the
// harness can parse it back.
export type ServerLog = (event: Record<string, unknown>) => void;

export const stdoutLog: ServerLog = (event) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
};

export const silentLog: ServerLog = () => undefined;

export function peer(address: string | undefined, port: number | undefined): string {
  const a = address ?? "?";
  return a.includes(":") ? `[${a}]:${port ?? "?"}` : `${a}:${port ?? "?"}`;
}
