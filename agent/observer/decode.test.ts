import assert from "node:assert/strict";
import { test } from "node:test";
import { formatCompact } from "./compact.js";
import { eventToFlow } from "./decode.js";
import {
  defaultDenyDrop,
  fakeContext,
  fixedClock,
  makeEvent,
  RULE_ALLOW_FRONTEND,
  RULE_ALLOW_FRONTEND_2,
  RULE_DENY_DB,
  throughRecordBatch,
} from "./test-support.js";

const opts = { clock: fixedClock, uuid: () => "0b7c3c1e-5d2a-4c59-9a4e-3f1f3b9d2a10" };
const decode = (fields: Parameters<typeof makeEvent>[0], ctx = fakeContext()) => {
  const [event] = throughRecordBatch([makeEvent(fields)]);
  assert.ok(event);
  return eventToFlow(event, ctx, opts).flow;
};

test("trace to-endpoint: Hubble's JSON keys in flow.proto order, endpoints enriched from the context", () => {
  const flow = decode({});
  assert.equal(
    JSON.stringify(flow),
    JSON.stringify({
      time: "2026-03-14T09:26:53.589793238Z",
      uuid: "0b7c3c1e-5d2a-4c59-9a4e-3f1f3b9d2a10",
      verdict: "FORWARDED",
      IP: { source: "10.244.2.31", destination: "10.244.1.17", ipVersion: "IPv4" },
      l4: { TCP: { source_port: 51234, destination_port: 8080, flags: { SYN: true } } },
      source: {
        identity: 23117,
        namespace: "production",
        labels: ["k8s:app=frontend", "k8s:io.kubernetes.pod.namespace=production"],
        pod_name: "frontend-6d5f8c7b9-2xkqp",
      },
      destination: {
        ID: 7,
        identity: 40211,
        namespace: "production",
        labels: ["k8s:app=payment", "k8s:io.kubernetes.pod.namespace=production"],
        pod_name: "payment-service",
        workloads: [{ name: "payment", kind: "Deployment" }],
      },
      Type: "L3_L4",
      node_name: "node-1",
      event_type: { type: 4 },
      traffic_direction: "INGRESS",
      trace_observation_point: "TO_ENDPOINT",
      trace_reason: "NEW",
      is_reply: false,
      interface: { index: 14 },
      Summary: "TCP Flags: SYN",
    }),
  );
});

test("reply trace leaving the pod: is_reply/reply true, direction of the connection (INGRESS), sides swapped in compact", () => {
  const flow = decode({
    direction: 1,
    subtype: 5,
    flags: 0x01 | 0x04,
    ctState: 2,
    saddr: "10.244.1.17",
    daddr: "10.244.2.31",
    sport: 8080,
    dport: 51234,
    srcIdentity: 40211,
    dstIdentity: 23117,
    tcpFlags: 0x12,
    tsNs: 590_100_000n,
  });
  assert.equal(flow.is_reply, true);
  assert.equal(flow.reply, true);
  assert.equal(flow.traffic_direction, "INGRESS");
  assert.equal(flow.trace_observation_point, "FROM_ENDPOINT");
  assert.equal(flow.trace_reason, "REPLY");
  assert.deepEqual(flow.event_type, { type: 4, sub_type: 5 });
  assert.equal(flow.source?.pod_name, "payment-service");
  assert.equal(flow.source?.ID, 7);
  assert.equal(flow.destination?.ID, undefined);
  assert.deepEqual(flow.l4?.TCP?.flags, { SYN: true, ACK: true });
  assert.equal(
    formatCompact(flow),
    "Mar 14 09:26:53.590: production/frontend-6d5f8c7b9-2xkqp:51234 (ID:23117) <- production/payment-service:8080 (ID:40211) from-endpoint FORWARDED (TCP Flags: SYN, ACK)",
  );
});

