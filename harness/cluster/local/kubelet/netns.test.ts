import { test } from "node:test";
import assert from "node:assert/strict";
import { mountPropagation } from "./netns.js";

// Two lines of /proc/self/mountinfo: the host's view and the view inside `ip netns exec`.
const HOST = "42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw\n27 1 254:0 / / rw,relatime - ext4 /dev/vda rw";
const INSIDE = "45 44 254:0 / / rw,relatime - ext4 /dev/vda rw\n65 45 254:0 /run/netns /run/netns rw,relatime master:1 - ext4 /dev/vda rw";

test("mount propagation of /run/netns tells a shared host mount from a private slave copy", () => {
  assert.deepEqual(mountPropagation(HOST, "/run/netns"), ["shared:1"]);
  assert.deepEqual(mountPropagation(INSIDE, "/run/netns"), ["master:1"]);
  assert.deepEqual(mountPropagation(HOST, "/"), []);
  assert.equal(mountPropagation(HOST, "/nope"), null);
});
