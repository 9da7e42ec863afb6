import assert from "node:assert/strict";
import { test } from "node:test";
import { FlowObserver } from "./observer.js";
import { FlowRing } from "./ring.js";
import { fakeContext, fixedClock, makeEvent } from "./test-support.js";

test("ring keeps the newest `capacity` items, oldest first", () => {
  const ring = new FlowRing<number>(3);
  assert.deepEqual([...ring], []);
  for (let i = 1; i <= 2; i++) ring.push(i);
  assert.deepEqual([...ring], [1, 2]);
  for (let i = 3; i <= 7; i++) ring.push(i);
  assert.deepEqual([...ring], [5, 6, 7]);
  assert.equal(ring.size, 3);
  assert.equal(ring.pushed, 7);
  assert.throws(() => new FlowRing(0), /positive integer/);
});

test("observer ring is bounded and followers see every flow, including overwritten ones", () => {
  const observer = new FlowObserver({ context: fakeContext(), capacity: 4, clock: fixedClock });
  const followed: bigint[] = [];
  const off = observer.follow((f) => followed.push(f.timeNs));
  const events = Array.from({ length: 10 }, (_, i) => makeEvent({ tsNs: BigInt(i) }));
  let deliver: (e: typeof events) => void = () => {};
  const detach = observer.attach({ onEvents: (cb) => ((deliver = cb), () => (deliver = () => {})), stats: () => ({ lost: 3, received: 10 }) });
  deliver(events);
  assert.equal(followed.length, 10);
  assert.deepEqual(
    [...observer.flows()].map((f) => f.timeNs - fixedClock.monotonicToEpochNs(0n)),
    [6n, 7n, 8n, 9n],
  );
  assert.deepEqual(observer.stats(), { capacity: 4, stored: 4, seen: 10, decodeErrors: 0 });
  assert.equal(observer.lostEvents(), 3);
  off();
  detach();
  deliver(events);
  assert.equal(followed.length, 10);
  assert.equal(observer.lostEvents(), 0);
});
