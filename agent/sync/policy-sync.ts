/**
 * Policy sync: policy objects (last good form each, via applyPolicyEvent) + identities + this
 * node's endpoints → compilePolicies → the datapath. The first apply after start is a full
 * state (the datapath requires it: only a full state says which left-over entries are stale),
 * later ones diffs. Every apply that changes something bumps the datapath's revision; endpoints
 * that realised it get it recorded (EndpointManager.setPolicyRevision → CiliumEndpoint status).
 *
 * A policy that fails to parse is reported (log line + `onRejected`, which the agent turns into
 * a Kubernetes Event) and leaves its previous form in force (policy-semantics.md §13).
 */
import { renameSync, writeFileSync } from "node:fs";
import type { PolicyApplyReport } from "../datapath/index.js";
import type { Endpoint } from "../endpoint/types.js";
import { applyPolicyEvent, collectCidrPrefixes, compilePolicies, diffPolicyStates } from "../policy/index.js";
import type { EngineConfigInput, HostEndpointInput, IdentityInput, PolicyDiff, PolicyProblem, PolicyRef, PolicyState, PolicyStore, RuleRefTable, EndpointInput } from "../policy/index.js";
import { policyRefKey } from "../policy/index.js";
import type { Logger } from "../k8s/log.js";
import { errorMessage } from "../k8s/log.js";
import type { CidrIdentity } from "./cidr-identities.js";
import { CidrIdentityAllocator } from "./cidr-identities.js";
import { DebouncedTask } from "./debounced-task.js";

/** What policy sync needs of the datapath (the real `Datapath` satisfies it). */
export interface PolicyDatapath {
  applyPolicy(input: PolicyDiff | PolicyState): PolicyApplyReport;
  realizedRevision(epId: number): number | undefined;
}

export interface PolicySyncOptions {
  readonly datapath: PolicyDatapath;
  readonly engine: EngineConfigInput;
  /** This node's attached endpoints. */
  readonly endpoints: () => readonly Endpoint[];
  /**
   * This node's host endpoint (host firewall: the subject of CCNP nodeSelector rules), read at
   * every compile so Node label changes apply. Absent/undefined = host policies select nothing.
   */
  readonly host?: () => HostEndpointInput | undefined;
  /** Cluster-wide identities (CiliumIdentities; reserved ones are built into the engine). */
  readonly identities: () => readonly IdentityInput[];
  /** Record a realised revision for an endpoint (not awaited: it takes the endpoint's lock). */
  readonly recordRevision?: (epId: number, revision: number) => void;
  /** The CIDR identity set changed: make the ipcache hold it before the policy using it lands. */
  readonly onCidrIdentities?: (ids: readonly CidrIdentity[]) => Promise<void> | void;
  readonly onRejected?: (object: unknown, ref: PolicyRef, problems: readonly PolicyProblem[]) => void;
  /** JSON status written after every apply (tests and `conform` tooling wait on it). */
  readonly statusFile?: string;
  readonly debounceMs?: number;
  readonly log: Logger;
}

/** What `statusFile` holds. */
export interface PolicySyncStatus {
  readonly revision: number;
  /** policyRefKey → resourceVersion of the form in force. */
  readonly policies: Record<string, string>;
  /** policyRefKey → resourceVersion of the last rejected update and its first error. */
  readonly rejected: Record<string, { resourceVersion: string; error: string }>;
  /** epId → pod and realised revision. */
  readonly endpoints: Record<string, { pod: string; revision: number | null }>;
  readonly applies: number;
}

/** What the last apply put in force. */
export interface CompiledPolicy {
  readonly state: PolicyState;
  readonly ruleRefs: RuleRefTable;
  /** The datapath revision this compile's apply left behind. */
  readonly revision: number;
  /** The policies this compile read: policyRefKey → resourceVersion (what "realized" means for waiters). */
  readonly policies: ReadonlyMap<string, string>;
}

export function endpointInput(ep: Endpoint): EndpointInput {
  const namedPorts: Record<string, { port: number; protocol: "TCP" | "UDP" | "SCTP" }> = {};
  for (const p of ep.namedPorts) if (p.name && p.port >= 1 && p.protocol !== "ANY") namedPorts[p.name.toLowerCase()] = { port: p.port, protocol: p.protocol };
  return { epId: ep.id, namespace: ep.pod.namespace, podName: ep.pod.name, identity: ep.identity.id, labels: ep.identity.labels, namedPorts };
}

export class PolicySync {
  #store: PolicyStore = new Map();
  #previous: CompiledPolicy | undefined;
  readonly #cidr: CidrIdentityAllocator;
  readonly #task: DebouncedTask;
  readonly #rejected = new Map<string, { resourceVersion: string; error: string }>();
  /** Last report per (ref, resourceVersion): one Event per bad update, not one per resync. */
  readonly #reported = new Set<string>();
  #revision = 0;
  #applies = 0;
  #lastError: string | undefined;

  constructor(private readonly opts: PolicySyncOptions) {
    this.#cidr = new CidrIdentityAllocator({ dualStack: opts.engine.dualStack ?? false });
    this.#task = new DebouncedTask(() => this.#compileAndApply(), opts.debounceMs ?? 75, (err) => {
      this.#lastError = errorMessage(err);
      opts.log.error("policy apply failed; the previous policy stays in force", { error: this.#lastError });
    });
  }