test("default-deny drop (133, rule_ref 0) names the policies that put the endpoint into default deny", () => {
  const [verdictEvent, dropEvent] = throughRecordBatch(defaultDenyDrop(2_104_512_000n));
  assert.ok(verdictEvent && dropEvent);
  const drop = eventToFlow(dropEvent, fakeContext(), opts).flow;
  assert.equal(drop.verdict, "DROPPED");
  assert.equal(drop.drop_reason, 133);
  assert.equal(drop.drop_reason_desc, "POLICY_DENIED");
  assert.deepEqual(drop.event_type, { type: 1, sub_type: 133 });
  assert.equal("is_reply" in drop, false, "is_reply is unknown for drops");
  assert.equal(drop.ingress_denied_by, undefined, "Hubble's denied_by stays for explicit deny rules");
  assert.deepEqual(drop.ingress_default_deny_by, [
    {
      name: "legacy-lockdown",
      namespace: "production",
      labels: [
        "k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy",
        "k8s:io.cilium.k8s.policy.name=legacy-lockdown",
        "k8s:io.cilium.k8s.policy.namespace=production",
      ],
      revision: "12",
      kind: "CiliumNetworkPolicy",
    },
  ]);
  assert.equal(
    formatCompact(drop),
    "Mar 14 09:26:55.104: production/frontend-6d5f8c7b9-2xkqp:51234 (ID:23117) <> production/payment-service:8080 (ID:40211) Policy denied DROPPED (TCP Flags: SYN) [default deny: production/legacy-lockdown (ingress)]",
  );
  const verdict = eventToFlow(verdictEvent, fakeContext(), opts).flow;
  assert.deepEqual(verdict.event_type, { type: 5 });
  assert.equal(verdict.policy_match_type, undefined);
  assert.equal("is_reply" in verdict, false);
  assert.equal(
    formatCompact(verdict, { printDropAttribution: false }),
    "Mar 14 09:26:55.104: production/frontend-6d5f8c7b9-2xkqp:51234 (ID:23117) <> production/payment-service:8080 (ID:40211) policy-verdict:none INGRESS DENIED (TCP Flags: SYN)",
  );
});

test("allowed policy verdict lists every origin policy in ingress_allowed_by", () => {
  const fields = { type: 5, matchType: 2, ruleRef: RULE_ALLOW_FRONTEND };
  const single = decode(fields);
  assert.equal(single.verdict, "FORWARDED");
  assert.equal(single.policy_match_type, 2);
  assert.equal(single.is_reply, false);
  assert.deepEqual(
    single.ingress_allowed_by?.map((p) => [p.kind, p.namespace, p.name, p.revision, p.rule_index]),
    [["CiliumNetworkPolicy", "production", "payment-allow-frontend", "12", undefined]],
  );
  assert.ok(single.ingress_allowed_by?.[0]?.labels?.includes("k8s:io.cilium.k8s.policy.uid=3f0c2d8e"));
  assert.equal(single.egress_allowed_by, undefined);

  const both = decode(fields, fakeContext({ ruleOrigins: () => [RULE_ALLOW_FRONTEND, RULE_ALLOW_FRONTEND_2] }));
  assert.deepEqual(
    both.ingress_allowed_by?.map((p) => `${p.kind}/${p.name}#${p.rule_index ?? 0}`),
    ["CiliumNetworkPolicy/payment-allow-frontend#0", "NetworkPolicy/payment-ingress#1"],
  );
  assert.equal(
    formatCompact(both, { printPolicyNames: true }),
    "Mar 14 09:26:53.589: production/frontend-6d5f8c7b9-2xkqp:51234 (ID:23117) -> production/payment-service:8080 (ID:40211) policy-verdict:L3-L4 INGRESS ALLOWED BY payment-allow-frontend (CiliumNetworkPolicy), payment-ingress (NetworkPolicy) (TCP Flags: SYN)",
  );
});

