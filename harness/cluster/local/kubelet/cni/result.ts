// CNI plugin output: the success result (spec 1.0 "Section 5", with the 0.1/0.2 ip4/ip6 shape
// still accepted) and the error object plugins print on failure.

export interface CniIPConfig {
  /** CIDR notation, e.g. 10.244.1.5/24. */
  readonly address: string;
  readonly gateway?: string;
  /** Index into `interfaces`. */
  readonly interface?: number;
}

export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  /** Set for interfaces inside the container's netns; empty/absent for host-side ones. */
  readonly sandbox?: string;
}

export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces: readonly CniInterface[];
  readonly ips: readonly CniIPConfig[];
  /** The JSON exactly as the plugin printed it; chained to the next plugin and cached for DEL/CHECK. */
  readonly raw: Record<string, unknown>;
}

export class CniResultError extends Error {
  override name = "CniResultError";
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function parseCniResult(stdout: string, plugin = "plugin"): CniResult {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new CniResultError(`${plugin} printed a result that is not JSON: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  if (!isObject(doc)) throw new CniResultError(`${plugin} printed a result that is not a JSON object`);
  const cniVersion = typeof doc["cniVersion"] === "string" ? doc["cniVersion"] : "";
  const interfaces: CniInterface[] = [];
  if (Array.isArray(doc["interfaces"])) {
    for (const [i, itf] of doc["interfaces"].entries()) {
      if (!isObject(itf) || typeof itf["name"] !== "string") throw new CniResultError(`${plugin} result: interfaces[${i}] has no name`);
      interfaces.push({
        name: itf["name"],
        ...(typeof itf["mac"] === "string" ? { mac: itf["mac"] } : {}),
        ...(typeof itf["sandbox"] === "string" ? { sandbox: itf["sandbox"] } : {}),
      });
    }
  }
  const ips: CniIPConfig[] = [];
  if (Array.isArray(doc["ips"])) {
    for (const [i, ip] of doc["ips"].entries()) {
      if (!isObject(ip) || typeof ip["address"] !== "string" || !ip["address"].includes("/"))
        throw new CniResultError(`${plugin} result: ips[${i}].address must be an address in CIDR notation`);
      ips.push({
        address: ip["address"],
        ...(typeof ip["gateway"] === "string" ? { gateway: ip["gateway"] } : {}),
        ...(typeof ip["interface"] === "number" ? { interface: ip["interface"] } : {}),
      });
    }
  }
  // Spec 0.1/0.2 results carry one address per family and no interface list.
  for (const family of ["ip4", "ip6"] as const) {
    const legacy = doc[family];
    if (isObject(legacy) && typeof legacy["ip"] === "string")
      ips.push({ address: legacy["ip"], ...(typeof legacy["gateway"] === "string" ? { gateway: legacy["gateway"] } : {}) });
  }
  return { cniVersion, interfaces, ips, raw: doc };
}

/**
 * The pod's addresses: those on interfaces inside the sandbox (a ptp result also lists the
 * host-side veth), IPv4 first as the kubelet orders dual-stack podIPs.
 */
export function podIPsFromResult(result: CniResult): string[] {
  const inSandbox = (ip: CniIPConfig) => {
    if (ip.interface === undefined) return true;
    const itf = result.interfaces[ip.interface];
    return itf === undefined || (itf.sandbox ?? "") !== "";
  };
  const addrs = result.ips.filter(inSandbox).map((ip) => ip.address.split("/")[0] ?? "");
  const unique = [...new Set(addrs.filter((a) => a.length > 0))];
  return [...unique.filter((a) => !a.includes(":")), ...unique.filter((a) => a.includes(":"))];
}

/** The error a plugin reports: spec code (1–99 reserved, 100+ plugin-specific), msg, details. */
export interface CniErrorInfo {
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

/** Reads the error object from a failed plugin's stdout, falling back to stderr / exit status. */
export function parseCniError(stdout: string, stderr: string, exitCode: number | null, signal: string | null): CniErrorInfo {
  try {
    const doc: unknown = JSON.parse(stdout);
    if (isObject(doc) && (typeof doc["msg"] === "string" || typeof doc["code"] === "number")) {
      return {
        code: typeof doc["code"] === "number" ? doc["code"] : 0,
        msg: typeof doc["msg"] === "string" ? doc["msg"] : "",
        ...(typeof doc["details"] === "string" && doc["details"] !== "" ? { details: doc["details"] } : {}),
      };
    }
  } catch {
    // Not JSON: the plugin crashed or is not a CNI plugin; stderr is the best evidence.
  }
  const text = (stderr.trim() || stdout.trim()).split("\n").slice(-3).join(" | ");
  const how = signal ? `killed by ${signal}` : `exit status ${exitCode ?? "?"}`;
  return { code: 999, msg: text ? `${how}: ${text}` : how };
}
