// The agent's version as `/v1/status` reports it: the package version, read once at start.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../native/index.js";

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

export const AGENT_VERSION = readVersion();
