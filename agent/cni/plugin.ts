#!/usr/bin/env node
/**
 * The conform CNI plugin (spec 1.0): the kubelet runs it per ADD/DEL/CHECK/VERSION with CNI_*
 * environment variables and the network config on stdin. It is a thin forwarder: everything is
 * decided by the node's agent, reached over the unix socket named in the config (`socketPath`).
 * Output: the result (ADD) or nothing (DEL/CHECK) on stdout and exit 0; on failure the spec's
 * error object on stdout and exit 1.
 *
 * If the agent is unreachable, ADD and CHECK fail with code 11 (try again later), while DEL is
 * written to the delete queue (`deleteQueueDir`) and succeeds, so a pod can always be torn down;
 * the agent replays queued DELs when it starts.
 */
import { mkdirSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { AgentRequest, AgentResponse } from "./protocol.js";
import { CNI_ERROR, CniError, DEFAULT_SOCKET_PATH, PROTOCOL_VERSION, SUPPORTED_CNI_VERSIONS, convertResult, isSupportedVersion, parseCniArgs } from "./wire.js";
import type { CniResult10 } from "./wire.js";

export interface PluginIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: string;
}

export interface PluginOutcome {
  readonly exitCode: 0 | 1;
  readonly stdout: string;
}

// Below the kubelet's own 60 s plugin timeout, so the kubelet gets our error, not a kill.
const DEFAULT_TIMEOUT_S = 50;

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on("data", (c: Buffer) => chunks.push(c));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

/** Sends one request line and reads one response line. */
export function callAgent(socketPath: string, request: AgentRequest, timeoutMs: number): Promise<AgentResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = "";
    const timer = setTimeout(() => sock.destroy(new CniError(CNI_ERROR.tryAgainLater, `the agent did not answer within ${timeoutMs / 1000}s (${socketPath})`)), timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(JSON.stringify(request) + "\n"));
    sock.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as AgentResponse);
      } catch {
        reject(new CniError(CNI_ERROR.decodeFailure, `the agent's answer is not JSON: ${buf.slice(0, 200)}`));
      }
    });
    sock.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      if (!buf.includes("\n")) reject(new CniError(CNI_ERROR.ioFailure, `the agent closed the connection without an answer (${socketPath})`));
    });
  });
}

function requireEnv(env: NodeJS.ProcessEnv, names: readonly string[]): void {
  const missing = names.filter((n) => !env[n]);
  if (missing.length > 0) throw new CniError(CNI_ERROR.invalidEnvironment, `missing environment variable${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
}

function queueDelete(dir: string, request: AgentRequest): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const base = `${request.containerId}.${request.ifName}`.replace(/[^A-Za-z0-9_.-]/g, "_");
  const tmp = join(dir, `.${base}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify({ ...request, queuedAt: new Date().toISOString() }) + "\n", { mode: 0o600 });
  renameSync(tmp, join(dir, `${base}.json`));
}

/** The whole plugin as a function of its inputs (the entry point below only does the I/O). */
export async function runPlugin(io: PluginIo): Promise<PluginOutcome> {
  const command = io.env["CNI_COMMAND"] ?? "";
  let cniVersion = "1.0.0";
  try {
    if (command === "VERSION") {
      return { exitCode: 0, stdout: JSON.stringify({ cniVersion: "1.0.0", supportedVersions: SUPPORTED_CNI_VERSIONS }) + "\n" };
    }
    if (command !== "ADD" && command !== "DEL" && command !== "CHECK") {
      throw new CniError(CNI_ERROR.invalidEnvironment, command ? `CNI_COMMAND "${command}" is not supported (ADD, DEL, CHECK, VERSION)` : "missing environment variable CNI_COMMAND");
    }
    let config: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(io.stdin);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a JSON object");
      config = parsed as Record<string, unknown>;
    } catch (err) {
      throw new CniError(CNI_ERROR.decodeFailure, `network configuration on stdin is not a JSON object: ${(err as Error).message}`);
    }
    if (typeof config["cniVersion"] === "string") cniVersion = config["cniVersion"];
    if (!isSupportedVersion(config["cniVersion"])) {
      cniVersion = "1.0.0";
      throw new CniError(CNI_ERROR.incompatibleVersion, `cniVersion ${JSON.stringify(config["cniVersion"])} is not supported (supported: ${SUPPORTED_CNI_VERSIONS.join(", ")})`);
    }
    if (command === "CHECK" && cniVersion !== "0.4.0" && cniVersion !== "1.0.0") {
      throw new CniError(CNI_ERROR.incompatibleVersion, `CHECK needs cniVersion 0.4.0 or later, the config says ${cniVersion}`);
    }
    requireEnv(io.env, command === "DEL" ? ["CNI_CONTAINERID", "CNI_IFNAME"] : ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_NETNS"]);
    const socketPath = typeof config["socketPath"] === "string" ? config["socketPath"] : (io.env["CONFORM_CNI_SOCKET"] ?? DEFAULT_SOCKET_PATH);
    const timeoutS = typeof config["timeoutSeconds"] === "number" ? config["timeoutSeconds"] : DEFAULT_TIMEOUT_S;
    const request: AgentRequest = {
      v: PROTOCOL_VERSION,
      command,
      containerId: io.env["CNI_CONTAINERID"]!,
      netns: io.env["CNI_NETNS"] ?? "",
      ifName: io.env["CNI_IFNAME"]!,
      args: parseCniArgs(io.env["CNI_ARGS"]),
      config,
    };
    let response: AgentResponse;
    try {
      response = await callAgent(socketPath, request, timeoutS * 1000);
    } catch (err) {
      if (err instanceof CniError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const unreachable = code === "ENOENT" || code === "ECONNREFUSED";
      if (unreachable && command === "DEL" && typeof config["deleteQueueDir"] === "string") {
        queueDelete(config["deleteQueueDir"], request);
        return { exitCode: 0, stdout: "" };
      }
      throw new CniError(unreachable ? CNI_ERROR.tryAgainLater : CNI_ERROR.ioFailure, `cannot reach the conform agent at ${socketPath}: ${(err as Error).message}`);
    }
    if (!response.ok) throw new CniError(response.error.code, response.error.msg, response.error.details);
    if (command !== "ADD") return { exitCode: 0, stdout: "" };
    if (!response.result) throw new CniError(CNI_ERROR.internal, "the agent answered ADD without a result");
    return { exitCode: 0, stdout: JSON.stringify(convertResult(response.result as unknown as CniResult10, cniVersion)) + "\n" };
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(CNI_ERROR.internal, (err as Error).message ?? String(err));
    return { exitCode: 1, stdout: JSON.stringify(e.toResult(cniVersion)) + "\n" };
  }
}

async function main(): Promise<void> {
  // VERSION may come without stdin; everything else needs the config.
  const stdin = process.env["CNI_COMMAND"] === "VERSION" ? "" : await readStdin();
  const outcome = await runPlugin({ env: process.env, stdin });
  process.stdout.write(outcome.stdout, () => process.exit(outcome.exitCode));
}

// Run only as the entry point (tests import runPlugin).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) void main();
