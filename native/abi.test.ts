import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CtFlag,
  CtState,
  Direction,
  EndpointFlag,
  EnforcementMode,
  EventFlag,
  EventType,
  IPCACHE_PREFIX_BASE,
  IpcacheFlag,
  METRICS_SIZE,
  MetricCode,
  PolicyAction,
  PolicyFlag,
  PolicyMatchType,
  ReservedIdentity,
  TracePoint,
  TraceMode,
  Verdict,
  MAP_NAMES,
  ENDPOINT_GLOBALS,
  HOST_ENDPOINT_KEY,
} from "./abi.js";
import { repoRoot } from "./paths.js";

function defines(): Map<string, number> {
  const dir = join(repoRoot(), "bpf", "lib");
  const out = new Map<string, number>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".h"))) {
    for (const m of readFileSync(join(dir, f), "utf8").matchAll(/^#define (CF_\w+) (0x[0-9a-fA-F]+|\d+)\b/gm)) {
      out.set(m[1] ?? "", Number(m[2]));
    }
  }
  return out;
}

test("TS constants equal the #defines of bpf/lib", () => {
  const d = defines();
  const expect: Array<[string, number]> = [
    ["CF_DIR_INGRESS", Direction.ingress],
    ["CF_DIR_EGRESS", Direction.egress],
    ["CF_MODE_NONE", EnforcementMode.none],
    ["CF_MODE_ENFORCE", EnforcementMode.enforce],
    ["CF_MODE_AUDIT", EnforcementMode.audit],
    ["CF_ID_UNKNOWN", ReservedIdentity.unknown],
    ["CF_ID_HOST", ReservedIdentity.host],
    ["CF_ID_WORLD", ReservedIdentity.world],
    ["CF_TRACE_ALL", TraceMode.everyPacket],
    ["CF_TRACE_FIRST", TraceMode.firstPerConnection],
    ["CF_TRACE_NONE", TraceMode.none],
    ["CF_EP_F_NO_DENY_INGRESS", EndpointFlag.noDenyIngress],
    ["CF_EP_F_NO_DENY_EGRESS", EndpointFlag.noDenyEgress],
    ["CF_POLICY_ALLOW", PolicyAction.allow],
    ["CF_POLICY_DENY", PolicyAction.deny],
    ["CF_POLICY_F_AUDIT", PolicyFlag.audit],
    ["CF_IPCACHE_F_LOCAL", IpcacheFlag.local],
    ["CF_IPCACHE_PREFIX_BASE", IPCACHE_PREFIX_BASE],
    ["CF_EVENT_DROP", EventType.drop],
    ["CF_EVENT_TRACE", EventType.trace],
    ["CF_EVENT_POLICY_VERDICT", EventType.policyVerdict],
    ["CF_EV_FORWARDED", Verdict.forwarded],
    ["CF_EV_DROPPED", Verdict.dropped],
    ["CF_EV_AUDIT", Verdict.audit],
    ["CF_EV_REDIRECTED", Verdict.redirected],
    ["CF_OBS_TO_ENDPOINT", TracePoint.toEndpoint],
    ["CF_OBS_FROM_ENDPOINT", TracePoint.fromEndpoint],
    ["CF_OBS_TO_HOST", TracePoint.toHost],
    ["CF_OBS_FROM_NETWORK", TracePoint.fromNetwork],
    ["CF_OBS_TO_NETWORK", TracePoint.toNetwork],
    ["CF_HOST_EP_KEY", HOST_ENDPOINT_KEY],
    ["CF_EVF_REPLY", EventFlag.reply],
    ["CF_EVF_AUDIT", EventFlag.audit],
    ["CF_EVF_NEW", EventFlag.new],
    ["CF_EVF_IPV6", EventFlag.ipv6],
    ["CF_EVF_RELATED", EventFlag.related],
    ["CF_EVF_FRAGMENT", EventFlag.fragment],
    ["CF_CT_NEW", CtState.new],
    ["CF_CT_ESTABLISHED", CtState.established],
    ["CF_CT_REPLY", CtState.reply],
    ["CF_CT_RELATED", CtState.related],
    ["CF_CT_F_SEEN_REPLY", CtFlag.seenReply],
    ["CF_CT_F_FIN_ORIG", CtFlag.finOrig],
    ["CF_CT_F_FIN_REPLY", CtFlag.finReply],
    ["CF_CT_F_RST", CtFlag.rst],
    ["CF_CT_F_ORIG_FROM2", CtFlag.origFrom2],
    ["CF_MATCH_NONE", PolicyMatchType.none],
    ["CF_MATCH_L3_ONLY", PolicyMatchType.l3Only],
    ["CF_MATCH_L3_L4", PolicyMatchType.l3L4],
    ["CF_MATCH_L4_ONLY", PolicyMatchType.l4Only],
    ["CF_MATCH_ALL", PolicyMatchType.all],
    ["CF_MATCH_L3_PROTO", PolicyMatchType.l3Proto],
    ["CF_MATCH_PROTO_ONLY", PolicyMatchType.protoOnly],
    ["CF_METRIC_FORWARDED", MetricCode.forwarded],
    ["CF_METRIC_AUDIT", MetricCode.audit],
    ["CF_METRIC_LOST_EVENTS", MetricCode.lostEvents],
    ["CF_METRIC_REDIRECTED", MetricCode.redirected],
    ["CF_METRICS_SIZE", METRICS_SIZE],
  ];
  for (const [name, value] of expect) {
    assert.ok(d.has(name), `${name} is not #defined in bpf/lib/*.h`);
    assert.equal(d.get(name), value, `${name}`);
  }
});

test("map and global names appear in the BPF sources", () => {
  const root = repoRoot();
  const lib = readdirSync(join(root, "bpf", "lib"))
    .map((f) => readFileSync(join(root, "bpf", "lib", f), "utf8"))
    .join("\n");
  for (const name of Object.values(MAP_NAMES)) assert.match(lib, new RegExp(`\\} ${name} SEC\\("\\.maps"\\)`), name);
  for (const name of Object.values(ENDPOINT_GLOBALS)) assert.match(lib, new RegExp(`const volatile \\w+ ${name} =`), name);
});
