/**
 * What the observer needs to know about the node to turn a datapath event into a flow. The
 * agent implements it over its endpoint manager, identity cache and compiled policy; tests pass
 * plain objects. Every method is a synchronous lookup: decoding happens on the event path.
 */
import type { Labels } from "../identity/labels.js";
import type { PolicyRef, RuleRefInfo } from "../policy/types.js";

export type PolicyDirectionName = "ingress" | "egress";

/** An endpoint as flows show it. `labels` is the identity label set (`{"k8s:app": "x"}`). */
export interface ObservedEndpoint {
  /** Endpoint id; set only for endpoints on this node (Hubble's `ID`). */
  readonly epId?: number;
  readonly identity?: number;
  readonly namespace?: string;
  readonly podName?: string;
  readonly labels?: Labels;
  readonly workloads?: ReadonlyArray<{ readonly name: string; readonly kind: string }>;
  readonly clusterName?: string;
}

/** A rule reference as the policy engine describes it (a subset of its RuleRefInfo). */
export type ObservedRule = Pick<RuleRefInfo, "kind" | "namespace" | "name" | "direction" | "ruleIndex"> & {
  readonly uid?: string;
};

/** A policy object that puts an endpoint into default deny (the engine's `defaultDenyBy` entries). */
export type ObservedPolicy = PolicyRef & { readonly uid?: string };

export interface ObserverContext {
  /** Node name as flows print it (`<cluster>/<node>` outside the default cluster). */
  readonly nodeName: string;
  /** A local endpoint by its id (the `ep_id` of the event). */
  endpointById(epId: number): ObservedEndpoint | undefined;
  /** Any endpoint (local or remote pod) by address; undefined for addresses outside the cluster. */
  endpointByIP(ip: string): ObservedEndpoint | undefined;
  /** Labels of a security identity (reserved, CIDR, pod identities of other nodes). */
  identityLabels(identity: number): Labels | undefined;
  /** What a `rule_ref` stands for; undefined for 0 and for refs the agent no longer knows. */
  ruleRef(id: number): ObservedRule | undefined;
  /**
   * Every rule ref that produced the matched entry's verdict (the entry's `origins`), so a key
   * allowed by two policies names both. Optional: without it only `rule_ref` is named.
   */
  ruleOrigins?(epId: number, direction: PolicyDirectionName, ruleRef: number): readonly number[];
  /** Policies that put this endpoint into default deny in this direction (EndpointPolicy.defaultDenyBy). */
  defaultDenyBy(epId: number, direction: PolicyDirectionName): readonly ObservedPolicy[];
  /** Revision of the policy repository, for Hubble's `Policy.revision`. */
  policyRevision?(): number;
  /** Whether the packet crossed nodes encrypted; the WireGuard manager fills this in later. */
  encrypted?(event: { saddr: string; daddr: string; epId: number; direction: number }): boolean;
}
