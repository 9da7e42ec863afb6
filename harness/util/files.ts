import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";

/** The last `bytes` of a file (logs can be megabytes); empty when it does not exist. */
export function readTail(file: string, bytes = 4000): string {
  if (!existsSync(file)) return "";
  const fd = openSync(file, "r");
  try {
    const size = statSync(file).size;
    const buf = Buffer.alloc(Math.min(bytes, size));
    const n = readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
}
