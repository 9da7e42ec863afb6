/**
 * Sample custom objects for the CRD tests (testdata/good: must be accepted; testdata/bad: must be
 * refused). A bad file names each field the API server must report in a header comment line
 * `# expect: <field path>`, written the way Kubernetes prints paths (`spec.ingress[0].toPorts`).
 * The lead's API-server test can reuse these files and expectations as they are.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CRD_DIRECTORY } from "./index.js";

export interface Fixture {
  file: string;
  object: Record<string, unknown>;
  /** Field paths the API server must name; empty for good fixtures. */
  expectedErrorPaths: string[];
}

export const FIXTURE_DIRECTORIES = {
  good: join(CRD_DIRECTORY, "testdata", "good"),
  bad: join(CRD_DIRECTORY, "testdata", "bad"),
} as const;

const EXPECT_LINE = /^#\s*expect:\s*(\S+)\s*$/;

export function loadFixtures(kind: keyof typeof FIXTURE_DIRECTORIES): Fixture[] {
  const dir = FIXTURE_DIRECTORIES[kind];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((name) => {
      const file = join(dir, name);
      const text = readFileSync(file, "utf8");
      const docs = parseAllDocuments(text);
      if (!Array.isArray(docs) || docs.length !== 1 || docs[0]!.errors.length > 0) {
        throw new Error(`${file}: expected exactly one well-formed YAML document`);
      }
      const expectedErrorPaths = text
        .split("\n")
        .map((line) => EXPECT_LINE.exec(line)?.[1])
        .filter((p): p is string => p !== undefined);
      if (kind === "bad" && expectedErrorPaths.length === 0) throw new Error(`${file}: a bad fixture needs "# expect: <path>"`);
      if (kind === "good" && expectedErrorPaths.length > 0) throw new Error(`${file}: a good fixture cannot expect errors`);
      return { file, object: docs[0]!.toJS() as Record<string, unknown>, expectedErrorPaths };
    });
}
