import { test } from "node:test";
import assert from "node:assert/strict";
import { classifyDnsRcode, classifyHttpResponse, classifyPing, classifySocketError, isL7Denial, isPortConflict } from "./classify.js";

test("network refusals are REJECTED, silence from the kernel is TIMEOUT", () => {
  for (const code of ["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "EACCES"]) {
    assert.equal(classifySocketError({ code, syscall: "connect" }).outcome, "REJECTED", code);
  }
  assert.equal(classifySocketError({ code: "ETIMEDOUT", syscall: "connect" }).outcome, "TIMEOUT");
  assert.match(classifySocketError({ code: "EHOSTUNREACH", syscall: "connect" }).detail, /host unreachable/);
  assert.match(classifySocketError({ code: "ECONNREFUSED", syscall: "recvmsg" }).detail, /port unreachable/);
});

test("local failures are PROBE_ERROR, never blocked", () => {
  assert.equal(classifySocketError({ code: "EPERM", syscall: "connect" }).outcome, "PROBE_ERROR");
  assert.match(classifySocketError({ code: "EPERM", syscall: "connect" }).detail, /not permitted/);
  assert.equal(classifySocketError({ code: "EADDRNOTAVAIL", syscall: "connect" }).outcome, "PROBE_ERROR");
  assert.equal(classifySocketError({ code: "EINVAL", syscall: "connect" }).outcome, "PROBE_ERROR");
  // Whatever the code, a failed bind is about our own socket.
  assert.equal(classifySocketError({ code: "EACCES", syscall: "bind" }).outcome, "PROBE_ERROR");
  assert.equal(classifySocketError({ code: "ECONNREFUSED", syscall: "bind" }).outcome, "PROBE_ERROR");
  assert.equal(classifySocketError({}).outcome, "PROBE_ERROR");
});

test("port conflicts are retried, other errors are not", () => {
  assert.equal(isPortConflict({ code: "EADDRINUSE", syscall: "bind" }), true);
  assert.equal(isPortConflict({ code: "EADDRNOTAVAIL", syscall: "connect" }), true);
  assert.equal(isPortConflict({ code: "EADDRNOTAVAIL", syscall: "bind" }), false);
  assert.equal(isPortConflict({ code: "ECONNREFUSED", syscall: "connect" }), false);
});

test("only the proxy's 403 is L7_DENIED; an application 403 is an answer", () => {
  assert.equal(classifyHttpResponse(403, { "content-type": "text/plain" }, "Access denied\r\n").outcome, "L7_DENIED");
  assert.equal(classifyHttpResponse(403, { "x-conform-l7-verdict": "denied" }, "{}").outcome, "L7_DENIED");
  const app = classifyHttpResponse(403, { "content-type": "application/json" }, '{"status":403}', 403);
  assert.deepEqual(app, { outcome: "ALLOWED", detail: "HTTP 403" });
  assert.equal(isL7Denial(200, {}, "Access denied"), false);
  assert.equal(isL7Denial(401, {}, "Access denied"), false);
  assert.equal(classifyHttpResponse(500, {}, "boom").outcome, "ALLOWED");
  assert.equal(classifyHttpResponse(200, {}, "", 204).detail, "HTTP 200 (expected 204)");
});

test("DNS error codes are DNS_FAILED, NOERROR is an answer even without records", () => {
  for (const rcode of ["NXDOMAIN", "REFUSED", "SERVFAIL", "FORMERR", "NOTIMP"]) {
    assert.equal(classifyDnsRcode(rcode, 0).outcome, "DNS_FAILED", rcode);
    assert.match(classifyDnsRcode(rcode, 0).detail, new RegExp(rcode));
  }
  assert.equal(classifyDnsRcode("NOERROR", 2).outcome, "ALLOWED");
  assert.deepEqual(classifyDnsRcode("NOERROR", 0), { outcome: "ALLOWED", detail: "NOERROR, no records of that type" });
});

test("ping output: reply, ICMP errors, silence, local failures", () => {
  const ok = classifyPing(0, "64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=0.061 ms\n\n1 packets transmitted, 1 received");
  assert.deepEqual(ok, { outcome: "ALLOWED", detail: "ICMP echo reply", rttMs: 0.061 });
  assert.equal(classifyPing(1, "From 10.0.0.1 icmp_seq=1 Destination Host Unreachable\n").outcome, "REJECTED");
  assert.equal(classifyPing(1, "From 10.0.0.1 icmp_seq=1 Packet filtered\n").outcome, "REJECTED");
  assert.equal(classifyPing(1, "1 packets transmitted, 0 received, 100% packet loss").outcome, "TIMEOUT");
  assert.equal(classifyPing(2, "ping: connect: Network is unreachable").outcome, "REJECTED");
  assert.equal(classifyPing(2, "ping: sendmsg: Operation not permitted").outcome, "PROBE_ERROR");
  assert.match(classifyPing(2, "ping: unknown iface\n").detail, /unknown iface/);
});
