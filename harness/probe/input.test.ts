import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonErrorLocation, lineOf, parseBatchText, parseDropNotice, splitDocument } from "./input.js";
import { ProbeResultSchema, ProbeSchema } from "./schema.js";

test("a valid batch gets its defaults filled in", async () => {
  const parsed = await parseBatchText('[{"kind":"http","id":"a","host":"10.0.0.1"},{"kind":"dns","id":"b","name":"api.world.test"}]', "<stdin>");
  assert.ok(parsed.ok);
  const [a, b] = parsed.items;
  assert.deepEqual(a, { kind: "probe", probe: { kind: "http", id: "a", host: "10.0.0.1", port: 80, method: "GET", path: "/", timeoutMs: 2000 } });
  assert.deepEqual(b, { kind: "probe", probe: { kind: "dns", id: "b", name: "api.world.test", type: "A", transport: "udp", timeoutMs: 2000 } });
});

test("a bad probe becomes PROBE_ERROR naming input, line and field; the rest still runs", async () => {
  const text = ['[', '  {"kind": "tcp", "id": "ok", "host": "10.0.0.1", "port": 80},', '  {"kind": "tcp", "id": "bad",', '   "host": "10.0.0.1", "port": 70000}', ']'].join("\n");
  const parsed = await parseBatchText(text, "probes.json");
  assert.ok(parsed.ok);
  assert.equal(parsed.items[0]?.kind, "probe");
  const bad = parsed.items[1];
  assert.ok(bad?.kind === "invalid");
  assert.equal(bad.result.outcome, "PROBE_ERROR");
  assert.equal(bad.result.id, "bad");
  assert.equal(bad.result.kind, "tcp");
  assert.match(bad.result.detail, /probes\.json:4: \[1\]\.port: /);
  ProbeResultSchema.parse(bad.result);
});

test("unknown kinds, unknown fields, missing fields and duplicate ids are each named", async () => {
  const parsed = await parseBatchText(
    JSON.stringify([
      { kind: "sctp", id: "k" },
      { kind: "udp", id: "f", host: "10.0.0.1", port: 53, colour: "red" },
      { kind: "udp", host: "10.0.0.1" },
      { kind: "icmp", id: "d", host: "10.0.0.1" },
      { kind: "icmp", id: "d", host: "10.0.0.2" },
      { kind: "http", id: "h", host: "not a host!" },
      "nonsense",
    ]),
    "<stdin>",
  );
  assert.ok(parsed.ok);
  const details = parsed.items.map((it) => (it.kind === "invalid" ? `${it.result.id}: ${it.result.detail}` : "ok"));
  assert.match(details[0] ?? "", /^k: .*\[0\]\.kind: must be one of tcp, http, udp, dns, icmp/);
  assert.match(details[1] ?? "", /^f: .*\[1\]\.colour: unknown field colour/);
  assert.match(details[2] ?? "", /^#2: .*\[2\]\.id: missing required field.*\[2\]\.port: missing required field/);
  assert.equal(details[3], "ok");
  assert.match(details[4] ?? "", /^d: .*\[4\]\.id: duplicate id \(first used by \[3\]\)/);
  assert.match(details[5] ?? "", /\[5\]\.host: must be an IP address or a DNS name/);
  assert.match(details[6] ?? "", /^#6: /);
  assert.equal(parsed.items[0]?.kind === "invalid" && parsed.items[0].result.kind, null);
});

test("input that is not a JSON array is refused with a location", async () => {
  const broken = await parseBatchText('[\n  {"kind": "tcp",, }\n]', "<stdin>");
  assert.ok(!broken.ok);
  assert.match(broken.error, /^<stdin>:2:\d+: not valid JSON/);
  const notArray = await parseBatchText('{"kind": "tcp"}', "batch.json");
  assert.deepEqual(notArray, { ok: false, error: "batch.json:1: expected a JSON array of probes, got object" });
  assert.equal(jsonErrorLocation("ab\ncd", "Unexpected token at position 4"), ":2:2");
});

test("lineOf finds nested values and falls back to the nearest parent", async () => {
  const text = '[\n {"id": "a",\n  "headers": {"x": 1}}\n]';
  assert.equal(await lineOf(text, [0, "headers", "x"]), 3);
  assert.equal(await lineOf(text, [0, "missing"]), 2);
});

test("a document is complete once it parses and a newline followed; drop notices may follow it", async () => {
  assert.equal(splitDocument('[{"id":"a"}]'), undefined);
  assert.equal(splitDocument('[{"id":\n'), undefined);
  assert.deepEqual(splitDocument('[{"id":"a"}]\n'), { document: '[{"id":"a"}]\n', rest: "" });
  assert.deepEqual(splitDocument('[\n  {"id": "a"}\n]\n'), { document: '[\n  {"id": "a"}\n]\n', rest: "" });
  const notice = { dropped: { protocol: "TCP", source: { address: "10.244.0.5", port: 40412 }, destination: { address: "10.244.1.7", port: 80 }, reason: "POLICY_DENIED" } };
  const both = splitDocument(`[]\n${JSON.stringify(notice)}\n`);
  assert.equal(both?.document, "[]\n");
  assert.deepEqual(parseDropNotice(both!.rest.trim()), notice);
  assert.equal(parseDropNotice("not json"), undefined);
  assert.equal(parseDropNotice(JSON.stringify({ dropped: { ...notice.dropped, protocol: "ICMP" } })), undefined);
});

test("header names and server addresses are validated", async () => {
  assert.equal(ProbeSchema.safeParse({ kind: "http", id: "a", host: "h.test", headers: { "bad header": "x" } }).success, false);
  assert.equal(ProbeSchema.safeParse({ kind: "dns", id: "a", name: "h.test", server: "[fd00::1]:5353" }).success, true);
  assert.equal(ProbeSchema.safeParse({ kind: "dns", id: "a", name: "h.test", server: "10.0.0.1:99999" }).success, false);
  assert.equal(ProbeSchema.safeParse({ kind: "dns", id: "a", name: "10.0.0.1" }).success, false);
  assert.equal(ProbeSchema.safeParse({ kind: "icmp", id: "a", host: "h.test", sourcePort: 5 }).success, false);
});
