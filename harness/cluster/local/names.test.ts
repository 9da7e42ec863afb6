import { test } from "node:test";
import assert from "node:assert/strict";
import { CLUSTER_NAME_RE, clusterTag, linkNames, netnsNames } from "./names.js";

test("link names fit IFNAMSIZ for the longest allowed cluster name", () => {
  const longest = "a".repeat(32);
  assert.match(longest, CLUSTER_NAME_RE);
  for (const name of [linkNames.host(longest)]) assert.ok(name.length <= 15, name);
});

test("names differ between clusters and carry the cluster name", () => {
  assert.notEqual(clusterTag("a"), clusterTag("b"));
  assert.equal(netnsNames.node("dev", "node1"), "cf-dev_node1");
  assert.ok(!netnsNames.node("dev-2", "node1").startsWith(netnsNames.prefix("dev")));
  assert.ok(netnsNames.pod("dev", "0123456789abcdef-xyz").startsWith(netnsNames.prefix("dev")));
});
