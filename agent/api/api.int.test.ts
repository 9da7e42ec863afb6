// The agent API for real: HTTP over a unix socket and loopback TCP, fed by a fake event source
// (the datapath helper's tests cover real BPF events), queried with node:http and through the
// `conform observe` binary.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { CfEvent } from "../../native/index.js";
import { FlowObserver, type EventSource } from "../observer/observer.js";
import { defaultDenyDrop, EP_PAYMENT, fakeContext, makeEvent, RULE_ALLOW_FRONTEND } from "../observer/test-support.js";
import type { AgentStatusProvider } from "./provider.js";
import { startAgentApi, type AgentApi } from "./server.js";
import { getAgentJson, parseAgentAddress, streamAgentFlows } from "./client.js";
import type { FlowLine } from "../observer/flow.js";

const repo = resolve(fileURLToPath(import.meta.url), "../../../..");
const dir = mkdtempSync(join(tmpdir(), "cft-api-"));
const socketPath = join(dir, "run", "api.sock");

class FakeEventSource implements EventSource {
  private readonly consumers = new Set<(events: CfEvent[]) => void>();
  lost = 0;
  received = 0;
  onEvents(cb: (events: CfEvent[]) => void): () => void {
    this.consumers.add(cb);
    return () => this.consumers.delete(cb);
  }
  stats(): { lost: number; received: number } {
    return { lost: this.lost, received: this.received };
  }
  push(events: CfEvent[]): void {
    this.received += events.length;
    for (const c of this.consumers) c(events);
  }
}

let realized = 3;
const provider: AgentStatusProvider = {
  status: () => ({ nodeName: "node-1", version: "0.1.0", ready: true, policyRevision: 5 }),
  endpoints: () => [
    {
      id: EP_PAYMENT,
      namespace: "production",
      podName: "payment-service",
      identity: 40211,
      ipv4: "10.244.1.17",
      labels: ["k8s:app=payment"],
      ingressEnforcement: "enforce",
      egressEnforcement: "none",
      policyRevision: realized,
    },
  ],
  identities: () => [{ id: 40211, labels: ["k8s:app=payment"] }],
  policy: () => ({
    revision: 5,
    policies: [{ kind: "CiliumNetworkPolicy", namespace: "production", name: "legacy-lockdown" }],
    endpoints: [
      {
        id: EP_PAYMENT,
        namespace: "production",
        podName: "payment-service",
        realizedRevision: realized,
        ingress: { mode: "enforce", defaultDenyBy: [{ kind: "CiliumNetworkPolicy", namespace: "production", name: "legacy-lockdown" }] },
        egress: { mode: "none", defaultDenyBy: [] },
      },
    ],
  }),
};

const source = new FakeEventSource();
const observer = new FlowObserver({ context: fakeContext(), capacity: 64 });
let api: AgentApi;
const now = () => process.hrtime.bigint();

before(async () => {
  observer.attach(source);
  api = await startAgentApi({ observer, provider, socketPath, tcp: { host: "127.0.0.1", port: 0 } });
});
after(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

function httpGet(path: string, via: "unix" | "tcp"): Promise<{ status: number; body: string; type: string }> {
  return new Promise((res, rej) => {
    const target = via === "unix" ? { socketPath } : { host: "127.0.0.1", port: api.tcp?.port };
    const req = request({ ...target, path }, (r) => {
      let body = "";
      r.on("data", (c) => (body += String(c)));
      r.on("end", () => res({ status: r.statusCode ?? 0, body, type: String(r.headers["content-type"]) }));
    });
    req.on("error", rej);
    req.end();
  });
}
const lines = (body: string): FlowLine[] =>
  body
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as FlowLine);

