// Writes the JSON Schemas of the Scenario spec and the JSON report (`npm run schemas`), so editors
// (yaml-language-server: `# yaml-language-server: $schema=...`) validate and complete specs.
// The files are generated from the zod schemas; a unit test fails when they are stale.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { runReportSchema } from "../report/model.js";
import { scenarioSchema } from "./schema.js";

const SCHEMA_BASE = "https://conform.dev/schemas";

function toJsonSchema(schema: z.ZodType, id: string, title: string): Record<string, unknown> {
  // draft-07 is what most editors' YAML/JSON language servers understand best.
  const json = z.toJSONSchema(schema, { target: "draft-7", io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { $schema: json.$schema, $id: `${SCHEMA_BASE}/${id}`, title, ...json };
}

/** File name → schema document. */
export function generatedSchemas(): Record<string, Record<string, unknown>> {
  return {
    "scenario.schema.json": toJsonSchema(scenarioSchema, "scenario.schema.json", "conform Scenario (conform.dev/v1alpha1)"),
    "report.schema.json": toJsonSchema(runReportSchema, "report.schema.json", "conform JSON report (schemaVersion 1)"),
  };
}

export function renderSchema(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** The source folder the schemas are committed in (this file runs from dist/). */
export function schemaDir(): string {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
  return join(repoRoot, "harness", "spec", "schema");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = schemaDir();
  mkdirSync(dir, { recursive: true });
  for (const [name, schema] of Object.entries(generatedSchemas())) {
    writeFileSync(join(dir, name), renderSchema(schema));
    console.log(`wrote ${join(dir, name)}`);
  }
}
