// `expect.flows`: assertions over the flow log of one step ("a DROPPED flow from other/stranger to
// shop/backend:8080 naming shop/backend-ingress", "no flow to the world", …). Pure: flows and the
// addresses of the fixtures come in, a check report goes out.
import { attributedPolicies, unwrapFlow } from "../report/flow-line.js";
import type { CheckReport, FlowRecord } from "../report/model.js";
import type { FlowCheck } from "../spec/cells.js";
import { ipInCidr } from "../spec/targets.js";
import { flowFacts } from "./flow-match.js";
import { UNVERIFIABLE_PREFIX } from "./verdict.js";
import type { AddressBook } from "./probes.js";

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Rec) : {});
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Flows kept on a check's report; the count covers all of them. */
export const MAX_REPORTED_FLOWS = 20;

const DNS_RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

function rcodeName(value: unknown): string {
  if (typeof value === "number") return DNS_RCODES[value] ?? String(value);
  return typeof value === "string" && value !== "" ? value : "NOERROR";
}

const bareName = (name: string) => name.toLowerCase().replace(/\.$/, "");

function endpointIs(flow: Rec, side: "source" | "destination", namespace: string, name: string): boolean {
  const ep = rec(flow[side]);
  return str(ep.namespace) === namespace && str(ep.pod_name ?? ep.podName) === name;
}

export function flowMatchesCheck(record: FlowRecord, check: FlowCheck, book: AddressBook): boolean {
  const flow = unwrapFlow(record);
  const f = flowFacts(record);
  if (check.from) {
    const ip = book.podIP(check.from.namespace, check.from.name);
    if (!endpointIs(flow, "source", check.from.namespace, check.from.name) && !(ip !== undefined && f.sourceIp === ip)) return false;
  }
  const to = check.to;
  if (to) {
    if (to.port !== undefined && f.destinationPort !== to.port) return false;
    if (to.protocol !== undefined && f.protocol !== (to.protocol === "udp" ? "UDP" : "TCP")) return false;
    switch (to.kind) {
      case "pod": {
        const ip = book.podIP(to.namespace, to.name);
        if (!endpointIs(flow, "destination", to.namespace, to.name) && !(ip !== undefined && f.destinationIp === ip)) return false;
        break;
      }
      case "service": {
        const svc = rec(flow.destination_service ?? flow.destinationService);
        const ip = book.serviceIP(to.namespace, to.name);
        if (!(str(svc.name) === to.name && str(svc.namespace) === to.namespace) && !(ip !== undefined && f.destinationIp === ip)) return false;
        break;
      }
      case "world": {
        const names = Array.isArray(flow.destination_names) ? flow.destination_names.map((n) => bareName(str(n))) : [];
        if (f.destinationIp !== to.host && !names.includes(bareName(to.host))) return false;
        break;
      }
      case "cidr":
        if (!f.destinationIp || !ipInCidr(f.destinationIp, to.cidr)) return false;
        break;
      case "host": {
        const nodes = check.from ? [book.nodeAddressOfPod(check.from.namespace, check.from.name)] : allNodeAddresses(book);
        if (!nodes.includes(f.destinationIp)) return false;
        break;
      }
      case "node":
        if (f.destinationIp !== book.nodeAddress(to.index)) return false;
        break;
      case "apiserver":
        if (!f.destinationIp || f.destinationIp !== book.apiServerAddress?.()) return false;
        break;
      case "health":
        if (!f.destinationIp || f.destinationIp !== book.healthAddress?.(to.index)) return false;
        break;
    }
  }
  if (check.verdict !== undefined && f.verdict !== check.verdict) return false;
  if (check.reason !== undefined && f.dropReason !== check.reason) return false;
  if (check.by !== undefined && !attributedPolicies(record).includes(check.by)) return false;
  if (check.direction !== undefined && str(flow.traffic_direction ?? flow.trafficDirection) !== check.direction) return false;
  if (check.encrypted !== undefined && (rec(flow.IP).encrypted === true) !== check.encrypted) return false;
  const l7 = rec(flow.l7);
  if (check.http) {
    const http = rec(l7.http);
    if (flow.l7 === undefined || l7.http === undefined) return false;
    if (check.http.method !== undefined && str(http.method) !== check.http.method) return false;
    if (check.http.path !== undefined && urlPath(str(http.url)) !== check.http.path) return false;
    if (check.http.code !== undefined && http.code !== check.http.code) return false;
  }
  if (check.dns) {
    const dns = rec(l7.dns);
    if (flow.l7 === undefined || l7.dns === undefined) return false;
    if (check.dns.query !== undefined && bareName(str(dns.query)) !== bareName(check.dns.query)) return false;
    if (check.dns.rcode !== undefined && rcodeName(dns.rcode) !== check.dns.rcode.toUpperCase()) return false;
  }
  return true;
}

