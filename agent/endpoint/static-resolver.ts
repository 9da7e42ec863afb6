/**
 * An identity resolver that needs no API server: every pod gets the identity the given function
 * returns (by default the reserved `init` identity, as an endpoint whose labels are unknown).
 * Used by the CNI integration test and for running the CNI path on a node without a cluster.
 */
import { RESERVED_IDENTITY, RESERVED_LABEL } from "../identity/reserved.js";
import type { IdentityResolver, PodPresence, PodRef, ResolvedIdentity } from "./types.js";

export class StaticIdentityResolver implements IdentityResolver {
  readonly references = new Map<number, number>();

  constructor(
    private readonly identityOf: (pod: PodRef) => ResolvedIdentity = () => ({ id: RESERVED_IDENTITY.init, labels: { [RESERVED_LABEL.init]: "" } }),
    private readonly presence: (pod: PodRef) => PodPresence = () => "unknown",
  ) {}

  async resolve(pod: PodRef): Promise<ResolvedIdentity> {
    const r = this.identityOf(pod);
    this.references.set(r.id, (this.references.get(r.id) ?? 0) + 1);
    return r;
  }

  release(identityId: number): void {
    const n = this.references.get(identityId) ?? 0;
    if (n <= 1) this.references.delete(identityId);
    else this.references.set(identityId, n - 1);
  }

  async podPresence(pod: PodRef): Promise<PodPresence> {
    return this.presence(pod);
  }
}
