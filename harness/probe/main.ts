// The probe image's entry point. The local cluster's kubelet starts probe pods' containers as
// `node dist/probe-image/main.mjs <args>` (this file bundled by `npm run build`) inside the pod netns; executors run `… batch` in them.
//
//   main.js serve [--http 80,8080] [--tcp 9000] [--udp 9001] [--dns 53 --zone zone.yaml] [--route /path=STATUS]… [--bind ADDR]
//   main.js batch [--file probes.json] [--concurrency N] [--deadline-ms MS] [--pretty]   (probes on stdin by default)
import { readFile } from "node:fs/promises";
import { Command, InvalidArgumentError } from "commander";
import type { BatchOutput } from "./schema.js";
import { BATCH_API_VERSION, DEFAULT_BATCH_DEADLINE_MS, DEFAULT_CONCURRENCY } from "./schema.js";
import type { Route } from "./server/routes.js";
import { parseRoute } from "./server/routes.js";

// Each command loads its own modules on use: a batch exec pays node's start-up on every probe
// step, and the server side (YAML zone parser, DNS codec) is dead weight there.

function portList(value: string, previous: number[] = []): number[] {
  const ports = value.split(",").map((p) => p.trim());
  for (const p of ports) {
    if (!/^\d{1,5}$/.test(p) || Number(p) > 65535) throw new InvalidArgumentError(`expected comma-separated ports (0-65535), got ${JSON.stringify(p)}`);
  }
  return [...previous, ...ports.map(Number)];
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

function collect<T>(parse: (v: string) => T) {
  return (value: string, previous: T[] = []): T[] => {
    try {
      return [...previous, parse(value)];
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
    }
  };
}

/**
 * Reads stdin until EOF or until it holds one complete JSON document and a newline. The second
 * condition matters for Kubernetes exec: over the v4 channel protocol a client cannot close stdin
 * without closing the whole session, so executors send one line and keep stdin open. Lines after
 * the document go to `onLine` (drop notices) for as long as the batch runs.
 */
function readStdinDocument(split: (text: string) => { document: string; rest: string } | undefined, onLine: (line: string) => void): Promise<string> {
  // Decoding in the stream keeps a multi-byte character split across chunks intact.
  process.stdin.setEncoding("utf8");
  return new Promise((resolve, reject) => {
    let text = "";
    let document: string | undefined;
    const lines = (chunk: string) => {
      text += chunk;
      for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n")) {
        const line = text.slice(0, i).trim();
        text = text.slice(i + 1);
        if (line) onLine(line);
      }
    };
    process.stdin.on("data", (chunk: string) => {
      if (document !== undefined) return lines(chunk);
      text += chunk;
      const parts = split(text);
      if (!parts) return;
      document = parts.document;
      text = "";
      resolve(document);
      lines(parts.rest);
    });
    process.stdin.on("end", () => {
      if (document === undefined) resolve(text);
    });
    process.stdin.on("error", (err) => {
      if (document === undefined) reject(err);
    });
  });
}

function emit(doc: BatchOutput, pretty: boolean, code: number): void {
  process.stdout.write(`${JSON.stringify(doc, null, pretty ? 2 : undefined)}\n`, () => process.exit(code));
}

interface BatchCliOptions {
  file?: string;
  concurrency: number;
  deadlineMs: number;
  pretty?: boolean;
}

async function batchCommand(opts: BatchCliOptions): Promise<void> {
  const started = new Date().toISOString();
  const [{ podIdentity, runBatch }, { parseBatchText, parseDropNotice, splitDocument }, { DropBoard }] = await Promise.all([
    import("./batch.js"),
    import("./input.js"),
    import("./drop-board.js"),
  ]);
  const drops = new DropBoard();
  const fail = (error: string) =>
    emit({ apiVersion: BATCH_API_VERSION, pod: podIdentity(), startedAt: started, durationMs: 0, error, results: [] }, opts.pretty ?? false, 2);
  let text: string;
  const sourceName = opts.file ?? "<stdin>";
  try {
    text = opts.file ? await readFile(opts.file, "utf8") : await readStdinDocument(splitDocument, (line) => {
          const notice = parseDropNotice(line);
          if (notice) drops.notify(notice);
        });
  } catch (err) {
    return fail(`${sourceName}: cannot read: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (text.trim() === "") return fail(`${sourceName}: empty input, expected a JSON array of probes`);
  const parsed = await parseBatchText(text, sourceName);
  if (!parsed.ok) return fail(parsed.error);
  const doc = await runBatch(parsed.items, { concurrency: opts.concurrency, deadlineMs: opts.deadlineMs, drops });
  emit(doc, opts.pretty ?? false, 0);
}

interface ServeCliOptions {
  http?: number[];
  tcp?: number[];
  udp?: number[];
  dns?: number[];
  zone?: string[];
  route?: Route[];
  bind: string;
}

async function serveCommand(opts: ServeCliOptions): Promise<void> {
  const [{ stdoutLog }, { identityFromEnv, startServer }, { loadZoneFile }] = await Promise.all([
    import("./server/log.js"),
    import("./server/serve.js"),
    import("./server/zone.js"),
  ]);
  const noListener = !opts.http && !opts.tcp && !opts.udp && !opts.dns;
  const zones = await Promise.all((opts.zone ?? []).map(loadZoneFile));
  const server = await startServer({
    // A bare `serve` is the common probe pod: plain HTTP on 80.
    http: opts.http ?? (noListener ? [80] : []),
    tcp: opts.tcp ?? [],
    udp: opts.udp ?? [],
    dns: opts.dns ?? [],
    zones,
    routes: opts.route ?? [],
    bind: opts.bind,
    identity: identityFromEnv(),
    log: stdoutLog,
  });
  stdoutLog({ event: "ready", ...identityFromEnv(), listeners: server.listeners.map((l) => ({ proto: l.proto, port: l.port })) });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stdoutLog({ event: "stopping", signal });
    // Listeners close at once (open connections are cut); the timer only guards against a bug.
    setTimeout(() => process.exit(1), 5000).unref();
    void server.close().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

const program = new Command("probe")
  .description("conform probe image: echo servers and the batch probe client")
  .showHelpAfterError();

program
  .command("serve")
  .description("serve HTTP echo, TCP/UDP echo and authoritative DNS until SIGTERM")
  .option("--http <ports>", "HTTP echo ports, comma-separated (default 80 when nothing else is given)", portList)
  .option("--tcp <ports>", "TCP echo ports", portList)
  .option("--udp <ports>", "UDP echo ports", portList)
  .option("--dns <ports>", "authoritative DNS ports (UDP and TCP); needs --zone", portList)
  .option("--zone <file>", "zone file (YAML/JSON) for --dns, repeatable", collect(String))
  .option("--route <path=status>", "answer this path (or prefix ending in *) with this status, repeatable", collect(parseRoute))
  .option("--bind <address>", "listen address", "0.0.0.0")
  .action(async (opts: ServeCliOptions) => {
    try {
      await serveCommand(opts);
    } catch (err) {
      process.stderr.write(`probe serve: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    }
  });

program
  .command("batch")
  .description("run a JSON array of probes (stdin or --file) and print one JSON result document")
  .option("--file <path>", "read the probes from this file instead of stdin")
  .option("--concurrency <n>", "probes in flight at once", positiveInt, DEFAULT_CONCURRENCY)
  .option("--deadline-ms <ms>", "global deadline for the whole batch", positiveInt, DEFAULT_BATCH_DEADLINE_MS)
  .option("--pretty", "indent the output")
  .action(batchCommand);

await program.parseAsync(process.argv);
