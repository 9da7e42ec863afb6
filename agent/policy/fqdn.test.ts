import { test } from "node:test";
import assert from "node:assert/strict";
import { fqdnSelectorMatches, normalizeFqdnSelector } from "./fqdn.js";

const cases: Array<[string, string[], string[]]> = [
  ["example.com", ["example.com", "EXAMPLE.com."], ["www.example.com"]],
  ["*.example.com", ["a.example.com"], ["example.com", "a.b.example.com"]],
  ["*example.com", ["example.com", "subexample.com"], ["www.example.com"]],
  ["sub*.example.com", ["sub.example.com", "subway.example.com"], ["www.example.com"]],
  ["*", ["anything.at.all", "x"], []],
  ["**.example.com", ["a.example.com", "a.b.example.com"], ["example.com"]],
];

for (const [pattern, yes, no] of cases) {
  test(`pattern ${pattern}`, () => {
    for (const n of yes) assert.equal(fqdnSelectorMatches(pattern, n), true, `${pattern} ~ ${n}`);
    for (const n of no) assert.equal(fqdnSelectorMatches(pattern, n), false, `${pattern} !~ ${n}`);
  });
}

test("selector normalisation", () => {
  assert.deepEqual(normalizeFqdnSelector({ matchName: "API.Example.com" }), { ok: true, text: "api.example.com." });
  assert.equal(normalizeFqdnSelector({}).ok, false);
  assert.equal(normalizeFqdnSelector({ matchName: "a*.com" }).ok, false);
});
