/**
 * Loads bpf/endpoint.c once per agent, with its cf_* maps pinned per node under bpffs, so a
 * restarted agent (or a new program version) reuses the maps and with them the conntrack
 * state of live connections.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { BpfObject, ENDPOINT_GLOBALS, MAP_NAMES, TraceMode, bpfObjectPath, isBpffs, mountBpffs, type GlobalValue } from "../../native/index.js";

const pathSegment = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only (it names a bpffs directory)")
  .refine((s) => s !== "." && s !== "..", "must not be '.' or '..'");

export const datapathConfigSchema = z.strictObject({
  clusterName: pathSegment.default("default"),
  nodeName: pathSegment,
  /** Mount point of bpffs; mounted there when it is a plain directory. */
  bpffsRoot: z.string().startsWith("/").default("/sys/fs/bpf"),
  /** Override of `<bpffsRoot>/conform/<cluster>/<node>`. */
  pinDir: z.string().startsWith("/").optional(),
  /** Default: bpf/build/endpoint.o of this checkout. */
  objectPath: z.string().startsWith("/").optional(),
  /** Default: bpf/build/host.o of this checkout (the host firewall, loaded by attachHost). */
  hostObjectPath: z.string().startsWith("/").optional(),
  traceMode: z.enum(["every-packet", "first-per-connection", "none"]).default("first-per-connection"),
  allowIcmpFragNeeded: z.boolean().default(true),
  /** 0 = wake the event reader on every event. */
  eventWakeupBytes: z.number().int().nonnegative().optional(),
  ctLifetimeSeconds: z
    .strictObject({
      tcp: z.number().int().positive().optional(),
      syn: z.number().int().positive().optional(),
      close: z.number().int().positive().optional(),
      other: z.number().int().positive().optional(),
    })
    .optional(),
  /** max_entries by map name (applies when the map is first created; a pinned map keeps its size). */
  maxEntries: z.record(z.string(), z.number().int().positive()).optional(),
});
export type DatapathConfig = z.infer<typeof datapathConfigSchema>;
export type DatapathConfigInput = z.input<typeof datapathConfigSchema>;

const TRACE_MODES = { "every-packet": TraceMode.everyPacket, "first-per-connection": TraceMode.firstPerConnection, none: TraceMode.none } as const;

export function parseDatapathConfig(input: DatapathConfigInput, source = "datapath config"): DatapathConfig {
  const r = datapathConfigSchema.safeParse(input);
  if (!r.success) throw new TypeError(`${source}: ${r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  return r.data;
}

export function pinDirOf(cfg: DatapathConfig): string {
  return cfg.pinDir ?? join(cfg.bpffsRoot, "conform", cfg.clusterName, cfg.nodeName);
}

/** The `const volatile` knobs of endpoint.o for a config (only what the config sets). */
export function globalsOf(cfg: DatapathConfig): Record<string, GlobalValue> {
  const g: Record<string, GlobalValue> = {
    [ENDPOINT_GLOBALS.traceMode]: TRACE_MODES[cfg.traceMode],
    [ENDPOINT_GLOBALS.allowIcmpFragNeeded]: cfg.allowIcmpFragNeeded ? 1 : 0,
  };
  if (cfg.eventWakeupBytes !== undefined) g[ENDPOINT_GLOBALS.eventWakeupBytes] = cfg.eventWakeupBytes;
  const ct = cfg.ctLifetimeSeconds;
  if (ct?.tcp !== undefined) g[ENDPOINT_GLOBALS.ctLifetimeTcp] = ct.tcp;
  if (ct?.syn !== undefined) g[ENDPOINT_GLOBALS.ctLifetimeSyn] = ct.syn;
  if (ct?.close !== undefined) g[ENDPOINT_GLOBALS.ctLifetimeClose] = ct.close;
  if (ct?.other !== undefined) g[ENDPOINT_GLOBALS.ctLifetimeOther] = ct.other;
  return g;
}

export interface LoadedDatapath {
  readonly obj: BpfObject;
  readonly pinDir: string;
  /** Maps found pinned from a previous run (their content is resynced, not rebuilt). */
  readonly reusedMaps: readonly string[];
}

/** Make sure the pin directory exists on a bpffs, mounting bpffs on the root if needed. */
export function preparePinDir(cfg: DatapathConfig): string {
  const dir = pinDirOf(cfg);
  if (!existsSync(cfg.bpffsRoot)) throw new Error(`bpffs root ${cfg.bpffsRoot} does not exist`);
  if (!isBpffs(cfg.bpffsRoot)) mountBpffs(cfg.bpffsRoot);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!isBpffs(dir)) throw new Error(`pin directory ${dir} is not on a bpf filesystem`);
  return dir;
}

/**
 * Load bpf/endpoint.o (`which: "endpoint"`) or bpf/host.o (`"host"`). Both pin the same maps in
 * the same directory, so the second load reuses the first's maps: one policy table, conntrack
 * and ring buffer for pods and host.
 */
export function loadDatapathObject(cfg: DatapathConfig, which: "endpoint" | "host" = "endpoint"): LoadedDatapath {
  const pinDir = preparePinDir(cfg);
  const objectPath = which === "host" ? (cfg.hostObjectPath ?? bpfObjectPath("host")) : (cfg.objectPath ?? bpfObjectPath("endpoint"));
  const obj = BpfObject.load(objectPath, {
    pinDir,
    pinMaps: (name) => (Object.values(MAP_NAMES) as string[]).includes(name),
    globals: globalsOf(cfg),
    maxEntries: cfg.maxEntries ?? {},
  });
  return { obj, pinDir, reusedMaps: obj.pinnedMaps.filter((m) => m.reused).map((m) => m.name) };
}
