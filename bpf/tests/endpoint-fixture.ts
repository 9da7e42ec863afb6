// Loads bpf/endpoint.c's object with private (unpinned) maps and gives tests typed access to
// its maps and events. Used by the test-run tests, the netns end-to-end test and the bench.
import { setTimeout as sleep } from "node:timers/promises";
import { MAP_NAMES, ENDPOINT_PROGRAMS, MetricCode, metricsIndex, type Direction } from "../../native/abi.js";
import { PerCpuTypedMap, TypedMap } from "../../native/bpf-map.js";
import { BpfObject, type GlobalValue, type LoadOptions } from "../../native/bpf-object.js";
import {
  ctEntryCodec,
  ctKeyCodec,
  endpointCodec,
  ipcacheKey,
  ipcacheKeyCodec,
  ipcacheValueCodec,
  metricsValueCodec,
  policyKeyCodec,
  policyValueCodec,
  u32Codec,
  type CfCtEntry,
  type CfCtKey,
  type CfEndpoint,
  type CfEvent,
  type CfIpcacheKey,
  type CfIpcacheValue,
  type CfMetricsValue,
  type CfPolicyKey,
  type CfPolicyValue,
} from "../../native/codecs.js";
import { openEventReader } from "../../native/events.js";
import { bpfObjectPath } from "../../native/paths.js";
import type { RingBufferReader } from "../../native/ringbuf.js";
import { skbContext, testRun } from "../../native/test-run.js";

export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;

export interface FixtureOptions {
  globals?: Record<string, GlobalValue>;
  maxEntries?: LoadOptions["maxEntries"];
  /** Consume events (default true). */
  events?: boolean;
  /** Pin the cf_*_v1 maps here (bpffs), so another object (bpf/host.o) can share them. */
  pinDir?: string;
}

export class EndpointFixture {
  readonly obj: BpfObject;
  readonly endpoints: TypedMap<number, CfEndpoint>;
  readonly ipcache: TypedMap<CfIpcacheKey, CfIpcacheValue>;
  readonly policy: TypedMap<CfPolicyKey, CfPolicyValue>;
  readonly ct: TypedMap<CfCtKey, CfCtEntry>;
  readonly metrics: PerCpuTypedMap<number, CfMetricsValue>;
  readonly events: CfEvent[] = [];
  #taken = 0;
  #reader: RingBufferReader | undefined;

  constructor(opts: FixtureOptions = {}) {
    const pinning = opts.pinDir ? { pinDir: opts.pinDir, pinMaps: Object.values(MAP_NAMES) } : {};
    this.obj = BpfObject.load(bpfObjectPath("endpoint"), { globals: opts.globals ?? {}, maxEntries: opts.maxEntries ?? {}, ...pinning });
    this.endpoints = new TypedMap(this.obj.map(MAP_NAMES.endpoints), u32Codec, endpointCodec);
    this.ipcache = new TypedMap(this.obj.map(MAP_NAMES.ipcache), ipcacheKeyCodec, ipcacheValueCodec);
    this.policy = new TypedMap(this.obj.map(MAP_NAMES.policy), policyKeyCodec, policyValueCodec);
    this.ct = new TypedMap(this.obj.map(MAP_NAMES.conntrack), ctKeyCodec, ctEntryCodec);
    this.metrics = new PerCpuTypedMap(this.obj.map(MAP_NAMES.metrics), u32Codec, metricsValueCodec);
    if (opts.events !== false) {
      this.#reader = openEventReader(this.obj.map(MAP_NAMES.events), (evs) => this.events.push(...evs), { keepAlive: false });
    }
  }

  get reader(): RingBufferReader | undefined {
    return this.#reader;
  }

  setEndpoint(ifindex: number, ep: Partial<CfEndpoint> & { epId: number; identity: number }): void {
    this.endpoints.set(ifindex, { ipv4: "0.0.0.0", ingressMode: 0, egressMode: 0, flags: 0, policyRevision: 0n, ...ep });
  }

  setIdentity(cidr: string, identity: number, tunnelEndpoint = "0.0.0.0"): void {
    this.ipcache.set(ipcacheKey(cidr), { identity, tunnelEndpoint, flags: 0 });
  }

  /** Run the program for a direction on a frame, as if on the device with this ifindex. */
  run(direction: Direction, data: Buffer, ifindex = 1): number {
    const name = direction === 1 ? ENDPOINT_PROGRAMS.fromEndpoint.name : ENDPOINT_PROGRAMS.toEndpoint.name;
    return testRun(this.obj.program(name), { data, ctx: skbContext({ ifindex }) }).retval;
  }

  /** Wait until the ring buffer is drained and quiet, then return the events since the last call. */
  async takeEvents(quietMs = 30): Promise<CfEvent[]> {
    let last = -1;
    for (let waited = 0; waited < 3000; waited += quietMs) {
      await sleep(quietMs);
      const records = this.#reader?.stats().records ?? 0;
      if (records === last && this.events.length >= records) break;
      last = records;
    }
    const out = this.events.slice(this.#taken);
    this.#taken = this.events.length;
    return out;
  }

  /** Counter summed over CPUs. */
  counter(direction: Direction, code: number): CfMetricsValue {
    const slots = this.metrics.get(metricsIndex(direction, code)) ?? [];
    return slots.reduce((a, s) => ({ packets: a.packets + s.packets, bytes: a.bytes + s.bytes }), { packets: 0n, bytes: 0n });
  }

  lostEvents(): bigint {
    return this.counter(0, MetricCode.lostEvents).packets + this.counter(1, MetricCode.lostEvents).packets;
  }

  close(): void {
    this.#reader?.close();
    this.obj.close();
  }
}
