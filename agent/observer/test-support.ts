// Fixtures shared by the observer, API and CLI tests: a fake ObserverContext for a small
// "production" namespace and events built the way the datapath lays them out.
import { decodeEventBatch, eventCodec, RecordBatch, type CfEvent } from "../../native/index.js";
import type { ObservedEndpoint, ObservedPolicy, ObservedRule, ObserverContext, PolicyDirectionName } from "./context.js";
import type { FlowClock } from "./time.js";

export const EP_PAYMENT = 7;
export const ID_PAYMENT = 40211;
export const ID_FRONTEND = 23117;
export const IP_PAYMENT = "10.244.1.17";
export const IP_FRONTEND = "10.244.2.31";
export const RULE_ALLOW_FRONTEND = 1001;
export const RULE_ALLOW_FRONTEND_2 = 1002;
export const RULE_DENY_DB = 2001;

const payment: ObservedEndpoint = {
  epId: EP_PAYMENT,
  identity: ID_PAYMENT,
  namespace: "production",
  podName: "payment-service",
  labels: { "k8s:app": "payment", "k8s:io.kubernetes.pod.namespace": "production" },
  workloads: [{ name: "payment", kind: "Deployment" }],
};
const frontend: ObservedEndpoint = {
  identity: ID_FRONTEND,
  namespace: "production",
  podName: "frontend-6d5f8c7b9-2xkqp",
  labels: { "k8s:app": "frontend", "k8s:io.kubernetes.pod.namespace": "production" },
};

const rules: Record<number, ObservedRule> = {
  [RULE_ALLOW_FRONTEND]: { kind: "CiliumNetworkPolicy", namespace: "production", name: "payment-allow-frontend", direction: "ingress", ruleIndex: 0, uid: "3f0c2d8e" },
  [RULE_ALLOW_FRONTEND_2]: { kind: "NetworkPolicy", namespace: "production", name: "payment-ingress", direction: "ingress", ruleIndex: 1 },
  [RULE_DENY_DB]: { kind: "CiliumClusterwideNetworkPolicy", namespace: "", name: "deny-external-db", direction: "egress", ruleIndex: 2 },
};

const defaultDeny: Record<PolicyDirectionName, ObservedPolicy[]> = {
  ingress: [{ kind: "CiliumNetworkPolicy", namespace: "production", name: "legacy-lockdown" }],
  egress: [],
};

export function fakeContext(overrides: Partial<ObserverContext> = {}): ObserverContext {
  return {
    nodeName: "node-1",
    endpointById: (id) => (id === EP_PAYMENT ? payment : undefined),
    endpointByIP: (ip) => (ip === IP_PAYMENT ? payment : ip === IP_FRONTEND ? frontend : undefined),
    identityLabels: (id) => (id === 2 ? { "reserved:world": "" } : undefined),
    ruleRef: (id) => rules[id],
    defaultDenyBy: (epId, dir) => (epId === EP_PAYMENT ? defaultDeny[dir] : []),
    policyRevision: () => 12,
    ...overrides,
  };
}

/** 2026-03-14T09:26:53Z at monotonic 0, so test times read like the note's reference lines. */
export const BASE_EPOCH_NS = 1_773_480_413_000_000_000n;
export const fixedClock: FlowClock = { monotonicToEpochNs: (ns) => BASE_EPOCH_NS + ns };

let uuidCounter = 0;
export function sequentialUuid(): string {
  uuidCounter++;
  return `00000000-0000-4000-8000-${String(uuidCounter).padStart(12, "0")}`;
}

/** An event as the datapath lays it out; defaults: TCP SYN frontend → payment at ingress. */
export function makeEvent(fields: Partial<CfEvent> = {}): CfEvent {
  return {
    tsNs: 589_793_238n,
    type: 4,
    subtype: 0,
    verdict: 1,
    direction: 0,
    flags: 0x04,
    ctState: 0,
    matchType: 0,
    proto: 6,
    dropReason: 0,
    proxyPort: 0,
    ifindex: 14,
    epId: EP_PAYMENT,
    srcIdentity: ID_FRONTEND,
    dstIdentity: ID_PAYMENT,
    ruleRef: 0,
    pktLen: 74,
    saddr: IP_FRONTEND,
    daddr: IP_PAYMENT,
    sport: 51234,
    dport: 8080,
    tcpFlags: 0x02,
    icmpType: 0,
    icmpCode: 0,
    ...fields,
  };
}

/** Round-trips events through the kernel record layout and the native decoder (a ring buffer batch). */
export function throughRecordBatch(events: readonly CfEvent[]): CfEvent[] {
  const stride = (8 + eventCodec.size + 7) & ~7;
  const buf = Buffer.alloc(stride * events.length);
  events.forEach((e, i) => {
    buf.writeUInt32LE(eventCodec.size, i * stride);
    eventCodec.encodeInto(e, buf, i * stride + 8);
  });
  return decodeEventBatch(new RecordBatch(buf, events.length)).events;
}

/** A default-deny drop pair (policy verdict + drop) of frontend → payment, as the datapath emits it. */
export function defaultDenyDrop(tsNs = 1_000_000_000n): CfEvent[] {
  const base = { tsNs, verdict: 2, dropReason: 133, ruleRef: 0, flags: 0x04 };
  return [makeEvent({ ...base, type: 5 }), makeEvent({ ...base, type: 1, subtype: 133 })];
}
