import { test } from "node:test";
import assert from "node:assert/strict";
import { batchArgs, batchStdin, defaultDeadlineMs, resolvedOptions, resultsFromRun } from "./executor.js";
import type { ProbeInput, ProbeResult } from "./schema.js";
import { BATCH_API_VERSION } from "./schema.js";

const probes: ProbeInput[] = [
  { kind: "tcp", id: "a", host: "10.0.0.1", port: 80 },
  { kind: "dns", id: "b", name: "api.world.test" },
];

function result(id: string, outcome: ProbeResult["outcome"]): ProbeResult {
  return {
    id,
    kind: "tcp",
    outcome,
    detail: "",
    source: { address: "10.0.0.2", port: 30000 },
    destination: { address: "10.0.0.1", port: 80 },
    timings: { startedAt: "2026-01-01T00:00:00.000Z", startMs: 0, totalMs: 1 },
  };
}

function doc(results: ProbeResult[], error?: string): string {
  return JSON.stringify({ apiVersion: BATCH_API_VERSION, pod: { name: "p", namespace: "n", node: "x" }, startedAt: "t", durationMs: 1, results, ...(error ? { error } : {}) });
}

const base = { what: "test run", stderr: "", ended: "exit 0" };

test("a good document maps back to the probes, by position and id", () => {
  const out = resultsFromRun(probes, { ...base, stdout: doc([result("b", "DNS_FAILED"), result("a", "ALLOWED")]) });
  assert.deepEqual(out.map((r) => [r.id, r.outcome]), [["a", "ALLOWED"], ["b", "DNS_FAILED"]]);
});

test("a crash makes every probe PROBE_ERROR with the stderr tail", () => {
  const stderr = `${"x".repeat(5000)}\nTypeError: boom at main.js:1`;
  const out = resultsFromRun(probes, { ...base, stdout: "", stderr, ended: "exit 1" });
  assert.equal(out.length, 2);
  for (const r of out) {
    assert.equal(r.outcome, "PROBE_ERROR");
    assert.match(r.detail, /ended \(exit 1\) without a valid JSON document; no output; stderr: …x+\nTypeError: boom/);
    assert.ok(r.detail.length < 2300);
  }
  assert.deepEqual(out.map((r) => r.kind), ["tcp", "dns"]);
});

test("invalid JSON, a foreign document, a refused input, a hang: all PROBE_ERROR, never TIMEOUT", () => {
  const cases = [
    resultsFromRun(probes, { ...base, stdout: '{"results": [' }),
    resultsFromRun(probes, { ...base, stdout: '{"hello": "world"}' }),
    resultsFromRun(probes, { ...base, stdout: doc([], "<stdin>:1:2: not valid JSON"), ended: "exit 2" }),
    resultsFromRun(probes, { ...base, stdout: "", ended: "killed by SIGKILL", timedOutAfterMs: 12000 }),
    resultsFromRun(probes, { ...base, stdout: "", ended: "not started", startError: "spawn ip ENOENT" }),
  ];
  const details = cases.map((c) => c[0]?.detail ?? "");
  for (const c of cases) assert.deepEqual(c.map((r) => r.outcome), ["PROBE_ERROR", "PROBE_ERROR"]);
  assert.match(details[0] ?? "", /without a valid JSON document; stdout: \{"results": \[/);
  assert.match(details[1] ?? "", /not a batch result \(apiVersion: /);
  assert.match(details[2] ?? "", /refused its input: <stdin>:1:2: not valid JSON/);
  assert.match(details[3] ?? "", /did not finish within 12000 ms/);
  assert.match(details[4] ?? "", /could not start .*spawn ip ENOENT/);
});

test("a probe missing from the output is PROBE_ERROR", () => {
  const out = resultsFromRun(probes, { ...base, stdout: doc([result("a", "TIMEOUT")]) });
  assert.deepEqual(out.map((r) => [r.id, r.outcome]), [["a", "TIMEOUT"], ["b", "PROBE_ERROR"]]);
  assert.match(out[1]?.detail ?? "", /returned no result for this probe/);
});

test("the default deadline leaves every wave of probes its full timeout", () => {
  const many: ProbeInput[] = Array.from({ length: 40 }, (_, i) => ({ kind: "tcp", id: `p${i}`, host: "10.0.0.1", port: 80, timeoutMs: i === 0 ? 5000 : 100 }));
  assert.equal(defaultDeadlineMs(many, 16), 3 * 6000 + 2000);
  assert.deepEqual(resolvedOptions(many, { concurrency: 40 }), { concurrency: 40, deadlineMs: 8000 });
  assert.deepEqual(batchArgs({ concurrency: 4, deadlineMs: 900 }), ["batch", "--concurrency", "4", "--deadline-ms", "900"]);
  assert.ok(batchStdin(many).endsWith("]\n"));
  assert.equal(batchStdin(many).indexOf("\n"), batchStdin(many).length - 1);
});
