// A deterministic run report covering every case the reporters render: passing, mismatching,
// observability-disagreeing and inconclusive cells, flow checks, a scenario-level error with
// cells that never ran, and a scenario skipped for unmet requirements. Text that needs escaping
// in XML, TAP and YAML (<, &, quotes, '#', a control character) is included on purpose.
import { buildRunReport } from "../model.js";
import type { CellReport, RunMeta, RunReport, ScenarioReport } from "../model.js";

export const SAMPLE_RUN: RunMeta = {
  conformVersion: "0.1.0",
  agentVersion: "0.1.0-test",
  kernel: "6.1.0-test",
  kubernetesVersion: "v1.31.4",
  clusterName: "conform",
  audit: false,
  startedAt: "2026-03-14T09:26:50.000Z",
  endedAt: "2026-03-14T09:27:12.500Z",
};

const DIGEST = `sha256:${"ab12".repeat(16)}`;

const strangerDrop = {
  flow: {
    time: "2026-03-14T09:27:02.104512Z",
    verdict: "DROPPED",
    drop_reason: 133,
    IP: { source: "10.244.1.40", destination: "10.244.2.31", ipVersion: "IPv4" },
    l4: { TCP: { source_port: 40412, destination_port: 8080, flags: { SYN: true } } },
    source: { identity: 51002, namespace: "other", labels: ["k8s:app=stranger"], pod_name: "stranger" },
    destination: { ID: 1893, identity: 40211, namespace: "shop", labels: ["k8s:app=backend"], pod_name: "backend" },
    Type: "L3_L4",
    node_name: "conform-node-2",
    event_type: { type: 1, sub_type: 133 },
    traffic_direction: "INGRESS",
    drop_reason_desc: "POLICY_DENIED",
    Summary: "TCP Flags: SYN",
    ingress_denied_by: [{ name: "backend-ingress", namespace: "shop", kind: "CiliumNetworkPolicy" }],
  },
  node_name: "conform-node-2",
  time: "2026-03-14T09:27:02.104512Z",
};

const frontendForward = {
  time: "2026-03-14T09:27:01.589793238Z",
  verdict: "FORWARDED",
  IP: { source: "10.244.1.17", destination: "10.244.2.31", ipVersion: "IPv4" },
  l4: { TCP: { source_port: 51234, destination_port: 8080, flags: { SYN: true } } },
  source: { identity: 23117, namespace: "shop", pod_name: "frontend" },
  destination: { identity: 40211, namespace: "shop", pod_name: "backend" },
  Type: "L3_L4",
  event_type: { type: 5 },
  traffic_direction: "INGRESS",
  policy_match_type: 2,
  is_reply: false,
  Summary: "TCP Flags: SYN",
  ingress_allowed_by: [{ name: "backend-ingress", namespace: "shop", kind: "CiliumNetworkPolicy" }],
};

const httpDenied = {
  time: "2026-03-14T09:27:03.311Z",
  verdict: "DROPPED",
  IP: { source: "10.244.1.17", destination: "10.244.2.31", ipVersion: "IPv4" },
  l4: { TCP: { source_port: 51240, destination_port: 8080 } },
  source: { identity: 23117, namespace: "shop", pod_name: "frontend" },
  destination: { identity: 40211, namespace: "shop", pod_name: "backend" },
  Type: "L7",
  l7: { type: "REQUEST", http: { method: "DELETE", url: "http://backend.shop:8080/items?a=1&b=<2>", protocol: "HTTP/1.1" } },
  event_type: { type: 129 },
  traffic_direction: "INGRESS",
  is_reply: false,
  Summary: "HTTP/1.1 DELETE http://backend.shop:8080/items?a=1&b=<2>",
};

function cell(step: string, from: string, to: string, rest: Partial<CellReport> & Pick<CellReport, "expected" | "status">): CellReport {
  const [, portProto] = /:(\d+\/\w+)/.exec(to) ?? [];
  const [port, protocol] = (portProto ?? "0/tcp").split("/");
  return {
    id: `backend-ingress/${step}: ${from} -> ${to}`,
    step,
    from,
    to,
    port: Number(port),
    protocol: protocol as CellReport["protocol"],
    flows: [],
    ...rest,
  };
}

