/**
 * Host-scope IPAM: pod addresses from this node's `spec.podCIDR`, with the state on disk so a
 * reservation survives an agent crash or restart.
 *
 * Layout of `dataDir` (the same idea as the reference host-local plugin):
 *   <ip>               one file per reserved address; content "<owner>\r\n<ifName>"
 *   last_reserved_ip   where the round-robin search resumes
 *
 * A reservation is claimed by writing a temp file and hard-linking it to `<ip>`: link() fails
 * with EEXIST when the name exists, so the claim is atomic across processes, and the file never
 * exists without its full content (a crash leaves at worst a stray temp file, removed on open).
 * The state is meant for /run (tmpfs): like the veths it describes, it need not survive a reboot.
 *
 * Reserved addresses: the network and broadcast addresses, and the first usable address, which
 * is the node's router (gateway) address: pods route everything to it, and the endpoint manager
 * puts it on the node's `cf_host` device (see agent/endpoint/README.md).
 * Addresses are handed out round-robin after the last one reserved, so a released address is
 * not reused at once (stale conntrack or ipcache entries of the previous pod age out first).
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cidrContains, formatCidr, ipv4ToNumber, numberToIpv4, parseIpv4Cidr } from "./ipv4.js";
import type { Ipv4Cidr } from "./ipv4.js";

export interface HostScopeIpamOptions {
  /** The node's pod CIDR, e.g. "10.244.1.0/24". */
  readonly cidr: string;
  /** Directory holding the reservations (created if missing). */
  readonly dataDir: string;
  /** Further addresses never handed out. */
  readonly reserved?: readonly string[];
}

export interface Lease {
  readonly ip: string;
  /** Who holds it: the CNI container id. */
  readonly owner: string;
  readonly ifName: string;
}

export class IpamExhaustedError extends Error {
  override name = "IpamExhaustedError";
}

const LAST_RESERVED = "last_reserved_ip";
const TMP_SUFFIX = ".tmp";

/**
 * No fsync: the guarantee needed is atomicity against an agent crash, which link()/rename() give.
 * Durability across a power loss would buy nothing — the veths and network namespaces the
 * reservations describe do not survive a reboot either (and the state belongs on /run, a tmpfs).
 */
function writeAtomicPart(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
}

export class HostScopeIpam {
  readonly cidr: Ipv4Cidr;
  /** First usable address: the node's router/gateway for its pods. */
  readonly routerIp: string;
  private readonly first: number;
  private readonly last: number;
  private readonly reserved: ReadonlySet<number>;
  private tmpSeq = 0;

  constructor(private readonly opts: HostScopeIpamOptions) {
    this.cidr = parseIpv4Cidr(opts.cidr, "IPAM pod CIDR");
    if (this.cidr.prefixLength > 30) throw new Error(`IPAM pod CIDR ${opts.cidr}: a /${this.cidr.prefixLength} leaves no address for pods (need /30 or larger)`);
    const router = this.cidr.network + 1;
    this.routerIp = numberToIpv4(router);
    this.first = router + 1;
    this.last = this.cidr.network + this.cidr.size - 2;
    this.reserved = new Set([router, ...(opts.reserved ?? []).map((ip) => ipv4ToNumber(ip))]);
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(opts.dataDir)) {
      if (name.endsWith(TMP_SUFFIX)) unlinkSync(join(opts.dataDir, name));
    }
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  /** The pool as text, e.g. "10.244.1.0/24". */
  get cidrText(): string {
    return formatCidr(this.cidr);
  }

  /** Addresses pods can get (the pool minus network, broadcast and reserved ones). */
  get capacity(): number {
    let n = this.last - this.first + 1;
    for (const r of this.reserved) if (r >= this.first && r <= this.last) n--;
    return n;
  }

