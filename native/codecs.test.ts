import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { codecLayoutMismatches } from "./btf.js";
import { skbContextCodec } from "./test-run.js";
import {
  STRUCT_CODECS,
  ctKey,
  ctKeyCodec,
  endpointCodec,
  eventCodec,
  ipcacheKey,
  ipcacheKeyCodec,
  policyKeyCodec,
  policyValueCodec,
  type CfEvent,
} from "./codecs.js";
import { bytesToIp, ipToBytes, parseCidr } from "./ip.js";
import { bpfObjectPath } from "./paths.js";
import { EventFlag } from "./abi.js";

const endpointObject = bpfObjectPath("endpoint");

test("every codec matches its struct in bpf/build/endpoint.o's BTF (size and member offsets)", () => {
  assert.ok(existsSync(endpointObject), `${endpointObject} is missing: run make -C bpf`);
  const problems = [...STRUCT_CODECS, skbContextCodec].flatMap((c) => codecLayoutMismatches(endpointObject, c));
  assert.deepEqual(problems, []);
});

test("a changed layout is reported", () => {
  const shifted = { ...policyValueCodec, size: 12, fields: [...policyValueCodec.fields.slice(1)] };
  const problems = codecLayoutMismatches(endpointObject, shifted);
  assert.ok(problems.some((p) => p.includes("size 12")));
  assert.ok(problems.some((p) => p.includes("member #0")));
});

test("policy key: ports are big-endian on the wire, identity host order", () => {
  const buf = policyKeyCodec.encode({ epId: 7, identity: 0x01020304, dport: 8080, proto: 6, direction: 1 });
  assert.equal(buf.length, 12);
  assert.equal(buf.readUInt32LE(0), 7);
  assert.equal(buf.readUInt32LE(4), 0x01020304);
  assert.equal(buf.readUInt16BE(8), 8080);
  assert.equal(buf[10], 6);
  assert.equal(buf[11], 1);
  assert.deepEqual(policyKeyCodec.decode(buf), { epId: 7, identity: 0x01020304, dport: 8080, proto: 6, direction: 1 });
});

test("endpoint round-trips, with the IPv4 in network order", () => {
  const ep = { epId: 12, identity: 70000, ipv4: "10.244.1.7", ingressMode: 1, egressMode: 2, flags: 0, policyRevision: 99n };
  const buf = endpointCodec.encode(ep);
  assert.deepEqual([...buf.subarray(8, 12)], [10, 244, 1, 7]);
  assert.deepEqual(endpointCodec.decode(buf), ep);
});

test("ipcache keys count the family+pad bits and clear host bits", () => {
  assert.deepEqual(ipcacheKey("10.244.1.9/24"), { prefixlen: 56, family: 4, addr: "10.244.1.0" });
  assert.deepEqual(ipcacheKey("203.0.113.5"), { prefixlen: 64, family: 4, addr: "203.0.113.5" });
  assert.deepEqual(ipcacheKey("2001:db8::1/64"), { prefixlen: 96, family: 6, addr: "2001:db8::" });
  const buf = ipcacheKeyCodec.encode(ipcacheKey("2001:db8::/32"));
  assert.equal(buf[4], 6);
  assert.deepEqual([...buf.subarray(8, 12)], [0x20, 0x01, 0x0d, 0xb8]);
  assert.deepEqual(ipcacheKeyCodec.decode(buf), { prefixlen: 64, family: 6, addr: "2001:db8::" });
});

test("addresses decode by family: an IPv6 address with trailing zeros is not mistaken for IPv4", () => {
  const key = { epId: 1, family: 6 as const, proto: 17, port1: 5000, port2: 53, addr1: "2001:db8::", addr2: "fd00::53" };
  assert.deepEqual(ctKeyCodec.decode(ctKeyCodec.encode(key)), key);
  assert.throws(() => ctKeyCodec.encode({ ...key, family: 4 }), /not an IPv4 address/);
});

test("event codec decodes IPv4 and IPv6 records", () => {
  const base: CfEvent = {
    tsNs: 123n,
    type: 1,
    subtype: 133,
    verdict: 2,
    direction: 0,
    flags: 0,
    ctState: 0,
    matchType: 0,
    proto: 6,
    dropReason: 133,
    proxyPort: 0,
    ifindex: 5,
    epId: 3,
    srcIdentity: 2,
    dstIdentity: 1000,
    ruleRef: 0,
    pktLen: 60,
    saddr: "203.0.113.9",
    daddr: "10.244.0.4",
    sport: 40000,
    dport: 80,
    tcpFlags: 2,
    icmpType: 0,
    icmpCode: 0,
  };
  assert.equal(eventCodec.size, 88);
  assert.deepEqual(eventCodec.decode(eventCodec.encode(base)), base);
  const v6 = { ...base, flags: EventFlag.ipv6, saddr: "fd00::1", daddr: "fd00:10:244::4" };
  assert.deepEqual(eventCodec.decode(eventCodec.encode(v6)), v6);
});

test("conntrack keys are canonical: a packet and its reply share one key", () => {
  const out = ctKey(3, { proto: 6, saddr: "10.244.0.20", daddr: "10.244.0.9", sport: 40000, dport: 80 });
  const back = ctKey(3, { proto: 6, saddr: "10.244.0.9", daddr: "10.244.0.20", sport: 80, dport: 40000 });
  assert.deepEqual(out.key, back.key);
  assert.deepEqual(out.key, { epId: 3, family: 4, proto: 6, port1: 80, port2: 40000, addr1: "10.244.0.9", addr2: "10.244.0.20" });
  assert.equal(out.from2, true);
  assert.equal(back.from2, false);
  // Numeric order, not text order; equal addresses fall back to ports.
  assert.equal(ctKey(1, { proto: 17, saddr: "9.0.0.1", daddr: "10.0.0.1", sport: 1, dport: 2 }).from2, false);
  assert.equal(ctKey(1, { proto: 17, saddr: "10.0.0.1", daddr: "10.0.0.1", sport: 2, dport: 1 }).from2, true);
});

test("range and type errors name the struct field", () => {
  assert.throws(() => policyKeyCodec.encode({ epId: 1, identity: 1, dport: 70000, proto: 6, direction: 0 }), /cf_policy_key\.dport/);
  assert.throws(() => endpointCodec.encode({ epId: 1, identity: 1, ipv4: "nope", ingressMode: 0, egressMode: 0, flags: 0, policyRevision: 0n }), /not an IP address/);
});

test("ip helpers", () => {
  assert.equal(bytesToIp(ipToBytes("::ffff:10.1.2.3").bytes, 6), "::ffff:a01:203");
  assert.equal(bytesToIp(ipToBytes("fe80:0:0:0:1:0:0:1").bytes, 6), "fe80::1:0:0:1");
  assert.equal(bytesToIp(ipToBytes("1:0:0:2:0:0:0:3").bytes, 6), "1:0:0:2::3");
  assert.throws(() => parseCidr("10.0.0.0/33"), /invalid prefix length/);
});