test("explicit deny (181) on egress fills egress_denied_by, on the verdict and on the drop", () => {
  const egress = { direction: 1, saddr: "10.244.1.17", daddr: "203.0.113.10", sport: 40000, dport: 5432, srcIdentity: 40211, dstIdentity: 2, dropReason: 181, ruleRef: RULE_DENY_DB, verdict: 2 };
  for (const type of [5, 1]) {
    const flow = decode({ ...egress, type, subtype: type === 1 ? 181 : 0 });
    assert.equal(flow.drop_reason_desc, "POLICY_DENY");
    assert.equal(flow.traffic_direction, "EGRESS");
    assert.deepEqual(flow.egress_denied_by?.map((p) => [p.kind, p.namespace, p.name, p.rule_index]), [["CiliumClusterwideNetworkPolicy", undefined, "deny-external-db", 2]]);
    assert.equal(flow.egress_default_deny_by, undefined);
    assert.deepEqual(flow.destination?.labels, ["reserved:world"]);
    assert.ok(formatCompact(flow).endsWith("(ID:40211) <> 203.0.113.10:5432 (world) " + (type === 1 ? "Policy denied by denylist DROPPED" : "policy-verdict:none EGRESS DENIED") + " (TCP Flags: SYN) [denied by: deny-external-db (egress)]"));
  }
});

test("audit verdict keeps the would-be reason and attribution; compact says AUDITED", () => {
  const flow = decode({ type: 5, verdict: 4, dropReason: 133, flags: 0x04 | 0x02 });
  assert.equal(flow.verdict, "AUDIT");
  assert.equal(flow.drop_reason_desc, "POLICY_DENIED");
  assert.equal(flow.is_reply, false);
  assert.equal(flow.ingress_default_deny_by?.[0]?.name, "legacy-lockdown");
  assert.match(formatCompact(flow), / policy-verdict:none INGRESS AUDITED \(TCP Flags: SYN\) \[default deny: production\/legacy-lockdown \(ingress\)\]$/);
});

test("ICMP, UDP, IPv6 and unknown peers", () => {
  const icmp = decode({ proto: 1, sport: 0, dport: 0, tcpFlags: 0, icmpType: 8, icmpCode: 0 });
  assert.deepEqual(icmp.l4, { ICMPv4: { type: 8 } });
  assert.equal(icmp.Summary, "ICMPv4 EchoRequest");
  assert.equal(
    formatCompact(icmp),
    "Mar 14 09:26:53.589: production/frontend-6d5f8c7b9-2xkqp (ID:23117) -> production/payment-service (ID:40211) to-endpoint FORWARDED (ICMPv4 EchoRequest)",
  );
  assert.equal(decode({ proto: 1, icmpType: 3, icmpCode: 3, sport: 0, dport: 0 }).Summary, "ICMPv4 DestinationUnreachable(Port)");
  const udp = decode({ proto: 17, tcpFlags: 0 });
  assert.deepEqual(udp.l4, { UDP: { source_port: 51234, destination_port: 8080 } });
  assert.equal(udp.Summary, "UDP");
  const v6 = decode({ flags: 0x08 | 0x04, saddr: "fd00::1", daddr: "fd00::2", proto: 58, icmpType: 128, sport: 0, dport: 0, tcpFlags: 0 });
  assert.equal(v6.IP?.ipVersion, "IPv6");
  assert.equal(v6.Summary, "ICMPv6 EchoRequest");
  assert.equal(v6.source?.pod_name, undefined);
  const world = decode({ saddr: "203.0.113.9", srcIdentity: 2 });
  assert.deepEqual(world.source, { identity: 2, labels: ["reserved:world"] });
  assert.match(formatCompact(world), /^Mar 14 09:26:53\.589: 203\.0\.113\.9:51234 \(world\) -> /);
});

test("encrypted comes from the context and is omitted when false", () => {
  assert.equal(decode({}).IP?.encrypted, undefined);
  assert.equal(decode({}, fakeContext({ encrypted: () => true })).IP?.encrypted, true);
});
