import assert from "node:assert/strict";
import { test } from "node:test";
import { eventToFlow, type StoredFlow } from "./decode.js";
import { buildFlowFilters, FilterError, matchesAny, type FilterFlags } from "./filters.js";
import { parseFlowQuery, selectFlows } from "./query.js";
import { defaultDenyDrop, fakeContext, fixedClock, makeEvent, RULE_DENY_DB, BASE_EPOCH_NS } from "./test-support.js";
import type { CfEvent } from "../../native/index.js";

const ctx = fakeContext();
const toFlow = (e: CfEvent): StoredFlow => eventToFlow(e, ctx, { clock: fixedClock });
// frontend → payment: trace, then a default-deny verdict+drop; payment → world: explicit deny; payment → frontend UDP.
const flows: StoredFlow[] = [
  makeEvent({ tsNs: 1_000_000_000n }),
  ...defaultDenyDrop(2_000_000_000n),
  makeEvent({ tsNs: 3_000_000_000n, type: 1, subtype: 181, verdict: 2, dropReason: 181, ruleRef: RULE_DENY_DB, direction: 1, saddr: "10.244.1.17", daddr: "203.0.113.10", dport: 5432, srcIdentity: 40211, dstIdentity: 2 }),
  makeEvent({ tsNs: 4_000_000_000n, direction: 1, subtype: 5, proto: 17, tcpFlags: 0, saddr: "10.244.1.17", daddr: "10.244.2.31", sport: 5353, dport: 53, srcIdentity: 40211, dstIdentity: 23117 }),
].map(toFlow);

const pick = (flags: FilterFlags): number[] => {
  const filters = buildFlowFilters(flags);
  return flows.flatMap((f, i) => (matchesAny(f.flow, filters) ? [i] : []));
};

test("--pod matches either side by namespace and pod-name prefix; --from-pod/--to-pod one side", () => {
  assert.deepEqual(pick({ pod: ["production/payment"] }), [0, 1, 2, 3, 4]);
  assert.deepEqual(pick({ "from-pod": ["production/payment-service"] }), [3, 4]);
  assert.deepEqual(pick({ "to-pod": ["production/payment-service"] }), [0, 1, 2]);
  assert.deepEqual(pick({ "to-pod": ["production/frontend"] }), [4]);
  assert.deepEqual(pick({ pod: ["payment-service"] }), [], "no namespace means `default`");
  assert.deepEqual(pick({ pod: ["/frontend"] }), [0, 1, 2, 4], "`/prefix` is any namespace");
  assert.deepEqual(pick({ namespace: ["production"] }), [0, 1, 2, 3, 4]);
  assert.deepEqual(pick({ namespace: ["production"], pod: ["frontend"] }), [0, 1, 2, 4], "--namespace qualifies --pod");
  assert.deepEqual(pick({ "to-namespace": ["kube-system"] }), []);
});

test("§5.3: both-ways flags split into source and destination filters; other flags are ANDed into both", () => {
  const filters = buildFlowFilters({ pod: ["default/web"], verdict: ["DROPPED"], "to-port": ["80"] });
  assert.deepEqual(filters, [
    { destination_port: [80], source_pod: ["default/web"], verdict: ["DROPPED"] },
    { destination_port: [80], destination_pod: ["default/web"], verdict: ["DROPPED"] },
  ]);
  assert.deepEqual(buildFlowFilters({ namespace: ["kube-system"] }), [{ source_pod: ["kube-system/"] }, { destination_pod: ["kube-system/"] }]);
  assert.deepEqual(buildFlowFilters({}), []);
  assert.deepEqual(pick({ pod: ["production/payment-service"], verdict: ["DROPPED"], "to-port": ["8080"] }), [1, 2]);
  assert.deepEqual(pick({ pod: ["production/payment-service"], verdict: ["DROPPED"] }), [1, 2, 3]);
  assert.deepEqual(pick({ verdict: ["DROPPED", "FORWARDED"] }), [0, 1, 2, 3, 4], "values of one flag are ORed");
  assert.deepEqual(pick({ verdict: ["DROPPED"], type: ["policy-verdict"] }), [1], "different flags are ANDed");
});