function allNodeAddresses(book: AddressBook): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (let i = 1; i <= 64; i++) {
    const a = book.nodeAddress(i);
    if (a === undefined) break;
    out.push(a);
  }
  return out;
}

function urlPath(url: string): string {
  try {
    return new URL(url, "http://x").pathname;
  } catch {
    return url;
  }
}

export function describeCheck(check: FlowCheck): string {
  const parts = [
    check.verdict ?? "any verdict",
    check.from ? `from ${check.from.namespace}/${check.from.name}` : "",
    check.to ? `to ${check.to.kind === "pod" ? `${check.to.namespace}/${check.to.name}` : check.to.kind}${check.to.port ? `:${check.to.port}` : ""}` : "",
    check.reason ? `reason ${check.reason}` : "",
    check.by ? `by ${check.by}` : "",
    check.direction ? check.direction : "",
    check.encrypted !== undefined ? (check.encrypted ? "encrypted" : "not encrypted") : "",
  ].filter(Boolean);
  return parts.join(" ");
}

function describeCount(count: FlowCheck["count"]): string {
  if (count.max === 0) return "no flow";
  if (count.max === undefined) return count.min === 1 ? "at least 1 flow" : `at least ${count.min} flows`;
  return count.min === count.max ? `exactly ${count.min} flow${count.min === 1 ? "" : "s"}` : `${count.min}-${count.max} flows`;
}

/** The check's report; `flows` undefined means the cluster has no flow source. */
export function judgeFlowCheck(check: FlowCheck, flows: readonly FlowRecord[] | undefined, book: AddressBook, durationMs?: number, audit = false): CheckReport {
  const expected = `${describeCount(check.count)}: ${describeCheck(check)}`;
  const base = { id: check.id, step: check.step, kind: "flow", name: check.name, expected, ...(durationMs !== undefined ? { durationMs } : {}) };
  if (flows === undefined) {
    return { ...base, status: "fail", message: `${UNVERIFIABLE_PREFIX}: this cluster has no flow source`, flows: [] };
  }
  // Audit mode logs a would-be drop as AUDIT and forwards it, as cells read it: a check that wants
  // a DROPPED flow is met by the AUDIT one. A check that forbids DROPPED flows stays literal.
  const wantsDrop = audit && check.verdict === "DROPPED" && check.count.max !== 0;
  const matching = flows.filter((f) => flowMatchesCheck(f, check, book) || (wantsDrop && flowMatchesCheck(f, { ...check, verdict: "AUDIT" }, book)));
  const n = matching.length;
  const ok = n >= check.count.min && (check.count.max === undefined || n <= check.count.max);
  return {
    ...base,
    status: ok ? "pass" : "fail",
    observed: `${n} matching flow${n === 1 ? "" : "s"}`,
    ...(ok ? {} : { message: `${n} matching flow${n === 1 ? "" : "s"} where ${describeCount(check.count)} ${check.count.max === 0 ? "was" : "were"} expected` }),
    flows: matching.slice(0, MAX_REPORTED_FLOWS),
  };
}
