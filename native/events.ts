// Datapath events (struct cf_event) out of cf_events_v1.
import { EventFlag, EventType, Verdict } from "./abi.js";
import type { BpfMap } from "./bpf-map.js";
import { eventCodec, type CfEvent } from "./codecs.js";
import { dropReasonName } from "./drop-reasons.js";
import { RingBufferReader, type RecordBatch, type RingBufferOptions } from "./ringbuf.js";

export type { CfEvent };

/** Decode every record of a batch; records of another size are skipped and counted. */
export function decodeEventBatch(batch: RecordBatch, out: CfEvent[] = []): { events: CfEvent[]; skipped: number } {
  let skipped = 0;
  batch.forEachRecord((buf, offset, length) => {
    if (length !== eventCodec.size) {
      skipped++;
      return;
    }
    out.push(eventCodec.decode(buf, offset));
  });
  return { events: out, skipped };
}

/** Consume cf_events_v1 and deliver decoded events in batches. */
export function openEventReader(eventsMap: BpfMap, onEvents: (events: CfEvent[]) => void, opts: RingBufferOptions = {}): RingBufferReader {
  return RingBufferReader.open(eventsMap, (batch) => onEvents(decodeEventBatch(batch).events), opts);
}

const TYPE_NAMES: Record<number, string> = { [EventType.drop]: "drop", [EventType.trace]: "trace", [EventType.policyVerdict]: "policy-verdict" };
const VERDICT_NAMES: Record<number, string> = {
  [Verdict.forwarded]: "FORWARDED",
  [Verdict.dropped]: "DROPPED",
  [Verdict.audit]: "AUDIT",
  [Verdict.redirected]: "REDIRECTED",
};

export function isReply(e: CfEvent): boolean {
  return (e.flags & EventFlag.reply) !== 0;
}

/** One line for logs and test failure messages. */
export function describeEvent(e: CfEvent): string {
  const l4 = e.proto === 1 || e.proto === 58 ? `icmp ${e.icmpType}/${e.icmpCode}` : `${e.sport}->${e.dport}/${e.proto}`;
  const bits = [isReply(e) ? "reply" : "", e.flags & EventFlag.new ? "new" : "", e.flags & EventFlag.audit ? "audit" : ""].filter(Boolean).join(",");
  const reason = e.dropReason ? ` ${dropReasonName(e.dropReason)}` : "";
  return (
    `${TYPE_NAMES[e.type] ?? e.type} ${VERDICT_NAMES[e.verdict] ?? e.verdict}${reason} ${e.direction === 0 ? "ingress" : "egress"} ep=${e.epId} ` +
    `${e.saddr}(${e.srcIdentity}) -> ${e.daddr}(${e.dstIdentity}) ${l4} rule=${e.ruleRef} len=${e.pktLen}${bits ? ` [${bits}]` : ""}`
  );
}
