/**
 * The node's health endpoint, after Cilium's cilium-health: an endpoint in its own network
 * namespace with an address from this node's pod CIDR and the reserved identity `health` (4),
 * answering HTTP on 4240. Policies reach it with `toEntities: [health]`; CNPs never select it
 * (their subject is bound to a namespace), a CCNP `endpointSelector: {}` does
 * (policy-semantics.md §2.3).
 *
 * It goes through the EndpointManager like a pod: the record on disk keeps its endpoint id and
 * address across agent restarts (restore re-attaches it, a repeated ADD of the same attachment
 * returns it unchanged), the datapath attaches the endpoint programs, and the CiliumEndpoint
 * `kube-system/cilium-health-<node>` (identity 4) tells the other agents' ipcaches and the harness
 * where it is. Only the responder process is tied to the agent's lifetime; the netns, veth and
 * record stay, as a pod's do, and go with the node.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { RESERVED_IDENTITY, RESERVED_LABEL } from "../identity/reserved.js";
import type { EndpointManager } from "../endpoint/manager.js";
import { ip } from "../endpoint/link-ops.js";
import { EndpointError } from "../endpoint/errors.js";
import type { IdentityResolver, PodPresence, PodRef, ResolvedIdentity } from "../endpoint/types.js";
import type { Logger } from "../k8s/log.js";
import { errorMessage } from "../k8s/log.js";

/** Cilium's health port. */
export const HEALTH_PORT = 4240;
/** The attachment key of the health endpoint (a CNI container id no runtime uses). */
export const HEALTH_CONTAINER_ID = "cilium-health";
export const HEALTH_IFNAME = "eth0";
export const HEALTH_NAMESPACE = "kube-system";
const NETNS_DIR = "/run/netns";

/** Where the health endpoint's CiliumEndpoint lives: `kube-system/cilium-health-<node>`. */
export function healthPodRef(nodeName: string): PodRef {
  return { namespace: HEALTH_NAMESPACE, name: `cilium-health-${nodeName}` };
}

export const HEALTH_IDENTITY: ResolvedIdentity = { id: RESERVED_IDENTITY.health, labels: { [RESERVED_LABEL.health]: "" } };

/** An endpoint that has no Pod behind it and a fixed reserved identity. */
export interface ReservedEndpoint {
  readonly pod: PodRef;
  readonly identity: ResolvedIdentity;
}

/**
 * The resolver the EndpointManager uses, taught the reserved endpoints: they resolve to their
 * identity without an API call, always count as present (restore keeps them), and hold no
 * allocator reference (reserved identities are never allocated).
 */
export function withReservedEndpoints(inner: IdentityResolver, reserved: readonly ReservedEndpoint[]): IdentityResolver {
  if (reserved.length === 0) return inner;
  const find = (pod: PodRef) => reserved.find((r) => r.pod.namespace === pod.namespace && r.pod.name === pod.name);
  const reservedIds = new Set(reserved.map((r) => r.identity.id));
  return {
    resolve: async (pod: PodRef): Promise<ResolvedIdentity> => find(pod)?.identity ?? inner.resolve(pod),
    release: (id: number): void => {
      if (!reservedIds.has(id)) inner.release(id);
    },
    podPresence: async (pod: PodRef): Promise<PodPresence> => (find(pod) ? "present" : inner.podPresence(pod)),
  };
}

/** Creates the named netns unless it is live; a stale mount point left by a crash is replaced. */
export async function ensureNetns(name: string): Promise<string> {
  const path = join(NETNS_DIR, name);
  const live = existsSync(path) && (await ip(["-n", name, "link", "show", "lo"]).then(() => true, () => false));
  if (!live) {
    if (existsSync(path)) await ip(["netns", "delete", name]).catch(() => undefined);
    await ip(["netns", "add", name]).catch(async (err: unknown) => {
      // Two starts at once: the other one created it.
      if (!existsSync(path)) throw err;
    });
  }
  await ip(["-n", name, "link", "set", "lo", "up"]);
  return path;
}

export interface HealthEndpointOptions {
  readonly manager: EndpointManager;
  readonly nodeName: string;
  readonly netnsName: string;
  readonly port: number;
  readonly log: Logger;
  /** How long to wait for the first responder to listen before start returns anyway. */
  readonly readyTimeoutMs?: number;
}

export interface HealthEndpoint {
  readonly ipv4: string;
  readonly netns: string;
  readonly endpointId: number;
  /** Stops the responder; the endpoint stays (see the module comment). */
  stop(): Promise<void>;
}

const RESPONDER_MAIN = join(dirname(fileURLToPath(import.meta.url)), "responder-main.js");
const RESTART_DELAYS_MS = [500, 1000, 2000, 5000, 10_000];

/** Keeps one responder running in the netns until stopped; restarts it with backoff if it dies. */
class ResponderSupervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly firstReady: Promise<boolean>;
  private markReady: (ok: boolean) => void = () => undefined;

  constructor(
    private readonly netnsPath: string,
    private readonly port: number,
    private readonly nodeName: string,
    private readonly log: Logger,
  ) {
    this.firstReady = new Promise((resolve) => (this.markReady = resolve));
    this.spawn();
  }

  ready(timeoutMs: number): Promise<boolean> {
    return Promise.race([this.firstReady, new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref())]);
  }

  private spawn(): void {
    // stdin stays an open pipe: its end is how the responder learns that the agent is gone.
    const child = spawn("nsenter", [`--net=${this.netnsPath}`, "--", process.execPath, RESPONDER_MAIN, "--port", String(this.port), "--node", this.nodeName], { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (line.startsWith("ready")) {
        this.failures = 0;
        this.markReady(true);
        this.log.info("health responder listening", { netns: this.netnsPath, port: this.port, pid: child.pid ?? 0 });
      }
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.on("error", (err) => this.log.error("health responder failed to start", { error: errorMessage(err) }));
    child.on("exit", (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      const delay = RESTART_DELAYS_MS[Math.min(this.failures++, RESTART_DELAYS_MS.length - 1)]!;
      this.log.error("health responder exited; restarting", { code: code ?? -1, signal: signal ?? "", stderr: stderr.trim(), retryMs: delay });
      this.timer = setTimeout(() => this.spawn(), delay);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.markReady(false);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin?.end();
    child.kill("SIGTERM");
    const killTimer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(killTimer);
  }
}

/**
 * Makes sure the health endpoint exists (netns, attachment, CEP) and starts its responder.
 * Idempotent across restarts: the same attachment key gives back the recorded endpoint.
 */
export async function startHealthEndpoint(opts: HealthEndpointOptions): Promise<HealthEndpoint> {
  const netns = await ensureNetns(opts.netnsName);
  const pod = healthPodRef(opts.nodeName);
  await opts.manager.add({ containerId: HEALTH_CONTAINER_ID, ifName: HEALTH_IFNAME, netns, pod });
  const ep = opts.manager.findByAttachment(HEALTH_CONTAINER_ID, HEALTH_IFNAME);
  if (!ep) throw new EndpointError("io", "the health endpoint is missing right after it was added");
  const responder = new ResponderSupervisor(netns, opts.port, opts.nodeName, opts.log);
  if (!(await responder.ready(opts.readyTimeoutMs ?? 15_000))) opts.log.warn("the health responder is not listening yet", { netns, port: opts.port });
  opts.log.info("health endpoint ready", { ep: ep.id, ip: ep.ipv4, netns, port: opts.port });
  return { ipv4: ep.ipv4, netns, endpointId: ep.id, stop: () => responder.stop() };
}
