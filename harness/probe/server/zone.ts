// Test zones for the probe server's authoritative DNS: a small YAML or JSON file, e.g.
//
//   zone: world.test            # origin; names outside every loaded zone get REFUSED
//   ttl: 30                     # optional, seconds
//   records:
//     "@": 203.0.113.1          # the apex
//     api: 203.0.113.10         # relative to the origin
//     multi.world.test: [203.0.113.11, 203.0.113.12]   # absolute (ends in the origin)
//     v6: "2001:db8::10"        # IPv6 values become AAAA records
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";

const LABEL_RE = /^(@|\*|[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?)$/;
const address = z.string().refine((s) => isIP(s) !== 0, { message: "must be an IPv4 or IPv6 address" });

export const ZoneFileSchema = z.strictObject({
  zone: z.string().regex(/^[A-Za-z0-9_.-]+\.?$/, { message: "must be a domain name such as world.test" }),
  ttl: z.number().int().min(0).max(86400).default(30),
  records: z.record(
    z.string().refine((n) => n.replace(/\.$/, "").split(".").every((l) => LABEL_RE.test(l)), { message: "must be a DNS name or @" }),
    z.union([address, z.array(address).min(1)]),
  ),
});

export interface ZoneRecords {
  A: string[];
  AAAA: string[];
}

export interface Zone {
  /** Lower case, no trailing dot. */
  origin: string;
  ttl: number;
  /** Fully qualified lower-case names (no trailing dot) → addresses. */
  names: Map<string, ZoneRecords>;
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

function qualify(name: string, origin: string): string {
  if (name === "@") return origin;
  if (name.endsWith(".")) return normalise(name);
  const n = normalise(name);
  return n === origin || n.endsWith(`.${origin}`) ? n : `${n}.${origin}`;
}

export function zoneFromData(data: z.output<typeof ZoneFileSchema>): Zone {
  const origin = normalise(data.zone);
  const names = new Map<string, ZoneRecords>();
  for (const [rawName, value] of Object.entries(data.records)) {
    const fqdn = qualify(rawName, origin);
    const rec = names.get(fqdn) ?? { A: [], AAAA: [] };
    for (const ip of Array.isArray(value) ? value : [value]) (isIP(ip) === 4 ? rec.A : rec.AAAA).push(ip);
    names.set(fqdn, rec);
  }
  return { origin, ttl: data.ttl, names };
}

/** Parses zone text; errors name the file, line and field. */
export function parseZoneText(text: string, file: string): Zone {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e?.linePos?.[0]?.line;
    throw new Error(`${file}${line ? `:${line}` : ""}: ${e?.message ?? "cannot parse"}`);
  }
  const parsed = ZoneFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = (issue?.path ?? []).filter((k): k is string | number => typeof k !== "symbol");
    if (issue?.code === "unrecognized_keys" && issue.keys[0]) path.push(issue.keys[0]);
    let line: number | undefined;
    for (let depth = path.length; depth >= 0 && line === undefined; depth--) {
      const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) line = lineCounter.linePos(node.range[0]).line;
    }
    const field = path.map((k) => (typeof k === "number" ? `[${k}]` : k)).join(".") || "(top level)";
    throw new Error(`${file}${line ? `:${line}` : ""}: ${field}: ${issue?.message ?? "invalid zone"}`);
  }
  return zoneFromData(parsed.data);
}

export async function loadZoneFile(file: string): Promise<Zone> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`${file}: cannot read zone file: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseZoneText(text, file);
}

export type ZoneAnswer =
  | { rcode: "REFUSED" }
  | { rcode: "NOERROR" | "NXDOMAIN"; zone: Zone; answers: { type: "A" | "AAAA"; data: string }[] };

/** Authoritative lookup across the loaded zones (the longest matching origin wins). */
export function lookupZone(zones: readonly Zone[], qname: string, qtype: string): ZoneAnswer {
  const name = normalise(qname);
  const zone = zones
    .filter((z) => name === z.origin || name.endsWith(`.${z.origin}`))
    .sort((a, b) => b.origin.length - a.origin.length)[0];
  if (!zone) return { rcode: "REFUSED" };
  const rec = zone.names.get(name);
  if (!rec) {
    // A name with names below it exists (empty non-terminal): NODATA, not NXDOMAIN.
    const isParent = name === zone.origin || [...zone.names.keys()].some((n) => n.endsWith(`.${name}`));
    return { rcode: isParent ? "NOERROR" : "NXDOMAIN", zone, answers: [] };
  }
  const answers: { type: "A" | "AAAA"; data: string }[] = [];
  if (qtype === "A" || qtype === "ANY") for (const ip of rec.A) answers.push({ type: "A", data: ip });
  if (qtype === "AAAA" || qtype === "ANY") for (const ip of rec.AAAA) answers.push({ type: "AAAA", data: ip });
  return { rcode: "NOERROR", zone, answers };
}