  get revision(): number {
    return this.#revision;
  }

  get started(): boolean {
    return this.#previous !== undefined;
  }

  get store(): PolicyStore {
    return this.#store;
  }

  cidrIdentities(): CidrIdentity[] {
    return this.#cidr.list();
  }

  /**
   * The last compile that reached the datapath (state + rule refs), for the flow observer and
   * the agent API; undefined before the first apply. Replaced, never mutated, on each apply.
   */
  get compiled(): CompiledPolicy | undefined {
    return this.#previous;
  }

  /** Policies whose last update was rejected: policyRefKey → first error (the previous form, if any, stays). */
  rejected(): ReadonlyMap<string, { resourceVersion: string; error: string }> {
    return this.#rejected;
  }

  upsert(object: unknown): void {
    const r = applyPolicyEvent(this.#store, { type: "upsert", object });
    const key = policyRefKey(r.ref);
    const rv = (object as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion ?? "";
    const errors = r.problems.filter((p) => p.severity === "error");
    if (r.outcome === "applied") {
      this.#rejected.delete(key);
      for (const w of r.problems) this.opts.log.warn("policy warning", { policy: key, path: w.path, problem: w.message });
    } else {
      const first = errors[0];
      this.#rejected.set(key, { resourceVersion: rv, error: first ? `${first.path}: ${first.message}` : "invalid" });
      const once = `${key}@${rv}`;
      if (!this.#reported.has(once)) {
        this.#reported.add(once);
        this.opts.log.error(r.outcome === "rejected-kept-previous" ? "policy update rejected; its previous form stays in force" : "policy rejected; not enforced", {
          policy: key,
          resourceVersion: rv,
          problems: errors.map((p) => `${p.path}: ${p.message}`).join("; "),
        });
        this.opts.onRejected?.(object, r.ref, errors);
      }
    }
    this.#store = r.store;
    this.trigger();
  }

  remove(ref: PolicyRef): void {
    const key = policyRefKey(ref);
    this.#rejected.delete(key);
    this.#store = applyPolicyEvent(this.#store, { type: "delete", ref }).store;
    this.trigger();
  }

  /** Something the compile reads changed: recompile after the debounce delay. */
  trigger(): void {
    this.#task.trigger();
  }

  /** Compile and apply now (after a run in progress); resolves when done (errors are logged). */
  flush(): Promise<void> {
    return this.#task.flush();
  }

  stop(): Promise<void> {
    return this.#task.stop();
  }

  async #compileAndApply(): Promise<void> {
    const policies = [...this.#store.values()];
    if (this.#cidr.sync(collectCidrPrefixes(policies))) await this.opts.onCidrIdentities?.(this.#cidr.list());
    const endpoints = this.opts.endpoints();
    const identities: IdentityInput[] = [...this.opts.identities(), ...this.#cidr.list().map((c) => ({ id: c.id, labels: c.labels }))];
    const host = this.opts.host?.();
    const result = compilePolicies({
      ...(host ? { host } : {}),
      config: this.opts.engine,
      policies,
      endpoints: endpoints.filter((e) => e.identity.id >= 1).map(endpointInput),
      identities,
      ...(this.#previous ? { previousRuleRefs: this.#previous.ruleRefs } : {}),
    });
    for (const p of result.problems) if (p.severity === "error") this.opts.log.warn("policy compile problem", { policy: policyRefKey(p.policy), path: p.path, problem: p.message });
    const report = this.#previous ? this.opts.datapath.applyPolicy(diffPolicyStates(this.#previous.state, result.state)) : this.opts.datapath.applyPolicy(result.state);
    this.#previous = {
      state: result.state,
      ruleRefs: result.ruleRefs,
      revision: report.revision,
      policies: new Map(policies.map((p) => [policyRefKey(p.ref), p.resourceVersion ?? ""])),
    };
    this.#applies++;
    this.#lastError = undefined;
    if (report.revision !== this.#revision) {
      this.opts.log.info("policy applied", { revision: report.revision, policies: policies.length, endpoints: endpoints.length, upserted: report.upserted, deleted: report.deleted });
    }
    this.#revision = report.revision;
    const epStatus: PolicySyncStatus["endpoints"] = {};
    for (const ep of endpoints) {
      const realized = this.opts.datapath.realizedRevision(ep.id);
      epStatus[String(ep.id)] = { pod: `${ep.pod.namespace}/${ep.pod.name}`, revision: realized ?? null };
      if (realized !== undefined && realized !== ep.policyRevision) this.opts.recordRevision?.(ep.id, realized);
    }
    if (this.opts.statusFile) {
      const status: PolicySyncStatus = {
        revision: this.#revision,
        policies: Object.fromEntries(policies.map((p) => [policyRefKey(p.ref), p.resourceVersion ?? ""])),
        rejected: Object.fromEntries(this.#rejected),
        endpoints: epStatus,
        applies: this.#applies,
      };
      const tmp = `${this.opts.statusFile}.tmp`;
      writeFileSync(tmp, JSON.stringify(status, null, 2) + "\n");
      renameSync(tmp, this.opts.statusFile);
    }
  }
}
