import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1Node } from "@kubernetes/client-node";
import { agentConfigSchema } from "../agent.js";
import type { Endpoint } from "../endpoint/types.js";
import { silentLogger } from "../k8s/log.js";
import type { PolicyDiff, PolicyState } from "../policy/index.js";
import { CidrIdentityAllocator } from "./cidr-identities.js";
import { DebouncedTask } from "./debounced-task.js";
import { buildIpcache } from "./ipcache-build.js";
import { PolicySync } from "./policy-sync.js";

const node = (name: string, ip: string, router: string): V1Node => ({
  metadata: { name, annotations: { "network.cilium.io/ipv4-cilium-host": router } },
  status: { addresses: [{ type: "InternalIP", address: ip }] },
});

const endpoint = (id: number, ns: string, name: string, ip: string, identity: number, labels: Record<string, string>): Endpoint => ({
  version: 1,
  id,
  containerId: `c${id}`,
  ifName: "eth0",
  netns: "/x",
  hostIfName: `lxc${id}`,
  hostIfIndex: 10 + id,
  hostMac: "",
  podMac: "",
  ipv4: ip,
  gateway: "10.244.1.1",
  pod: { namespace: ns, name },
  identity: { id: identity, labels },
  namedPorts: [],
  state: "ready",
  policyRevision: 0,
  createdAt: "",
});

describe("buildIpcache", () => {
  const nodes = [node("n1", "198.18.0.11", "10.244.1.1"), node("n2", "198.18.0.12", "10.244.2.1")];
  const entries = buildIpcache({
    nodeName: "n1",
    nodes,
    ciliumEndpoints: [
      { metadata: { name: "b", namespace: "shop" }, status: { identity: { id: 300 }, networking: { node: "198.18.0.12", addressing: [{ ipv4: "10.244.2.5" }] } } },
      // stale CEP of this node: the hook's view wins
      { metadata: { name: "old", namespace: "shop" }, status: { identity: { id: 999 }, networking: { node: "198.18.0.11", addressing: [{ ipv4: "10.244.1.5" }] } } },
      { metadata: { name: "noid", namespace: "shop" }, status: { networking: { node: "198.18.0.12", addressing: [{ ipv4: "10.244.2.9" }] } } },
    ],
    localEndpoints: [endpoint(1, "shop", "a", "10.244.1.5", 301, {})],
    apiServerAddresses: ["198.18.0.1"],
    cidrIdentities: [
      { prefix: "203.0.113.0/24", id: 0x1000001, labels: {} },
      { prefix: "10.244.2.5/32", id: 0x1000002, labels: {} },
    ],
  });
  const byCidr = new Map(entries.map((e) => [e.cidr, e]));
  test("this node's addresses and router are host, local", () => {
    assert.deepEqual(byCidr.get("198.18.0.11/32"), { cidr: "198.18.0.11/32", identity: 1, local: true });
    assert.deepEqual(byCidr.get("10.244.1.1/32"), { cidr: "10.244.1.1/32", identity: 1, local: true });
  });
  test("other nodes' addresses and routers are remote-node", () => {
    assert.equal(byCidr.get("198.18.0.12/32")?.identity, 6);
    assert.equal(byCidr.get("10.244.2.1/32")?.identity, 6);
  });
  test("remote pods carry their node as tunnel endpoint; local pods come from the hook", () => {
    assert.deepEqual(byCidr.get("10.244.2.5/32"), { cidr: "10.244.2.5/32", identity: 300, tunnelEndpoint: "198.18.0.12" });
    assert.deepEqual(byCidr.get("10.244.1.5/32"), { cidr: "10.244.1.5/32", identity: 301, local: true });
    assert.equal(byCidr.has("10.244.2.9/32"), false, "a CEP without identity is not mapped");
  });
  test("the API server is kube-apiserver; CIDR identities never hide a pod", () => {
    assert.equal(byCidr.get("198.18.0.1/32")?.identity, 7);
    assert.equal(byCidr.get("203.0.113.0/24")?.identity, 0x1000001);
    assert.equal(entries.filter((e) => e.cidr === "10.244.2.5/32").length, 1);
  });
});

describe("CidrIdentityAllocator", () => {
  test("stable numbers while referenced, never reused in a run, labels from cidrIdentityLabels", () => {
    const a = new CidrIdentityAllocator();
    assert.equal(a.sync(["203.0.113.0/24", "203.0.113.10/32"]), true);
    const first = new Map(a.list().map((c) => [c.prefix, c.id]));
    assert.equal(a.sync(["203.0.113.0/24", "203.0.113.10/32"]), false);
    assert.equal(a.sync(["203.0.113.0/24"]), true);
    assert.equal(a.sync(["203.0.113.0/24", "203.0.113.10/32"]), true);
    const again = new Map(a.list().map((c) => [c.prefix, c.id]));
    assert.equal(again.get("203.0.113.0/24"), first.get("203.0.113.0/24"));
    assert.notEqual(again.get("203.0.113.10/32"), first.get("203.0.113.10/32"));
    for (const c of a.list()) assert.equal(c.id >>> 24, 1, "local scope");
    assert.deepEqual(a.list()[0]?.labels, { "cidr:203.0.113.0/24": "", "reserved:world": "" });
  });
});

describe("DebouncedTask", () => {
  test("triggers coalesce; a trigger during a run causes one more run; flush runs now", async () => {
    let runs = 0;
    let release!: () => void;
    let gate = Promise.resolve();
    const t = new DebouncedTask(async () => {
      runs++;
      await gate;
    }, 10, (err) => assert.fail(String(err)));
    t.trigger();
    t.trigger();
    t.trigger();
    await t.flush();
    assert.equal(runs, 1);
    gate = new Promise((r) => (release = r));
    const running = t.flush();
    t.trigger();
    release();
    await running;
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(runs, 3);
    await t.stop();
    t.trigger();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(runs, 3, "stopped: no more runs");
  });
});

