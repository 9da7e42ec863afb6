import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { flowPolicies, renderFlowLine } from "./flow-line.js";

// Reference lines from notes/hubble-flow-format.md §4.9 (shape of hubble's printer tests).
describe("renderFlowLine", () => {
  it("renders a forwarded trace like hubble's compact output", () => {
    const flow = {
      time: "2026-03-14T09:26:53.589793238Z",
      verdict: "FORWARDED",
      IP: { source: "10.244.1.17", destination: "10.244.2.31", ipVersion: "IPv4" },
      l4: { TCP: { source_port: 51234, destination_port: 8080, flags: { SYN: true } } },
      source: { identity: 23117, namespace: "shop", pod_name: "frontend-6d5f8c7b9-2xkqp" },
      destination: { identity: 40211, namespace: "shop", pod_name: "api-7c9d4b6f5-m8wzt" },
      event_type: { type: 4 },
      is_reply: false,
      Summary: "TCP Flags: SYN",
    };
    assert.equal(
      renderFlowLine({ flow }),
      "Mar 14 09:26:53.589: shop/frontend-6d5f8c7b9-2xkqp:51234 (ID:23117) -> shop/api-7c9d4b6f5-m8wzt:8080 (ID:40211) to-endpoint FORWARDED (TCP Flags: SYN)",
    );
  });

  it("swaps sides for replies and prints reserved identities by name", () => {
    const flow = {
      time: "1970-01-01T00:20:34.567800Z",
      verdict: "FORWARDED",
      IP: { source: "2.2.2.2", destination: "1.1.1.1" },
      l4: { TCP: { source_port: 8080, destination_port: 31793 } },
      source: { identity: 12345 },
      destination: { identity: 4 },
      event_type: { type: 4, sub_type: 3 },
      is_reply: true,
      Summary: "TCP Flags: SYN, ACK",
    };
    assert.equal(renderFlowLine(flow), "Jan  1 00:20:34.567: 1.1.1.1:31793 (health) <- 2.2.2.2:8080 (ID:12345) to-stack FORWARDED (TCP Flags: SYN, ACK)");
  });

  it("renders drops, policy verdicts and the policies a flow names", () => {
    const drop = {
      time: "2026-03-14T09:27:02.104Z",
      verdict: "DROPPED",
      IP: { source: "1.1.1.1", destination: "2.2.2.2" },
      l4: { TCP: { source_port: 31793, destination_port: 8080 } },
      source: { identity: 4 },
      destination: { identity: 12345 },
      event_type: { type: 1, sub_type: 181 },
      drop_reason_desc: "POLICY_DENY",
      Summary: "TCP Flags: SYN",
      ingress_denied_by: [{ name: "deny-all", kind: "CiliumClusterwideNetworkPolicy" }, { name: "lockdown", namespace: "prod", kind: "CiliumNetworkPolicy" }],
    };
    assert.equal(
      renderFlowLine(drop),
      "Mar 14 09:27:02.104: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) Policy denied by denylist DROPPED BY deny-all (CiliumClusterwideNetworkPolicy), prod/lockdown (CiliumNetworkPolicy) (TCP Flags: SYN)",
    );
    assert.deepEqual(flowPolicies(drop), ["deny-all", "prod/lockdown"]);
    const verdict = { ...drop, event_type: { type: 5 }, traffic_direction: "EGRESS", ingress_denied_by: undefined };
    assert.equal(renderFlowLine(verdict), "Mar 14 09:27:02.104: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) policy-verdict:none EGRESS DENIED (TCP Flags: SYN)");
  });

  it("renders L7 and DNS flows, services and missing times", () => {
    const dns = {
      verdict: "FORWARDED",
      IP: { source: "10.244.1.17", destination: "10.96.0.10" },
      l4: { UDP: { source_port: 39015, destination_port: 53 } },
      source: { identity: 23117, namespace: "shop", pod_name: "frontend" },
      destination: { identity: 2 },
      destination_service: { name: "kube-dns", namespace: "kube-system" },
      l7: { type: "REQUEST", dns: { query: "api.example.test.", observation_source: "proxy" } },
      is_reply: false,
      Summary: "DNS Query api.example.test. A",
    };
    assert.equal(renderFlowLine(dns), "N/A: shop/frontend:39015 (ID:23117) -> kube-system/kube-dns:53 (world) dns-request proxy FORWARDED (DNS Query api.example.test. A)");
  });
});