test("fake event source: socket is mode 0600; /v1/flows serves NDJSON envelopes with filters over unix and TCP", async () => {
  assert.equal(statSync(socketPath).mode & 0o777, 0o600);
  source.push([makeEvent({ tsNs: now(), type: 5, matchType: 2, ruleRef: RULE_ALLOW_FRONTEND }), makeEvent({ tsNs: now() })]);
  source.push(defaultDenyDrop(now()));

  const all = await httpGet("/v1/flows", "unix");
  assert.equal(all.status, 200);
  assert.equal(all.type, "application/x-ndjson");
  const allLines = lines(all.body);
  assert.equal(allLines.length, 4);
  for (const l of allLines) {
    assert.deepEqual(Object.keys(l), ["flow", "node_name", "time"]);
    assert.equal(l.time, l.flow?.time);
    assert.equal(l.node_name, "node-1");
  }
  assert.equal(allLines[0]?.flow?.ingress_allowed_by?.[0]?.name, "payment-allow-frontend");

  const dropped = lines((await httpGet("/v1/flows?pod=production/payment-service&verdict=DROPPED", "tcp")).body);
  assert.deepEqual(
    dropped.map((l) => l.flow?.event_type?.type),
    [5, 1],
  );
  assert.ok(dropped.every((l) => l.flow?.ingress_default_deny_by?.[0]?.name === "legacy-lockdown"));
  assert.equal(lines((await httpGet("/v1/flows?type=drop&last=1", "tcp")).body).length, 1);
  assert.equal(lines((await httpGet("/v1/flows?to-pod=production/frontend", "unix")).body).length, 0);
  assert.equal(lines((await httpGet("/v1/flows?verdict=FORWARDED&type=trace", "unix")).body).length, 1);

  const bad = await httpGet("/v1/flows?verdict=DENIED", "unix");
  assert.equal(bad.status, 400);
  assert.deepEqual(JSON.parse(bad.body), { error: '--verdict: unknown verdict "DENIED" (FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED, TRANSLATED; case-sensitive)', param: "verdict" });
  assert.equal((await httpGet("/v1/nope", "unix")).status, 404);
});

test("fake event source: follow=true streams only new matching flows", async () => {
  const controller = new AbortController();
  const received: FlowLine[] = [];
  let gotTwo: () => void = () => {};
  const two = new Promise<void>((r) => (gotTwo = r));
  let subscribed: () => void = () => {};
  const connected = new Promise<void>((r) => (subscribed = r));
  const stream = streamAgentFlows(
    parseAgentAddress(`unix:${socketPath}`),
    new URLSearchParams({ follow: "true", verdict: "DROPPED" }),
    (l) => {
      received.push(l);
      if (received.length === 2) gotTwo();
    },
    { signal: controller.signal, onConnected: () => subscribed() },
  );
  await connected;
  assert.equal(received.length, 0, "history is not replayed under follow without last");
  source.push([makeEvent({ tsNs: now() })]);
  source.push(defaultDenyDrop(now()));
  await two;
  controller.abort();
  await stream;
  assert.deepEqual(
    received.map((l) => [l.flow?.verdict, l.flow?.event_type?.type]),
    [
      ["DROPPED", 5],
      ["DROPPED", 1],
    ],
  );
});

test("fake event source: /metrics counts flows, drops, verdicts and lost events as Hubble/Cilium name them", async () => {
  const metric = async (pattern: RegExp): Promise<number> => {
    const text = (await httpGet("/metrics", "tcp")).body;
    const m = pattern.exec(text);
    return m ? Number(m[1]) : 0;
  };
  const drops = /hubble_drop_total\{reason="POLICY_DENIED",protocol="TCP"\} (\d+)/;
  const ciliumDrops = /cilium_drop_count_total\{reason="Policy denied",direction="INGRESS"\} (\d+)/;
  const beforeDrops = await metric(drops);
  const beforeCilium = await metric(ciliumDrops);
  source.push(defaultDenyDrop(now()));
  assert.equal(await metric(drops), beforeDrops + 2, "policy verdict and drop both count, as in Hubble");
  assert.equal(await metric(ciliumDrops), beforeCilium + 1, "only the drop event counts as a datapath drop");
  assert.ok((await metric(/hubble_flows_processed_total\{protocol="TCP",type="Trace",subtype="to-endpoint",verdict="FORWARDED"\} (\d+)/)) >= 2);
  assert.ok((await metric(/hubble_policy_verdicts_total\{direction="ingress",match="l3-l4",action="forwarded"\} (\d+)/)) >= 1);
  source.lost = 7;
  assert.equal(await metric(/hubble_lost_events_total\{source="perf_event_ring_buffer"\} (\d+)/), 7);
  assert.equal(await metric(/^cilium_policy (\d+)/m), 1);
  assert.equal(await metric(/^cilium_endpoint (\d+)/m), 1);
  api.metrics.mapFull("cf_policy_v1");
  assert.equal(await metric(/conform_bpf_map_full_total\{map_name="cf_policy_v1"\} (\d+)/), 1);
});

