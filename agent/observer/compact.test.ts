import assert from "node:assert/strict";
import { test } from "node:test";
import { formatCompact } from "./compact.js";
import type { Flow } from "./flow.js";

// The two lines of hubble/pkg/printer/printer_test.go quoted in the note (§4.9), rebuilt from JSON.
const printerTestFlow: Flow = {
  time: "1970-01-01T00:20:34.567800Z",
  verdict: "DROPPED",
  IP: { source: "1.1.1.1", destination: "2.2.2.2", ipVersion: "IPv4" },
  l4: { TCP: { source_port: 31793, destination_port: 8080, flags: { SYN: true } } },
  source: { identity: 4 },
  destination: { identity: 12345 },
  Type: "L3_L4",
  node_name: "k8s1",
  event_type: { type: 1, sub_type: 133 },
  is_reply: false,
  Summary: "TCP Flags: SYN",
};

test("compact: Hubble printer_test reference lines", () => {
  assert.equal(formatCompact(printerTestFlow), "Jan  1 00:20:34.567: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) Policy denied DROPPED (TCP Flags: SYN)");
  const verdict: Flow = { ...printerTestFlow, event_type: { type: 5 }, traffic_direction: "EGRESS" };
  delete verdict.is_reply;
  assert.equal(
    formatCompact(verdict, { printNodeName: true }),
    "Jan  1 00:20:34.567 [k8s1]: 1.1.1.1:31793 (health) <> 2.2.2.2:8080 (ID:12345) policy-verdict:none EGRESS DENIED (TCP Flags: SYN)",
  );
});

test("compact: note §4.9 lines (trace to world, IPv6 brackets, unknown drop code, empty summary, missing time)", () => {
  const toWorld: Flow = {
    time: "2026-03-14T09:26:54.002999Z",
    verdict: "FORWARDED",
    IP: { source: "10.244.1.17", destination: "140.82.121.6", ipVersion: "IPv4" },
    l4: { TCP: { source_port: 44120, destination_port: 443, flags: { SYN: true } } },
    source: { identity: 23117, namespace: "shop", pod_name: "frontend-6d5f8c7b9-2xkqp" },
    destination: { identity: 2 },
    event_type: { type: 4, sub_type: 3 },
    is_reply: false,
    Summary: "TCP Flags: SYN",
  };
  assert.equal(formatCompact(toWorld), "Mar 14 09:26:54.002: shop/frontend-6d5f8c7b9-2xkqp:44120 (ID:23117) -> 140.82.121.6:443 (world) to-stack FORWARDED (TCP Flags: SYN)");
  assert.equal(
    formatCompact({ ...toWorld, destination_names: ["api.github.com"] }),
    "Mar 14 09:26:54.002: shop/frontend-6d5f8c7b9-2xkqp:44120 (ID:23117) -> api.github.com:443 (world) to-stack FORWARDED (TCP Flags: SYN)",
  );
  const v6: Flow = { IP: { source: "fd00::1", destination: "fd00::2" }, l4: { UDP: { source_port: 53, destination_port: 999 } }, event_type: { type: 1, sub_type: 159 }, verdict: "DROPPED" };
  assert.equal(formatCompact(v6), "N/A: [fd00::1]:53 (unknown) <> [fd00::2]:999 (unknown) 159, 0 DROPPED ()");
});
