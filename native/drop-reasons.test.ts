import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DROP_REASONS, dropReasonName, dropReasonText } from "./drop-reasons.js";
import { repoRoot } from "./paths.js";

function headerTable(): Array<{ code: number; name: string; text: string }> {
  const src = readFileSync(join(repoRoot(), "bpf", "lib", "drop.h"), "utf8");
  const rows = [...src.matchAll(/^\s*X\((\w+), (\d+), "((?:[^"\\]|\\.)*)"\)/gm)];
  return rows.map((m) => ({ name: m[1] ?? "", code: Number(m[2]), text: (m[3] ?? "").replace(/\\(.)/g, "$1") }));
}

test("the TS drop-reason table mirrors bpf/lib/drop.h row for row", () => {
  const header = headerTable();
  assert.ok(header.length > 50, `parsed only ${header.length} rows from drop.h`);
  assert.deepEqual(
    DROP_REASONS.map((r) => ({ code: r.code, name: r.name, text: r.text })),
    header,
  );
});

test("codes are unique and in Hubble's drop range", () => {
  const codes = DROP_REASONS.map((r) => r.code);
  assert.equal(new Set(codes).size, codes.length);
  for (const c of codes) assert.ok(c >= 130 && c <= 255, `code ${c} must fit the 130..255 drop range (u8 subtype)`);
});

test("policy reasons and unknown codes are named as Hubble names them", () => {
  assert.equal(dropReasonName(133), "POLICY_DENIED");
  assert.equal(dropReasonText(133), "Policy denied");
  assert.equal(dropReasonName(181), "POLICY_DENY");
  assert.equal(dropReasonText(181), "Policy denied by denylist");
  assert.equal(dropReasonText(136), "Fragmentation needed");
  assert.equal(dropReasonName(159), "159");
  assert.equal(dropReasonText(159), "159, 0");
});