test("labels (selector syntax), IPs, ports, protocols, event types", () => {
  assert.deepEqual(pick({ "from-label": ["app=payment"] }), [3, 4]);
  assert.deepEqual(pick({ "from-label": ["k8s:app=payment"] }), [3, 4]);
  assert.deepEqual(pick({ "from-label": ["reserved:app=payment"] }), [], "a key with a source matches only that source");
  assert.deepEqual(pick({ "to-label": ["reserved:world"] }), [3]);
  assert.deepEqual(pick({ "to-label": ["app in (frontend, nope)"] }), [4]);
  assert.deepEqual(pick({ "from-label": ["app!=frontend,!reserved:world"] }), [3, 4]);
  assert.deepEqual(pick({ "to-label": ["!app"] }), [3]);
  assert.deepEqual(pick({ label: ["app=frontend"] }), [0, 1, 2, 4]);
  assert.deepEqual(pick({ ip: ["203.0.113.0/24"] }), [3]);
  assert.deepEqual(pick({ "from-ip": ["10.244.1.17"] }), [3, 4]);
  assert.deepEqual(pick({ port: ["53"] }), [4]);
  assert.deepEqual(pick({ "to-port": ["8080"], protocol: ["TCP"] }), [0, 1, 2]);
  assert.deepEqual(pick({ protocol: ["udp"] }), [4]);
  assert.deepEqual(pick({ protocol: ["icmp", "http"] }), []);
  assert.deepEqual(pick({ type: ["drop"] }), [2, 3]);
  assert.deepEqual(pick({ type: ["drop:181"] }), [3]);
  assert.deepEqual(pick({ type: ["trace:to-endpoint"] }), [0]);
  assert.deepEqual(pick({ type: ["trace:from-endpoint"] }), [4]);
  assert.deepEqual(pick({ "drop-reason-desc": ["POLICY_DENIED"] }), [1, 2]);
  assert.deepEqual(pick({ "traffic-direction": ["egress"] }), [3, 4]);
  assert.deepEqual(pick({ "node-name": ["node-*"] }), [0, 1, 2, 3, 4]);
  assert.deepEqual(pick({ "node-name": ["other/node-1"] }), []);
});

test("refuses what hubble observe refuses, naming the flag", () => {
  const bad: Array<[FilterFlags, RegExp]> = [
    [{ verdict: ["dropped"] }, /--verdict: unknown verdict "dropped"/],
    [{ verdict: ["DENIED"] }, /--verdict: unknown verdict "DENIED"/],
    [{ type: ["l3/l4"] }, /--type: unknown event type "l3\/l4"/],
    [{ pod: ["a"], "from-pod": ["b"] }, /--from-pod: cannot be combined with --pod/],
    [{ "to-pod": ["a"], namespace: ["b"] }, /--namespace: cannot be combined with --to-pod/],
    [{ port: ["http"] }, /--port: invalid port/],
    [{ ip: ["10.0.0.0/33"] }, /--ip: invalid IP/],
    [{ label: ["app in (a"] }, /--label: invalid label selector/],
    [{ protocol: ["gre"] }, /--protocol: unknown protocol/],
  ];
  for (const [flags, re] of bad) assert.throws(() => buildFlowFilters(flags), (e: unknown) => e instanceof FilterError && re.test(e.message));
});

test("selection: --last, --first, --since/--until, --follow, Hubble's default of 20 for the CLI", () => {
  const q = (params: Record<string, string | string[]>, defaultLast?: number) => {
    const get = (n: string) => {
      const v = params[n];
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    };
    return selectFlows(flows, parseFlowQuery(get, { nowNs: BASE_EPOCH_NS + 5_000_000_000n, ...(defaultLast ? { defaultLast } : {}) })).map((f) => flows.indexOf(f));
  };
  assert.deepEqual(q({}), [0, 1, 2, 3, 4]);
  assert.deepEqual(q({}, 2), [3, 4]);
  assert.deepEqual(q({ last: "2", verdict: "DROPPED" }), [2, 3]);
  assert.deepEqual(q({ first: "2" }), [0, 1]);
  assert.deepEqual(q({ since: "3.5s" }), [1, 2, 3, 4], "since = now - duration");
  assert.deepEqual(q({ since: "2026-03-14T09:26:56Z", until: "2026-03-14T09:26:56.5Z" }), [3]);
  assert.deepEqual(q({ follow: "true" }), [], "--follow alone prints nothing from the past");
  assert.deepEqual(q({ follow: "true", last: "1" }), [4]);
  assert.throws(() => q({ first: "1", last: "1" }), /--first: cannot be combined/);
  assert.throws(() => q({ last: "many" }), /--last: must be a non-negative integer/);
  assert.throws(() => q({ since: "yesterday" }), /--since: "yesterday" is neither a duration/);
});
