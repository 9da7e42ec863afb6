import { test } from "node:test";
import assert from "node:assert/strict";
import { Backoff } from "./backoff.js";

test("container restarts: first at once, then 10s doubling up to the 300s cap (the kubelet's CrashLoopBackOff)", () => {
  const b = new Backoff({ initialMs: 10_000, maxMs: 300_000, immediateFirst: true });
  assert.deepEqual(
    Array.from({ length: 8 }, () => b.next()),
    [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000],
  );
});

test("a long healthy run resets the sequence; a short one does not", () => {
  const b = new Backoff({ initialMs: 1000, maxMs: 8000, immediateFirst: true });
  b.next();
  b.next();
  assert.equal(b.next(5000), 2000, "ran 5s < 16s: keeps backing off");
  assert.equal(b.next(16_000), 0, "ran 2 × max: starts over");
  assert.equal(b.next(), 1000);
});

test("retry back-off without an immediate first attempt, and reset()", () => {
  const b = new Backoff({ initialMs: 500, maxMs: 1200 });
  assert.deepEqual([b.next(), b.next(), b.next()], [500, 1000, 1200]);
  assert.equal(b.count, 3);
  b.reset();
  assert.equal(b.next(), 500);
});
