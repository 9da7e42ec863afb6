import { test } from "node:test";
import assert from "node:assert/strict";
import { formatPrefix, normalizePrefixText, parsePrefix, prefixContains } from "./ip-prefix.js";
import { cidrIdentityLabels } from "./local-identity.js";

function p(text: string) {
  const r = parsePrefix(text);
  assert.ok(r.ok, text);
  return r.prefix;
}

test("IPv4 and IPv6 prefixes parse and normalise", () => {
  assert.equal(normalizePrefixText("10.0.0.0/8"), "10.0.0.0/8");
  assert.equal(normalizePrefixText("10.1.2.3/8"), "10.0.0.0/8");
  assert.equal(normalizePrefixText("203.0.113.7"), "203.0.113.7/32");
  assert.equal(normalizePrefixText("2001:DB8:0:0::1/32"), "2001:db8::/32");
  assert.equal(normalizePrefixText("::/0"), "::/0");
  assert.equal(normalizePrefixText("::ffff:10.0.0.1/128"), "::ffff:a00:1/128");
  assert.equal(formatPrefix(p("fe80::1:0:0:1/128")), "fe80::1:0:0:1/128");
  const r = parsePrefix("10.1.2.3/8");
  assert.ok(r.ok && r.hostBitsSet);
});

test("bad prefixes are refused", () => {
  for (const bad of ["10.0.0.0/33", "10.0.0/8", "10.0.0.0/255.0.0.0", "nope", "2001:db8::/129", ""]) {
    assert.equal(parsePrefix(bad).ok, false, bad);
  }
});

test("containment", () => {
  assert.equal(prefixContains(p("10.0.0.0/8"), p("10.96.0.0/12")), true);
  assert.equal(prefixContains(p("10.0.0.0/8"), p("10.0.0.0/8")), true);
  assert.equal(prefixContains(p("10.96.0.0/12"), p("10.0.0.0/8")), false);
  assert.equal(prefixContains(p("0.0.0.0/0"), p("203.0.113.1/32")), true);
  assert.equal(prefixContains(p("0.0.0.0/0"), p("::1/128")), false);
  assert.equal(prefixContains(p("2001:db8::/32"), p("2001:db8:1::/48")), true);
});

test("CIDR identity labels carry the prefix and world", () => {
  assert.deepEqual(cidrIdentityLabels("10.1.2.3/8"), { "cidr:10.0.0.0/8": "", "reserved:world": "" });
  assert.deepEqual(cidrIdentityLabels("2001:db8::/32", { dualStack: true }), { "cidr:2001:db8::/32": "", "reserved:world-ipv6": "" });
});