describe("agentConfigSchema", () => {
  const base = { nodeName: "n1", stateDir: "/run/x", socketPath: "/run/x/agent.sock", kubeconfig: "/run/k" };
  test("a CNI agent config is a valid agent config; policy defaults apply", () => {
    const c = agentConfigSchema.parse(base);
    assert.deepEqual(c.policy, { enforcementMode: "default", auditMode: false, allowLocalhost: "always", debounceMs: 75 });
  });
  test("unknown fields and bad modes are refused with their path", () => {
    const bad = agentConfigSchema.safeParse({ ...base, policy: { enforcementMode: "strict" } });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues[0]?.path, ["policy", "enforcementMode"]);
    assert.equal(agentConfigSchema.safeParse({ ...base, typo: 1 }).success, false);
    assert.equal(agentConfigSchema.safeParse({ ...base, kubeconfig: "relative/kubeconfig" }).success, false, "a kubeconfig path is absolute");
    // Without one the agent uses the in-cluster config (a DaemonSet pod), so the API is still there.
    assert.equal(agentConfigSchema.safeParse({ ...base, kubeconfig: undefined }).success, true);
  });
});

class FakeDatapath {
  readonly applied: Array<"state" | "diff"> = [];
  revision = 0;
  lastState: PolicyState | undefined;
  applyPolicy(input: PolicyDiff | PolicyState) {
    const isState = input instanceof Map;
    this.applied.push(isState ? "state" : "diff");
    if (isState) this.lastState = input;
    const changed = isState || (input as PolicyDiff).upserts.length + (input as PolicyDiff).deletes.length + (input as PolicyDiff).modes.length > 0;
    if (changed) this.revision++;
    return { upserted: 0, deleted: 0, failedClosed: [], revision: this.revision };
  }
  realizedRevision(): number {
    return this.revision;
  }
}

describe("PolicySync", () => {
  const labels = (app: string) => ({ "k8s:app": app, "k8s:io.kubernetes.pod.namespace": "shop", "k8s:io.cilium.k8s.policy.cluster": "default" });
  const eps = [endpoint(1, "shop", "backend", "10.244.1.5", 300, labels("backend"))];
  const cnp = (rv: string, port: unknown) => ({
    apiVersion: "cilium.io/v2",
    kind: "CiliumNetworkPolicy",
    metadata: { name: "p", namespace: "shop", resourceVersion: rv },
    spec: { endpointSelector: { matchLabels: { app: "backend" } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: "frontend" } }], toPorts: [{ ports: [{ port, protocol: "TCP" }] }] }] },
  });

  test("first apply is a full state, later ones diffs; a bad update keeps the previous form and is reported once", async () => {
    const dp = new FakeDatapath();
    const rejected: string[] = [];
    const recorded: Array<[number, number]> = [];
    const sync = new PolicySync({
      datapath: dp,
      engine: {},
      endpoints: () => eps,
      identities: () => [{ id: 301, labels: labels("frontend") }],
      recordRevision: (id, rev) => recorded.push([id, rev]),
      onRejected: (_o, ref) => rejected.push(ref.name),
      debounceMs: 5,
      log: silentLogger,
    });
    await sync.flush();
    assert.deepEqual(dp.applied, ["state"]);
    assert.equal(dp.lastState?.get(1)?.ingressMode, 0, "no policy: unenforced");
    sync.upsert(cnp("1", "8080"));
    await sync.flush();
    assert.deepEqual(dp.applied, ["state", "diff"]);
    assert.equal(sync.revision, 2);
    assert.deepEqual(recorded.at(-1), [1, 2]);
    sync.upsert(cnp("2", "http-typo!"));
    sync.upsert(cnp("2", "http-typo!"));
    await sync.flush();
    assert.deepEqual(rejected, ["p"], "one report per bad resourceVersion");
    assert.equal(sync.store.get("CiliumNetworkPolicy/shop/p")?.resourceVersion, "1", "previous form stays in force");
    assert.equal(sync.revision, 2, "nothing changed in the datapath");
    sync.remove({ kind: "CiliumNetworkPolicy", namespace: "shop", name: "p" });
    await sync.flush();
    assert.equal(sync.store.size, 0);
    assert.equal(sync.revision, 3);
    await sync.stop();
  });

  test("CIDR prefixes get local identities, pushed to the ipcache before the policy is applied", async () => {
    const dp = new FakeDatapath();
    const order: string[] = [];
    const sync = new PolicySync({
      datapath: { applyPolicy: (i) => (order.push("policy"), dp.applyPolicy(i)), realizedRevision: () => dp.revision },
      engine: {},
      endpoints: () => eps,
      identities: () => [],
      onCidrIdentities: (ids) => void order.push(`ipcache:${ids.map((c) => c.prefix).join(",")}`),
      debounceMs: 5,
      log: silentLogger,
    });
    sync.upsert({
      apiVersion: "cilium.io/v2",
      kind: "CiliumNetworkPolicy",
      metadata: { name: "c", namespace: "shop", resourceVersion: "1" },
      spec: { endpointSelector: {}, egress: [{ toCIDR: ["203.0.113.0/24"] }] },
    });
    await sync.flush();
    assert.deepEqual(order, ["ipcache:203.0.113.0/24", "policy"]);
    const id = sync.cidrIdentities()[0]!.id;
    const entries = [...(dp.lastState?.get(1)?.entries.values() ?? [])];
    assert.ok(entries.some((e) => e.key.identity === id && e.key.direction === 1 && e.value.action === 1), "egress allow to the CIDR identity");
    await sync.stop();
  });
});
