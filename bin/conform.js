#!/usr/bin/env node
// Thin launcher: the CLI is compiled by `npm run build` (setup.sh runs it).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../dist/harness/cli/main.js", import.meta.url));
if (!existsSync(main)) {
  console.error("conform: not built yet; run ./setup.sh (or npm run build) first");
  process.exit(2);
}
await import(main);
