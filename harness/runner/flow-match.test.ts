import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { flowFacts, flowsForProbe, matchesAnyFilter, matchesFilter, probeTuple } from "./flow-match.js";
import { flow, probeResult, T0 } from "./testdata/fixtures.js";

const SLACK = 1000;

describe("matching flows to a probe's connection", () => {
  const probe = probeResult({ outcome: "TIMEOUT" }); // 10.244.0.5:40412 -> 10.244.1.7:8080/TCP, [T0, T0+3000]
  const tuple = probeTuple(probe)!;

  test("the tuple comes from the probe's bound source and its destination", () => {
    assert.deepEqual(tuple, {
      sourceIp: "10.244.0.5",
      sourcePort: 40412,
      destinationIp: "10.244.1.7",
      destinationPort: 8080,
      protocol: "TCP",
      startMs: T0,
      endMs: T0 + 3000,
      translatedDestination: false,
    });
  });

  test("each element of the 5-tuple must match", () => {
    const exact = flow({ verdict: "DROPPED" });
    assert.deepEqual(flowsForProbe([exact], tuple, SLACK), [exact]);
    const others = [
      flow({ verdict: "DROPPED", src: "10.244.0.6" }),
      flow({ verdict: "DROPPED", sport: 40413 }),
      flow({ verdict: "DROPPED", dst: "10.244.1.8" }),
      flow({ verdict: "DROPPED", dport: 8081 }),
      flow({ verdict: "DROPPED", proto: "UDP" }),
    ];
    for (const other of others) assert.deepEqual(flowsForProbe([other], tuple, SLACK), [], JSON.stringify(flowFacts(other)));
  });

  test("replies match with the tuple reversed, and only as replies", () => {
    const reply = flow({ verdict: "FORWARDED", isReply: true, src: "10.244.1.7", sport: 8080, dst: "10.244.0.5", dport: 40412 });
    assert.deepEqual(flowsForProbe([reply], tuple, SLACK), [reply]);
    const notReply = flow({ verdict: "FORWARDED", isReply: false, src: "10.244.1.7", sport: 8080, dst: "10.244.0.5", dport: 40412 });
    assert.deepEqual(flowsForProbe([notReply], tuple, SLACK), []);
    // Drops leave is_reply unset: either direction may match.
    const unknownDirection = flow({ verdict: "DROPPED", src: "10.244.1.7", sport: 8080, dst: "10.244.0.5", dport: 40412 });
    assert.deepEqual(flowsForProbe([unknownDirection], tuple, SLACK), [unknownDirection]);
  });

  test("only flows inside the probe's time window (plus slack) match", () => {
    const before = flow({ verdict: "DROPPED", atMs: -SLACK - 1 });
    const earlyInSlack = flow({ verdict: "DROPPED", atMs: -SLACK + 1 });
    const lateInSlack = flow({ verdict: "DROPPED", atMs: 3000 + SLACK - 1 });
    const after = flow({ verdict: "DROPPED", atMs: 3000 + SLACK + 1 });
    assert.deepEqual(flowsForProbe([before, earlyInSlack, lateInSlack, after], tuple, SLACK), [earlyInSlack, lateInSlack]);
  });

  test("a flow without a parsable time never matches", () => {
    const f = flow({ verdict: "DROPPED", extra: { time: "yesterday" } });
    assert.deepEqual(flowsForProbe([f], tuple, SLACK), []);
  });

  test("service probes match on the source side only: the destination is translated to a backend", () => {
    const serviceProbe = probeResult({ outcome: "ALLOWED", destination: { address: "10.96.0.20", port: 80 } });
    const toBackend = flow({ verdict: "FORWARDED", isReply: false, dst: "10.244.1.7", dport: 8080 });
    assert.deepEqual(flowsForProbe([toBackend], probeTuple(serviceProbe)!, SLACK), []);
    assert.deepEqual(flowsForProbe([toBackend], probeTuple(serviceProbe, true)!, SLACK), [toBackend]);
  });

  test("UDP and DNS probes use UDP; a DNS probe over TCP uses TCP", () => {
    assert.equal(probeTuple(probeResult({ outcome: "ALLOWED", kind: "udp" }))?.protocol, "UDP");
    const dnsExchange = (transport: "udp" | "tcp") => ({
      name: "world.conform.test",
      type: "A",
      server: { address: "203.0.113.53", port: 53 },
      source: { address: "10.244.0.5", port: 40412 },
      transport,
      rcode: "NOERROR",
      answers: [],
    });
    assert.equal(probeTuple(probeResult({ outcome: "ALLOWED", kind: "dns", dns: dnsExchange("udp") }))?.protocol, "UDP");
    assert.equal(probeTuple(probeResult({ outcome: "ALLOWED", kind: "dns", dns: dnsExchange("tcp") }))?.protocol, "TCP");
    // A host name that never resolved: the DNS query is the connection that happened.
    const unresolved = probeResult({ outcome: "DNS_FAILED", kind: "http", destination: { address: null, port: null }, source: { address: null, port: null }, dns: dnsExchange("udp") });
    assert.deepEqual(
      (({ sourceIp, sourcePort, destinationIp, destinationPort, protocol }) => ({ sourceIp, sourcePort, destinationIp, destinationPort, protocol }))(probeTuple(unresolved)!),
      { sourceIp: "10.244.0.5", sourcePort: 40412, destinationIp: "203.0.113.53", destinationPort: 53, protocol: "UDP" },
    );
  });

  test("a probe that never had a socket has no tuple", () => {
    assert.equal(probeTuple(probeResult({ outcome: "PROBE_ERROR", source: { address: null, port: null }, destination: { address: null, port: null } })), undefined);
  });
});

describe("FlowQuery filters (Hubble FlowFilter semantics)", () => {
  const f = flow({ verdict: "DROPPED", src: "10.244.0.5", dst: "10.244.1.7", dport: 8080 });

  test("every given field must match; any entry of a list may", () => {
    assert.ok(matchesFilter(f, {}));
    assert.ok(matchesFilter(f, { sourceIp: ["10.244.9.9", "10.244.0.5"], verdict: ["DROPPED"] }));
    assert.ok(!matchesFilter(f, { sourceIp: ["10.244.0.5"], verdict: ["FORWARDED"] }));
    assert.ok(matchesFilter(f, { destinationPort: [8080], protocol: ["TCP"] }));
    assert.ok(!matchesFilter(f, { protocol: ["UDP"] }));
  });

  test("filters combine with OR, and no filters match everything", () => {
    assert.ok(matchesAnyFilter(f, undefined));
    assert.ok(matchesAnyFilter(f, []));
    assert.ok(matchesAnyFilter(f, [{ sourceIp: ["1.1.1.1"] }, { destinationIp: ["10.244.1.7"] }]));
    assert.ok(!matchesAnyFilter(f, [{ sourceIp: ["1.1.1.1"] }, { destinationIp: ["1.1.1.1"] }]));
  });
});
