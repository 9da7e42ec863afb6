import { test } from "node:test";
import assert from "node:assert/strict";
import dnsPacket from "dns-packet";
import { answerQuery } from "./dns-server.js";
import { parseRoute, statusFor } from "./routes.js";
import { lookupZone, parseZoneText } from "./zone.js";

const ZONE = `zone: world.test
ttl: 7
records:
  "@": 203.0.113.1
  api: 203.0.113.10
  multi.world.test: [203.0.113.11, 203.0.113.12]
  v6.world.test.: "2001:db8::10"
  deep.sub: 203.0.113.20
`;

test("zone names are qualified relative to the origin, absolute when they say so", () => {
  const zone = parseZoneText(ZONE, "zone.yaml");
  assert.equal(zone.origin, "world.test");
  assert.equal(zone.ttl, 7);
  assert.deepEqual([...zone.names.keys()].sort(), ["api.world.test", "deep.sub.world.test", "multi.world.test", "v6.world.test", "world.test"]);
  assert.deepEqual(zone.names.get("v6.world.test"), { A: [], AAAA: ["2001:db8::10"] });
});

test("lookups: answers, NXDOMAIN inside the zone, NODATA, REFUSED outside", () => {
  const zones = [parseZoneText(ZONE, "zone.yaml")];
  const data = (r: ReturnType<typeof lookupZone>) => (r.rcode === "REFUSED" ? r.rcode : `${r.rcode} ${r.answers.map((a) => a.data).join(",")}`);
  assert.equal(data(lookupZone(zones, "API.world.test.", "A")), "NOERROR 203.0.113.10");
  assert.equal(data(lookupZone(zones, "multi.world.test", "A")), "NOERROR 203.0.113.11,203.0.113.12");
  assert.equal(data(lookupZone(zones, "v6.world.test", "A")), "NOERROR ");
  assert.equal(data(lookupZone(zones, "v6.world.test", "AAAA")), "NOERROR 2001:db8::10");
  assert.equal(data(lookupZone(zones, "sub.world.test", "A")), "NOERROR ");
  assert.equal(data(lookupZone(zones, "nope.world.test", "A")), "NXDOMAIN ");
  assert.equal(data(lookupZone(zones, "example.com", "A")), "REFUSED");
  assert.equal(data(lookupZone(zones, "notworld.test", "A")), "REFUSED");
});

test("zone errors name the file, line and field", () => {
  assert.throws(() => parseZoneText("zone: world.test\nrecords:\n  api: 999.1.1.1\n", "z.yaml"), /^Error: z\.yaml:3: records\.api: must be an IPv4 or IPv6 address/);
  assert.throws(() => parseZoneText("zone: world.test\nrecords: {}\nextra: 1\n", "z.yaml"), /^Error: z\.yaml:3: extra: /);
  assert.throws(() => parseZoneText("records: {}\n", "z.yaml"), /^Error: z\.yaml:1: zone: /);
  assert.throws(() => parseZoneText("zone: [\n", "z.yaml"), /^Error: z\.yaml(:\d+)?: /);
});

function query(name: string, type: dnsPacket.RecordType, extra: Partial<dnsPacket.Packet> = {}): dnsPacket.DecodedPacket {
  return dnsPacket.decode(dnsPacket.encode({ type: "query", id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }], ...extra }));
}

test("DNS answers are authoritative, echo the id, and carry the SOA when negative", () => {
  const zones = [parseZoneText(ZONE, "zone.yaml")];
  const ok = dnsPacket.decode(dnsPacket.encode(answerQuery(zones, query("api.world.test", "A")).packet));
  assert.equal(ok.id, 4242);
  assert.equal(ok.flag_qr, true);
  assert.equal(ok.flag_aa, true);
  assert.equal(ok.flag_rd, true);
  assert.equal((ok as unknown as { rcode: string }).rcode, "NOERROR");
  assert.deepEqual(ok.answers?.map((a) => [a.name, a.type, "data" in a ? a.data : undefined, "ttl" in a ? a.ttl : undefined]), [["api.world.test", "A", "203.0.113.10", 7]]);

  const nx = dnsPacket.decode(dnsPacket.encode(answerQuery(zones, query("nope.world.test", "A")).packet));
  assert.equal((nx as unknown as { rcode: string }).rcode, "NXDOMAIN");
  assert.equal(nx.authorities?.[0]?.type, "SOA");

  const refused = answerQuery(zones, query("example.com", "A"));
  assert.equal(refused.rcode, "REFUSED");
  assert.equal(dnsPacket.decode(dnsPacket.encode(refused.packet)).flag_aa, false);

  assert.equal(answerQuery(zones, query("world.test", "SOA")).rcode, "NOERROR");
  assert.equal(answerQuery(zones, query("x.world.test", "A", { questions: [] })).rcode, "FORMERR");
});

test("routes: exact paths, prefixes, and a clear error for bad syntax", () => {
  const routes = [parseRoute("/forbidden=403"), parseRoute("/api/*=201")];
  assert.equal(statusFor(routes, "/forbidden"), 403);
  assert.equal(statusFor(routes, "/forbidden/x"), 200);
  assert.equal(statusFor(routes, "/api/v1"), 201);
  assert.equal(statusFor(routes, "/"), 200);
  assert.throws(() => parseRoute("forbidden=403"), /--route: expected \/path=STATUS/);
  assert.throws(() => parseRoute("/x=99"), /--route/);
  assert.throws(() => parseRoute("/x=abc"), /--route/);
});
