// Writing a volume's files the way a pod may read them at any moment: each file is written to a
// temporary name and renamed into place, so a reader sees the old or the new content, never half.
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";

export interface VolumeFile {
  /** Relative path inside the volume (no `..`). */
  readonly path: string;
  readonly content: string | Buffer;
  readonly mode: number;
}

export function checkRelativePath(path: string): string {
  const n = posix.normalize(path);
  if (posix.isAbsolute(path) || n === ".." || n.startsWith("../") || n === ".") throw new Error(`volume item path ${JSON.stringify(path)} must be relative and stay inside the volume`);
  return n;
}

export function writeVolumeFile(dir: string, file: VolumeFile): void {
  const target = join(dir, checkRelativePath(file.path));
  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `..${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, file.content, { mode: file.mode });
  chmodSync(tmp, file.mode);
  renameSync(tmp, target);
}

/** Writes every file, then removes top-level entries no longer present (a key dropped from a ConfigMap). */
export function syncVolumeFiles(dir: string, files: readonly VolumeFile[]): void {
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeVolumeFile(dir, f);
  const keep = new Set(files.map((f) => checkRelativePath(f.path).split("/")[0]));
  for (const entry of readdirSync(dir)) if (!keep.has(entry)) rmSync(join(dir, entry), { recursive: true, force: true });
}
