/**
 * Endpoint records on disk: `<dir>/ep-<id>.json`, one per endpoint. The file name is the endpoint
 * id, so claiming an id is the same atomic temp-file + link() as an IPAM reservation, and updates
 * are temp-file + rename(): a crash never leaves a half-written record.
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../k8s/log.js";
import { silentLogger } from "../k8s/log.js";
import { endpointRecordSchema, MAX_ENDPOINT_ID, MIN_ENDPOINT_ID } from "./types.js";
import type { EndpointRecord } from "./types.js";

const FILE_RE = /^ep-(\d+)\.json$/;
const TMP_SUFFIX = ".tmp";

// No fsync, as in IPAM: atomic against agent crashes is what matters; after a power loss the
// endpoints' veths are gone anyway and restore drops their records.
function writeWhole(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

export class EndpointIdsExhaustedError extends Error {
  override name = "EndpointIdsExhaustedError";
}

export class EndpointRecordStore {
  private nextId = MIN_ENDPOINT_ID;
  private seq = 0;

  constructor(
    readonly dir: string,
    private readonly log: Logger = silentLogger,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir)) if (name.endsWith(TMP_SUFFIX)) unlinkSync(join(dir, name));
    const ids = this.ids();
    // Continue after the highest id in use, so a freed id is not handed out again at once
    // (stale per-endpoint datapath state of the previous owner must not apply to a new pod).
    if (ids.length > 0) this.nextId = (Math.max(...ids) % MAX_ENDPOINT_ID) + 1;
  }

  private path(id: number): string {
    return join(this.dir, `ep-${id}.json`);
  }

  private tmp(): string {
    return join(this.dir, `.ep.${process.pid}.${this.seq++}${TMP_SUFFIX}`);
  }

  ids(): number[] {
    return readdirSync(this.dir)
      .map((n) => FILE_RE.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number);
  }

  /** Claims a free id and stores `make(id)` under it, atomically. */
  create(make: (id: number) => EndpointRecord): EndpointRecord {
    const span = MAX_ENDPOINT_ID - MIN_ENDPOINT_ID + 1;
    for (let i = 0; i < span; i++) {
      const id = MIN_ENDPOINT_ID + ((this.nextId - MIN_ENDPOINT_ID + i) % span);
      const record = make(id);
      const tmp = this.tmp();
      writeWhole(tmp, JSON.stringify(record, null, 1));
      try {
        linkSync(tmp, this.path(id));
        this.nextId = (id % MAX_ENDPOINT_ID) + 1;
        return record;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      } finally {
        unlinkSync(tmp);
      }
    }
    throw new EndpointIdsExhaustedError(`no free endpoint id in ${MIN_ENDPOINT_ID}..${MAX_ENDPOINT_ID} (${this.dir})`);
  }

  update(record: EndpointRecord): void {
    const tmp = this.tmp();
    writeWhole(tmp, JSON.stringify(record, null, 1));
    renameSync(tmp, this.path(record.id));
  }

  remove(id: number): void {
    try {
      unlinkSync(this.path(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  /**
   * Every readable record. A file that does not parse is renamed to `*.corrupt` (kept for a
   * post-mortem, out of the way of the id space) and reported, never silently trusted.
   */
  list(): EndpointRecord[] {
    const out: EndpointRecord[] = [];
    for (const id of this.ids().sort((a, b) => a - b)) {
      const file = this.path(id);
      let problem: string;
      try {
        const parsed = endpointRecordSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
        if (parsed.success && parsed.data.id === id) {
          out.push(parsed.data);
          continue;
        }
        problem = parsed.success ? `id field ${parsed.data.id} does not match the file name` : `${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        problem = (err as Error).message;
      }
      this.log.error("endpoint record unreadable; moved aside", { file, problem });
      renameSync(file, `${file}.corrupt`);
    }
    return out;
  }
}
