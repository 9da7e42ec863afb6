// Pure mapping from what a probe observed (errno, HTTP answer, DNS rcode, ping output) to the
// outcome taxonomy. Kept apart from the socket code so every rule is unit-tested.
import type { Outcome } from "./outcome.js";

export interface Classified {
  outcome: Outcome;
  detail: string;
}

export interface SocketErrorLike {
  code?: string | undefined;
  syscall?: string | undefined;
  message?: string | undefined;
}

/**
 * Socket errors. A refusal the network answered (RST, ICMP unreachable) is REJECTED; errors of the
 * local socket layer mean the probe never really ran and are PROBE_ERROR, never "blocked".
 */
export function classifySocketError(err: SocketErrorLike): Classified {
  const code = err.code ?? "UNKNOWN";
  const where = err.syscall ? ` (${err.syscall})` : "";
  // Bind errors are about our own socket, whatever the code says.
  if (err.syscall === "bind") return { outcome: "PROBE_ERROR", detail: `could not bind the local socket: ${code}${where}` };
  switch (code) {
    case "ECONNREFUSED":
      return { outcome: "REJECTED", detail: `connection refused${where}: TCP RST or ICMP port unreachable` };
    case "ECONNRESET":
      return { outcome: "REJECTED", detail: `connection reset by peer${where}` };
    case "EPIPE":
      return { outcome: "REJECTED", detail: `connection closed by peer while sending${where}` };
    case "EHOSTUNREACH":
      return { outcome: "REJECTED", detail: `host unreachable${where}: ICMP host unreachable/filtered or no neighbour answer` };
    case "ENETUNREACH":
      return { outcome: "REJECTED", detail: `network unreachable${where}: ICMP net unreachable or no route` };
    case "EACCES":
      return { outcome: "REJECTED", detail: `destination prohibited${where}: a prohibit route or ICMP admin-prohibited` };
    case "ETIMEDOUT":
      return { outcome: "TIMEOUT", detail: `kernel gave up waiting for an answer${where}` };
    case "EPERM":
      return {
        outcome: "PROBE_ERROR",
        detail: `operation not permitted${where}: a local hook (netfilter OUTPUT or cgroup BPF) refused the socket call before any packet left`,
      };
    default:
      return { outcome: "PROBE_ERROR", detail: `${code}${where}: ${err.message ?? "socket error"}` };
  }
}

/** Errors worth retrying with another local port: the port (or the 4-tuple) is taken. */
export function isPortConflict(err: SocketErrorLike): boolean {
  return err.code === "EADDRINUSE" || (err.code === "EADDRNOTAVAIL" && err.syscall === "connect");
}

/**
 * The recognisable L7-denial signal. Envoy (the proxy Cilium uses) answers a request its policy
 * refuses with `403`, `content-type: text/plain` and the body `Access denied\r\n`; conform's proxy
 * answers the same so probes read alike on both, and may also set the header
 * `x-conform-l7-verdict: denied`. A plain 403 from the application (e.g. a configured route on
 * the probe server) is an ordinary HTTP answer and stays ALLOWED.
 */
export const L7_DENIED_BODY = "Access denied";
export const L7_VERDICT_HEADER = "x-conform-l7-verdict";

export function isL7Denial(status: number, headers: Record<string, string | string[] | undefined>, body: string): boolean {
  if (status !== 403) return false;
  const verdict = headers[L7_VERDICT_HEADER];
  if (typeof verdict === "string" && verdict.toLowerCase() === "denied") return true;
  return body.trim() === L7_DENIED_BODY;
}

export function classifyHttpResponse(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  expectStatus?: number,
): Classified {
  if (isL7Denial(status, headers, body)) return { outcome: "L7_DENIED", detail: "HTTP 403 Access denied from the L7 proxy" };
  const mismatch = expectStatus !== undefined && expectStatus !== status ? ` (expected ${expectStatus})` : "";
  return { outcome: "ALLOWED", detail: `HTTP ${status}${mismatch}` };
}

/** DNS response codes. NOERROR without records is still an answer (ALLOWED, no answers). */
export function classifyDnsRcode(rcode: string, answerCount: number): Classified {
  if (rcode === "NOERROR") {
    return { outcome: "ALLOWED", detail: answerCount > 0 ? `NOERROR, ${answerCount} answer(s)` : "NOERROR, no records of that type" };
  }
  return { outcome: "DNS_FAILED", detail: `DNS answered ${rcode}` };
}

/**
 * iputils ping, run as `ping -n -c 1 …`. Exit 0: a reply came. Exit 1: no reply, and the output
 * tells an ICMP error apart from silence. Exit 2: ping itself failed (a local error).
 */
export function classifyPing(exitCode: number | null, output: string): Classified & { rttMs: number | null } {
  const rtt = /time[=<]([\d.]+) ?ms/.exec(output);
  const rttMs = rtt?.[1] ? Number(rtt[1]) : null;
  if (exitCode === 0) return { outcome: "ALLOWED", detail: "ICMP echo reply", rttMs };
  const icmpError = /(Destination (Host|Net|Port|Protocol) Unreachable|Packet filtered|Destination Host Prohibited|Destination Net Prohibited)/i.exec(output);
  if (icmpError) return { outcome: "REJECTED", detail: `ICMP error: ${icmpError[1]}`, rttMs: null };
  if (/Network is unreachable/i.test(output)) {
    return { outcome: "REJECTED", detail: "network unreachable: no route", rttMs: null };
  }
  if (exitCode === 1) return { outcome: "TIMEOUT", detail: "no ICMP echo reply before the timeout", rttMs: null };
  if (/Operation not permitted/i.test(output)) {
    return { outcome: "PROBE_ERROR", detail: `ping: operation not permitted (local hook refused the send): ${lastLine(output)}`, rttMs: null };
  }
  return { outcome: "PROBE_ERROR", detail: `ping failed (exit ${exitCode ?? "signal"}): ${lastLine(output)}`, rttMs: null };
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return lines[lines.length - 1]?.trim() || "(no output)";
}