test("fake event source: /v1/status?revision=R tells whether every endpoint realized R; provider routes", async () => {
  const addr = parseAgentAddress(`unix:${socketPath}`);
  assert.deepEqual(await getAgentJson(addr, "/v1/status"), { nodeName: "node-1", version: "0.1.0", ready: true, policyRevision: 5 });
  const pendingCheck = (await getAgentJson(addr, "/v1/status?revision=5")) as { revisionCheck: unknown };
  assert.deepEqual(pendingCheck.revisionCheck, {
    revision: 5,
    realized: false,
    pending: [{ id: EP_PAYMENT, namespace: "production", podName: "payment-service", realizedRevision: 3 }],
  });
  realized = 5;
  assert.deepEqual(((await getAgentJson(addr, "/v1/status?revision=5")) as { revisionCheck: unknown }).revisionCheck, { revision: 5, realized: true, pending: [] });
  assert.equal(((await getAgentJson(addr, "/v1/status?revision=6")) as { revisionCheck: { realized: boolean } }).revisionCheck.realized, false);
  assert.equal((await httpGet("/v1/status?revision=x", "unix")).status, 400);
  assert.equal(((await getAgentJson(addr, "/v1/endpoints")) as unknown[]).length, 1);
  assert.deepEqual(await getAgentJson(addr, "/v1/identities"), [{ id: 40211, labels: ["k8s:app=payment"] }]);
  assert.equal(((await getAgentJson(addr, "/v1/policy")) as { endpoints: Array<{ realizedRevision: number }> }).endpoints[0]?.realizedRevision, 5);
});

test("fake event source: `conform observe --pod production/payment-service --verdict DROPPED` names the default-deny policy", async () => {
  const run = (args: string[]) => promisify(execFile)(process.execPath, [join(repo, "bin/conform.js"), "observe", ...args], { cwd: repo });
  const { stdout } = await run(["--server", `unix:${socketPath}`, "--pod", "production/payment-service", "--verdict", "DROPPED"]);
  const out = stdout.trim().split("\n");
  assert.ok(out.length >= 2, stdout);
  for (const line of out) {
    assert.match(line, /^\w{3} [ \d]\d \d\d:\d\d:\d\d\.\d{3}: production\/frontend-6d5f8c7b9-2xkqp:51234 \(ID:23117\) <> production\/payment-service:8080 \(ID:40211\) /);
    assert.ok(line.includes("production/legacy-lockdown (ingress)"), line);
  }
  assert.ok(out.some((l) => l.includes(" Policy denied DROPPED (TCP Flags: SYN) [default deny: production/legacy-lockdown (ingress)]")));
  assert.ok(out.some((l) => l.includes(" policy-verdict:none INGRESS DENIED (TCP Flags: SYN) [default deny: production/legacy-lockdown (ingress)]")));

  // Two "nodes" (the same agent over unix and TCP) merge by time; -o json prints envelopes.
  const json = await run(["--server", `unix:${socketPath}`, "--server", `127.0.0.1:${api.tcp?.port}`, "-o", "json", "--type", "drop", "--last", "1"]);
  const envelopes = lines(json.stdout);
  assert.equal(envelopes.length, 2);
  assert.equal(envelopes[0]?.flow?.uuid, envelopes[1]?.flow?.uuid);
  await assert.rejects(run(["--server", `unix:${socketPath}`, "--verdict", "dropped"]), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /--verdict: unknown verdict "dropped"/);
    return true;
  });
});
