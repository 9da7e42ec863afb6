/**
 * Endpoints: one per pod attachment (CNI container id + interface). The record is what the
 * agent persists per endpoint and what the datapath hook and the CiliumEndpoint publisher get.
 */
import { z } from "zod";
import { ENDPOINT_STATES, NAMED_PORT_PROTOCOLS } from "../deploy/crds/vocabulary.js";
import type { Labels } from "../identity/labels.js";

export const MIN_ENDPOINT_ID = 1;
export const MAX_ENDPOINT_ID = 65535;

export const podRefSchema = z.object({
  namespace: z.string().min(1),
  name: z.string().min(1),
  uid: z.string().optional(),
});
export type PodRef = z.infer<typeof podRefSchema>;

export const namedPortSchema = z.object({
  name: z.string(),
  port: z.number().int().min(0).max(65535),
  protocol: z.enum(NAMED_PORT_PROTOCOLS),
});
export type NamedPort = z.infer<typeof namedPortSchema>;

export const endpointRecordSchema = z.object({
  version: z.literal(1),
  /** Endpoint id, unique on the node (1..65535): `ep_id` in the BPF maps. */
  id: z.number().int().min(MIN_ENDPOINT_ID).max(MAX_ENDPOINT_ID),
  /** CNI_CONTAINERID. */
  containerId: z.string().min(1),
  /** CNI_IFNAME: the interface inside the pod. */
  ifName: z.string().min(1),
  /** CNI_NETNS at ADD time (a path). */
  netns: z.string(),
  /** Node-side veth: `lxc<12 hex>`; its ifindex keys `cf_endpoints_v1`. 0 until the veth exists. */
  hostIfName: z.string().min(1),
  hostIfIndex: z.number().int().nonnegative(),
  hostMac: z.string(),
  podMac: z.string(),
  ipv4: z.string(),
  /** The node's router address: the pod's default gateway. */
  gateway: z.string(),
  pod: podRefSchema,
  identity: z.object({ id: z.number().int().nonnegative(), labels: z.record(z.string(), z.string()) }),
  serviceAccount: z.string().optional(),
  namedPorts: z.array(namedPortSchema).default([]),
  state: z.enum(ENDPOINT_STATES),
  /** Policy revision the datapath last realised for the endpoint (published in the CEP). */
  policyRevision: z.number().int().nonnegative().default(0),
  createdAt: z.string(),
});
export type EndpointRecord = z.infer<typeof endpointRecordSchema>;

/** What the datapath and the publisher see: an immutable snapshot of the record. */
export type Endpoint = Readonly<EndpointRecord>;

/**
 * The datapath side of an endpoint (implemented by the datapath writer; `NoopDatapath` in tests).
 *
 * - `attachEndpoint(ep)`: called once the veth exists and is configured, before CNI ADD returns,
 *   and again after an agent restart (restore) and whenever the endpoint's identity changes — an
 *   upsert: attach the tc programs to `ep.hostIfIndex` if needed, (re)write `cf_endpoints_v1`.
 * - `detachEndpoint(ep)`: on CNI DEL (and when restore drops an endpoint), before the veth is
 *   deleted; must tolerate a device that is already gone.
 *
 * A rejection fails the CNI ADD (the endpoint is rolled back) and is logged on DEL.
 */
export interface DatapathHook {
  attachEndpoint(ep: Endpoint): Promise<void>;
  detachEndpoint(ep: Endpoint): Promise<void>;
}

/** Does nothing; for tests and for running the control side before the datapath exists. */
export class NoopDatapath implements DatapathHook {
  readonly attached = new Map<number, Endpoint>();
  async attachEndpoint(ep: Endpoint): Promise<void> {
    this.attached.set(ep.id, ep);
  }
  async detachEndpoint(ep: Endpoint): Promise<void> {
    this.attached.delete(ep.id);
  }
}

export interface ResolvedIdentity {
  readonly id: number;
  readonly labels: Labels;
  readonly serviceAccount?: string;
  /** The pod's UID as the API reports it (owner reference of the CiliumEndpoint). */
  readonly podUid?: string;
  readonly namedPorts?: readonly NamedPort[];
}

export type PodPresence = "present" | "gone" | "unknown";

/** Turns a pod into its security identity (a reference to it is held until `release`). */
export interface IdentityResolver {
  resolve(pod: PodRef): Promise<ResolvedIdentity>;
  release(identityId: number): void;
  /** Whether the pod still exists (restore drops endpoints of pods that are gone). */
  podPresence(pod: PodRef): Promise<PodPresence>;
}

/** Publishes endpoint state to the cluster (CiliumEndpoint) so other agents build their ipcache. */
export interface EndpointPublisher {
  publish(ep: Endpoint): Promise<void>;
  unpublish(ep: Endpoint): Promise<void>;
}

export class NoopPublisher implements EndpointPublisher {
  async publish(): Promise<void> {}
  async unpublish(): Promise<void> {}
}