const failing: ScenarioReport = {
  name: "backend-ingress",
  file: "suites/policy/backend-ingress.yaml",
  status: "failed",
  durationMs: 8_400,
  manifestDigest: DIGEST,
  errors: [],
  cells: [
    cell("after-policy", "shop/frontend", "shop/backend:8080/tcp", {
      expected: { outcome: "ALLOWED", by: "shop/backend-ingress" },
      observed: { outcome: "ALLOWED", policies: ["shop/backend-ingress"], detail: "connected", durationMs: 3 },
      status: "pass",
      flows: [frontendForward],
    }),
    cell("after-policy", "other/stranger", "shop/backend:8080/tcp", {
      expected: { outcome: "DROPPED", reason: "POLICY_DENIED", by: "shop/backend-ingress" },
      observed: { outcome: "ALLOWED", policies: [], detail: "connected", durationMs: 4 },
      status: "fail",
      failureKind: "mismatch",
      flows: [],
    }),
    cell("after-policy", "other/stranger", "shop/backend:9001/udp", {
      expected: { outcome: "DROPPED", by: "shop/backend-ingress" },
      observed: { outcome: "TIMEOUT", policies: [], detail: "no reply after 3s", durationMs: 3000 },
      status: "fail",
      failureKind: "observability-disagrees",
      message: "the probe timed out but the flow log shows no drop for this connection",
      flows: [],
    }),
    cell("after-policy", "shop/frontend", "shop/backend:8080/http DELETE /items", {
      expected: { outcome: "L7_DENIED" },
      observed: { outcome: "L7_DENIED", reason: "HTTP 403", policies: [], detail: "HTTP 403 \"Access denied\"", durationMs: 12 },
      status: "pass",
      flows: [httpDenied],
    }),
    cell("after-policy", "shop/frontend", "world:203.0.113.10:80/tcp", {
      expected: { outcome: "ALLOWED" },
      observed: { outcome: "PROBE_ERROR", policies: [], detail: "exec failed: pod <frontend> not running & no \"retry\"\u0001" },
      status: "inconclusive",
      failureKind: "probe-error",
      flows: [],
    }),
  ],
  checks: [
    {
      id: "backend-ingress/after-policy: flow stranger-denied",
      step: "after-policy",
      kind: "flow",
      name: "stranger-denied",
      status: "pass",
      expected: "at least 1 flow DROPPED by shop/backend-ingress",
      observed: "1 flow",
      flows: [strangerDrop],
    },
    {
      id: "backend-ingress/after-policy: flow no-world-drops #2",
      step: "after-policy",
      kind: "flow",
      name: "no-world-drops #2",
      status: "fail",
      expected: "at most 0 flows DROPPED to world",
      observed: "1 flow",
      flows: [strangerDrop],
    },
  ],
};

const passing: ScenarioReport = {
  name: "dns-egress",
  file: "suites/fqdn/dns-egress.yaml",
  status: "passed",
  durationMs: 2_100,
  manifestDigest: `sha256:${"0f".repeat(32)}`,
  errors: [],
  cells: [
    {
      id: "dns-egress/steps[1]: app/client -> world:api.example.test:443/tcp",
      step: "steps[1]",
      from: "app/client",
      to: "world:api.example.test:443/tcp",
      port: 443,
      protocol: "tcp",
      expected: { outcome: "ALLOWED" },
      observed: { outcome: "ALLOWED", policies: ["app/allow-api"], durationMs: 21 },
      status: "pass",
      flows: [],
    },
  ],
  checks: [],
};

const skipped: ScenarioReport = {
  name: "wireguard-encrypts",
  file: "suites/encryption/wireguard.yaml",
  status: "skipped",
  skipReason: "needs wireguard encryption, the cluster has none",
  durationMs: 0,
  errors: [],
  cells: [
    {
      id: "wireguard-encrypts/steps[0]: a/x -> b/y:8080/tcp",
      step: "steps[0]",
      from: "a/x",
      to: "b/y:8080/tcp",
      port: 8080,
      protocol: "tcp",
      expected: { outcome: "ALLOWED" },
      status: "skipped",
      flows: [],
    },
  ],
  checks: [],
};

const broken: ScenarioReport = {
  name: "apply-refused",
  file: "suites/policy/apply-refused.yaml",
  status: "failed",
  durationMs: 900,
  manifestDigest: `sha256:${"1c".repeat(32)}`,
  errors: [{ step: "steps[0]", message: "policies/bad.yaml:3: CiliumNetworkPolicy shop/bad: spec.ingress[0].toPorts: Invalid value: <nil>" }],
  cells: [
    {
      id: "apply-refused/steps[1]: shop/a -> shop/b:80/tcp",
      step: "steps[1]",
      from: "shop/a",
      to: "shop/b:80/tcp",
      port: 80,
      protocol: "tcp",
      expected: { outcome: "DROPPED" },
      status: "skipped",
      skipReason: "not run: steps[0] failed",
      flows: [],
    },
  ],
  checks: [],
};

export function sampleReport(): RunReport {
  return buildRunReport(SAMPLE_RUN, [failing, passing, skipped, broken]);
}
