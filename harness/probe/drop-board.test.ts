import { test } from "node:test";
import assert from "node:assert/strict";
import { DropBoard } from "./drop-board.js";
import type { FiveTuple } from "./drop-board.js";

const tuple: FiveTuple = { protocol: "TCP", source: { address: "10.244.0.5", port: 40412 }, destination: { address: "10.244.1.7", port: 80 } };
const notice = (t: FiveTuple, reason = "POLICY_DENIED") => ({ dropped: { ...t, reason } });
const settled = async (p: Promise<string>) => Promise.race([p, new Promise<"pending">((r) => setImmediate(() => r("pending")))]);

test("a watch ends on a notice for exactly its 5-tuple", async () => {
  const board = new DropBoard();
  const w = board.watch(tuple);
  board.notify(notice({ ...tuple, destination: { ...tuple.destination, port: 81 } }));
  board.notify(notice({ ...tuple, protocol: "UDP" }));
  assert.equal(await settled(w.dropped), "pending");
  board.notify(notice(tuple, "POLICY_DENY"));
  assert.equal(await settled(w.dropped), "POLICY_DENY");
});

test("a notice that overtakes the watch is kept for it", async () => {
  const board = new DropBoard();
  board.notify(notice(tuple));
  assert.equal(await settled(board.watch(tuple).dropped), "POLICY_DENIED");
  // Claimed once: a later probe that happens to reuse the tuple starts clean.
  assert.equal(await settled(board.watch(tuple).dropped), "pending");
});

test("a stopped watch no longer claims notices", async () => {
  const board = new DropBoard();
  const w = board.watch(tuple);
  w.stop();
  board.notify(notice(tuple));
  assert.equal(await settled(w.dropped), "pending");
});