  /**
   * Reserves an address for (owner, ifName). Idempotent: a second call for the same pair returns
   * the address it already holds. With `ip`, that exact address is claimed or an error thrown.
   */
  allocate(owner: string, ifName: string, opts: { ip?: string } = {}): Lease {
    if (!owner || /[\r\n]/.test(owner) || /[\r\n]/.test(ifName)) throw new Error(`IPAM: invalid owner "${owner}" / interface "${ifName}"`);
    const held = this.find(owner, ifName)[0];
    if (held && (!opts.ip || held.ip === opts.ip)) return held;
    if (opts.ip) {
      const n = ipv4ToNumber(opts.ip);
      if (!this.usable(n)) throw new Error(`IPAM: ${opts.ip} is not an assignable address of ${this.cidrText}`);
      if (!this.claim(n, owner, ifName)) throw new Error(`IPAM: ${opts.ip} is already reserved (${this.opts.dataDir})`);
      return { ip: opts.ip, owner, ifName };
    }
    const taken = new Set(this.leases().map((l) => ipv4ToNumber(l.ip)));
    const count = this.last - this.first + 1;
    const start = this.lastReserved();
    for (let i = 1; i <= count; i++) {
      const n = this.first + ((start - this.first + i) % count);
      if (taken.has(n) || this.reserved.has(n)) continue;
      if (this.claim(n, owner, ifName)) {
        this.setLastReserved(n);
        return { ip: numberToIpv4(n), owner, ifName };
      }
    }
    throw new IpamExhaustedError(`IPAM: no free address in ${this.cidrText} (${taken.size} of ${this.capacity} reserved, state in ${this.opts.dataDir})`);
  }

  /** Releases every address held by `owner` (optionally only for `ifName`); returns them. */
  release(owner: string, ifName?: string): string[] {
    const released: string[] = [];
    for (const lease of this.find(owner, ifName)) {
      this.releaseIp(lease.ip);
      released.push(lease.ip);
    }
    return released;
  }

  /** Releases one address whoever holds it; false if it was free. */
  releaseIp(ip: string): boolean {
    try {
      unlinkSync(join(this.opts.dataDir, ip));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }

  find(owner: string, ifName?: string): Lease[] {
    return this.leases().filter((l) => l.owner === owner && (ifName === undefined || l.ifName === ifName));
  }

  leaseOf(ip: string): Lease | undefined {
    return this.read(ip);
  }

  /** Every reservation inside the pool. */
  leases(): Lease[] {
    const out: Lease[] = [];
    for (const name of readdirSync(this.opts.dataDir)) {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(name)) continue;
      const lease = this.read(name);
      if (lease && cidrContains(this.cidr, ipv4ToNumber(name))) out.push(lease);
    }
    return out.sort((a, b) => ipv4ToNumber(a.ip) - ipv4ToNumber(b.ip));
  }

  private usable(n: number): boolean {
    return n >= this.first && n <= this.last && !this.reserved.has(n);
  }

  private read(ip: string): Lease | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.opts.dataDir, ip), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    const [owner = "", ifName = ""] = text.split("\r\n");
    return { ip, owner: owner.trim(), ifName: ifName.trim() };
  }

  /** Atomically creates `<ip>` with its content; false if someone holds it already. */
  private claim(n: number, owner: string, ifName: string): boolean {
    const ip = numberToIpv4(n);
    const tmp = join(this.opts.dataDir, `.${ip}.${process.pid}.${this.tmpSeq++}${TMP_SUFFIX}`);
    writeAtomicPart(tmp, `${owner}\r\n${ifName}`);
    try {
      linkSync(tmp, join(this.opts.dataDir, ip));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    } finally {
      unlinkSync(tmp);
    }
  }

  private lastReserved(): number {
    try {
      const n = ipv4ToNumber(readFileSync(join(this.opts.dataDir, LAST_RESERVED), "utf8").trim());
      if (n >= this.first && n <= this.last) return n;
    } catch {
      // Missing or unreadable: start from the beginning of the pool.
    }
    return this.first - 1;
  }

  private setLastReserved(n: number): void {
    const tmp = join(this.opts.dataDir, `.${LAST_RESERVED}.${process.pid}${TMP_SUFFIX}`);
    writeAtomicPart(tmp, numberToIpv4(n));
    renameSync(tmp, join(this.opts.dataDir, LAST_RESERVED));
  }
}
