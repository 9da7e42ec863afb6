/**
 * Enforcement modes (default / always / never), init endpoints, and audit mode (agent-wide and
 * per policy via the policy.conform.dev/audit-mode annotation).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RESERVED_IDENTITY } from "../identity/reserved.js";
import { compilePolicies } from "./compile.js";
import { simulateLookup } from "./simulate.js";
import { ENDPOINT_MODE } from "./types.js";
import { TCP, buildWorld, ccnp, cnp, knp, parseAll } from "./test-support.js";

const WORLD = RESERVED_IDENTITY.world;
const HOST = RESERVED_IDENTITY.host;
const db = { matchLabels: { app: "db" } };
const x = { matchLabels: { app: "x" } };
const AUDIT = { metadata: { annotations: { "policy.conform.dev/audit-mode": "true" } } };

describe("enforcement modes", () => {
  test("default: an endpoint no policy selects is not enforced; a selected one only in the selected direction", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [x] }] })]);
    const web = w.result.state.get(w.ep("prod/web"));
    assert.equal(web?.ingressMode, ENDPOINT_MODE.notEnforced);
    assert.equal(web?.entries.size, 0);
    assert.equal(w.at("prod/web", "ingress", WORLD, TCP, 80).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "egress", WORLD, TCP, 80).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 80).verdict, "DROPPED");
  });

  test("always: every endpoint is default deny both ways, enableDefaultDeny: false is overridden", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, enableDefaultDeny: { ingress: false }, ingress: [{ fromEndpoints: [x] }] })], {
      config: { enforcementMode: "always" },
    });
    const web = w.result.state.get(w.ep("prod/web"));
    assert.equal(web?.ingressMode, ENDPOINT_MODE.enforced);
    assert.equal(web?.egressMode, ENDPOINT_MODE.enforced);
    assert.equal(web?.defaultDenyCause.ingress, "enforcement-always");
    assert.equal(w.at("prod/web", "ingress", w.id("prod/client"), TCP, 80).verdict, "DROPPED");
    assert.equal(w.at("prod/web", "egress", WORLD, TCP, 80).verdict, "DROPPED");
    // The allow-localhost entry does not depend on a selecting rule (Cilium's DistillPolicy adds it
    // to every non-host endpoint); the other way round, pod to host, stays default deny.
    const fromHost = w.at("prod/web", "ingress", HOST, TCP, 80);
    assert.equal(fromHost.verdict, "FORWARDED");
    assert.equal(w.result.ruleRefs.get(fromHost.ruleRef)?.kind, "Synthesized");
    assert.equal(w.result.ruleRefs.get(fromHost.ruleRef)?.name, "allow-localhost-ingress");
    assert.equal(w.at("prod/web", "egress", HOST, TCP, 80).dropReason, 133);
    assert.equal(w.at("prod/db", "ingress", HOST, TCP, 80).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 80).verdict, "FORWARDED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 80).verdict, "DROPPED");
  });

  test("never: rules are ignored", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{}], ingressDeny: [{ fromEntities: ["all"] }] })], { config: { enforcementMode: "never" } });
    const ep = w.result.state.get(w.ep("prod/db"));
    assert.equal(ep?.ingressMode, ENDPOINT_MODE.notEnforced);
    assert.equal(ep?.entries.size, 0);
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 5432).verdict, "FORWARDED");
  });

  test("an endpoint still carrying reserved:init is default deny both ways", () => {
    const { policies } = parseAll([ccnp("init", { endpointSelector: { matchLabels: { "reserved:init": "" } }, egress: [{ toEntities: ["host"] }] })]);
    const r = compilePolicies({
      policies,
      endpoints: [
        { epId: 7, namespace: "", podName: "starting", identity: RESERVED_IDENTITY.init, labels: { "reserved:init": "" } },
        { epId: 8, namespace: "", podName: "other-init", identity: RESERVED_IDENTITY.init, labels: { "reserved:init": "" } },
      ],
      identities: [],
    });
    assert.equal(r.state.get(7)?.ingressMode, ENDPOINT_MODE.enforced);
    assert.equal(r.state.get(7)?.defaultDenyCause.ingress, "init-identity");
    assert.equal(simulateLookup(r.state, 7, "egress", HOST, TCP, 53).verdict, "FORWARDED");
    assert.equal(simulateLookup(r.state, 7, "egress", WORLD, TCP, 53).verdict, "DROPPED");
    assert.equal(simulateLookup(r.state, 7, "ingress", WORLD, TCP, 53).verdict, "DROPPED");
  });

  test("allow-localhost=policy removes the implicit host allow", () => {
    const spec = { endpointSelector: db, ingress: [{ fromEndpoints: [x] }] };
    assert.equal(buildWorld([cnp("prod", "p", spec)]).at("prod/db", "ingress", HOST, TCP, 5432).verdict, "FORWARDED");
    assert.equal(buildWorld([cnp("prod", "p", spec)], { config: { allowLocalhost: "policy" } }).at("prod/db", "ingress", HOST, TCP, 5432).verdict, "DROPPED");
  });

  test("the implicit host allow loses to a deny", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [x] }], ingressDeny: [{ fromEntities: ["host"] }] })]);
    assert.equal(w.at("prod/db", "ingress", HOST, TCP, 5432).dropReason, 181);
  });
});

describe("audit mode", () => {
  test("agent-wide: would-be drops are AUDIT and forwarded, allowed traffic stays FORWARDED", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [x] }], ingressDeny: [{ fromEntities: ["world"] }] })], { config: { auditMode: true } });
    assert.equal(w.result.state.get(w.ep("prod/db"))?.ingressMode, ENDPOINT_MODE.audit);
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 1).verdict, "FORWARDED");
    const miss = w.at("prod/db", "ingress", w.id("prod/web"), TCP, 1);
    assert.deepEqual([miss.verdict, miss.dropReason], ["AUDIT", 133]);
    const deny = w.at("prod/db", "ingress", WORLD, TCP, 1);
    assert.deepEqual([deny.verdict, deny.dropReason], ["AUDIT", 181]);
    assert.equal(w.result.ruleRefs.get(deny.ruleRef)?.verdict, "deny");
  });

  test("per policy: the annotation alone puts the direction in audit", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{ fromEndpoints: [x] }], ingressDeny: [{ fromEntities: ["world"] }] }, AUDIT)]);
    assert.equal(w.result.state.get(w.ep("prod/db"))?.ingressMode, ENDPOINT_MODE.audit);
    assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 1).verdict, "AUDIT");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 1).verdict, "AUDIT");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 1).verdict, "FORWARDED");
    assert.equal(w.result.ruleRefs.get(w.at("prod/db", "ingress", WORLD, TCP, 1).ruleRef)?.audit, true);
  });

  test("per policy next to an enforcing policy: the enforcing policy's default deny still drops", () => {
    const w = buildWorld([
      knp("prod", "enforcing", { podSelector: db, ingress: [{ from: [{ podSelector: { matchLabels: { app: "x" } } }] }] }),
      cnp("prod", "trial", { endpointSelector: db, ingressDeny: [{ fromEndpoints: [x], toPorts: [{ ports: [{ port: "22", protocol: "TCP" }] }] }, { fromEntities: ["world"] }] }, AUDIT),
    ]);
    const ep = w.result.state.get(w.ep("prod/db"));
    assert.equal(ep?.ingressMode, ENDPOINT_MODE.enforced);
    assert.deepEqual(ep?.defaultDenyBy.ingress.map((r) => r.name), ["trial", "enforcing"]); // CiliumNetworkPolicy sorts before NetworkPolicy
    // Allowed by the enforcing policy, denied by the audit one: AUDIT, forwarded.
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 22).verdict, "AUDIT");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 23).verdict, "FORWARDED");
    // Not allowed by anyone: dropped by the enforcing default deny, whatever the audit deny says.
    const world = w.at("prod/db", "ingress", WORLD, TCP, 22);
    assert.deepEqual([world.verdict, world.dropReason], ["DROPPED", 133]);
    assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 22).verdict, "DROPPED");
  });

  test("an enforcing deny is never masked by a more specific audit deny", () => {
    const w = buildWorld([
      cnp("prod", "enforcing", { endpointSelector: db, ingress: [{ fromEntities: ["all"] }], ingressDeny: [{ toPorts: [{ ports: [{ port: "80", protocol: "TCP" }] }] }] }),
      cnp("prod", "trial", { endpointSelector: db, ingressDeny: [{ fromEndpoints: [x], toPorts: [{ ports: [{ port: "0", protocol: "TCP" }] }] }] }, AUDIT),
    ]);
    const r80 = w.at("prod/db", "ingress", w.id("prod/client"), TCP, 80);
    assert.deepEqual([r80.verdict, r80.dropReason], ["DROPPED", 181]);
    assert.equal(w.result.ruleRefs.get(r80.ruleRef)?.name, "enforcing");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 81).verdict, "AUDIT");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 80).dropReason, 181);
    assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 81).verdict, "FORWARDED");
  });

  test("audit-only default deny next to an enforcing deny: misses are AUDIT, the enforcing deny drops", () => {
    const w = buildWorld([
      ccnp("guard", { endpointSelector: {}, enableDefaultDeny: { ingress: false }, ingressDeny: [{ fromEntities: ["world"] }] }),
      cnp("prod", "trial", { endpointSelector: db, ingress: [{ fromEndpoints: [x] }] }, AUDIT),
    ]);
    assert.equal(w.result.state.get(w.ep("prod/db"))?.ingressMode, ENDPOINT_MODE.audit);
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 1).verdict, "DROPPED");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/web"), TCP, 1).verdict, "AUDIT");
    assert.equal(w.at("prod/db", "ingress", w.id("prod/client"), TCP, 1).verdict, "FORWARDED");
  });

  test("an endpoint no policy selects shows no AUDIT", () => {
    const w = buildWorld([cnp("prod", "p", { endpointSelector: db, ingress: [{}] }, AUDIT)], { config: { auditMode: true } });
    assert.equal(w.at("prod/web", "ingress", WORLD, TCP, 80).reason, "not-enforced");
    assert.equal(w.at("prod/db", "ingress", WORLD, TCP, 80).verdict, "AUDIT");
  });
});
