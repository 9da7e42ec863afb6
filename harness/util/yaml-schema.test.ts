import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { InputError, parseYamlWithSchema } from "./yaml-schema.js";

const schema = z.strictObject({ spec: z.strictObject({ nodes: z.int(), items: z.array(z.strictObject({ name: z.string() })).optional() }) });

function problems(text: string): string[] {
  try {
    parseYamlWithSchema("c.yaml", text, schema);
    return [];
  } catch (err) {
    assert.ok(err instanceof InputError);
    return err.message.split("\n");
  }
}

test("unknown fields name file, line and full path; a typo is not also reported as a missing field", () => {
  assert.deepEqual(problems("spec:\n  nodes: 2\n  items:\n    - name: a\n    - nme: b\n"), ["c.yaml:5: spec.items[1].nme: unknown field"]);
  assert.deepEqual(problems("spec:\n  nodes: 2\n  items:\n    - {}\n"), ["c.yaml:4: spec.items[0].name: missing required field"]);
});

test("wrong types point at the value's line", () => {
  assert.deepEqual(problems("spec:\n\n  nodes: two\n"), ["c.yaml:3: spec.nodes: expected a number, got \"two\""]);
});

test("invalid YAML reports the parser's position", () => {
  const [first] = problems("spec:\n  nodes: [1, 2\n");
  assert.match(first ?? "", /^c\.yaml:\d+: /);
});
