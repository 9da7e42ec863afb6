import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { generatedSchemas, renderSchema, schemaDir } from "./export-schemas.js";

describe("exported JSON Schemas", () => {
  it("are committed and up to date (npm run schemas regenerates them)", () => {
    for (const [name, schema] of Object.entries(generatedSchemas())) {
      const committed = readFileSync(join(schemaDir(), name), "utf8");
      assert.equal(committed, renderSchema(schema), `${name} is stale: run npm run schemas`);
    }
  });

  it("describe strict objects, outcomes and the destination grammar", () => {
    const scenario = generatedSchemas()["scenario.schema.json"]!;
    const text = JSON.stringify(scenario);
    assert.equal(scenario.$schema, "http://json-schema.org/draft-07/schema#");
    assert.ok(text.includes('"additionalProperties":false'));
    assert.ok(text.includes('"const":"conform.dev/v1alpha1"'));
    assert.ok(text.includes('"L7_DENIED"'));
    const defs = scenario.definitions as Record<string, { description?: string }>;
    assert.match(defs.Destination!.description!, /world:<host\|203\.0\.113\.x>/);
    const report = generatedSchemas()["report.schema.json"]!;
    assert.ok(JSON.stringify(report).includes('"observability-disagrees"'));
  });
});
