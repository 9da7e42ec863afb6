import { test } from "node:test";
import assert from "node:assert/strict";
import type { FlowSource } from "../cluster/provider.js";
import type { DropNotice } from "../probe/schema.js";
import { DropFeeds, dropNoticeOf, followDrops } from "./drop-follow.js";
import { flow } from "./testdata/fixtures.js";

test("only policy drops of TCP/UDP become notices, with the flow's 5-tuple", () => {
  assert.deepEqual(dropNoticeOf(flow({ verdict: "DROPPED", reason: "POLICY_DENIED", sport: 40412, dport: 80 })), {
    dropped: { protocol: "TCP", source: { address: "10.244.0.5", port: 40412 }, destination: { address: "10.244.1.7", port: 80 }, reason: "POLICY_DENIED" },
  });
  assert.equal(dropNoticeOf(flow({ verdict: "DROPPED", reason: "POLICY_DENY", proto: "UDP", envelope: true }))?.dropped.protocol, "UDP");
  // Not final for the connection, or not a drop at all.
  assert.equal(dropNoticeOf(flow({ verdict: "DROPPED", reason: "CT_MAP_INSERTION_FAILED" })), undefined);
  assert.equal(dropNoticeOf(flow({ verdict: "AUDIT", reason: "POLICY_DENIED" })), undefined);
  assert.equal(dropNoticeOf(flow({ verdict: "FORWARDED" })), undefined);
});

test("notices reach the feed of the flow's source pod only, until it unsubscribes", () => {
  const feeds = new DropFeeds();
  const a: DropNotice[] = [];
  const b: DropNotice[] = [];
  const stopA = feeds.feedFor("10.244.0.5").subscribe((n) => a.push(n));
  feeds.feedFor("10.244.0.9").subscribe((n) => b.push(n));
  feeds.dispatch(flow({ verdict: "DROPPED", reason: "POLICY_DENIED" }));
  stopA();
  feeds.dispatch(flow({ verdict: "DROPPED", reason: "POLICY_DENIED", sport: 1 }));
  assert.equal(a.length, 1);
  assert.equal(b.length, 0);
});

test("following asks the flow source for DROPPED flows from the step's pods and stops with the step", async () => {
  let asked: unknown;
  let aborted: AbortSignal | undefined;
  const source: FlowSource = {
    query: async () => [],
    follow: async (q, onFlow, signal) => {
      asked = q.filters;
      aborted = signal;
      onFlow(flow({ verdict: "DROPPED", reason: "POLICY_DENIED" }));
    },
  };
  const feeds = new DropFeeds();
  const got: DropNotice[] = [];
  feeds.feedFor("10.244.0.5").subscribe((n) => got.push(n));
  const stop = followDrops(source, new Date(0), ["10.244.0.5"], feeds);
  assert.deepEqual(asked, [{ sourceIp: ["10.244.0.5"], verdict: ["DROPPED"] }]);
  assert.equal(got.length, 1);
  stop();
  assert.equal(aborted?.aborted, true);
  // No live view: nothing to stop, probes wait out their timeouts.
  followDrops({ query: async () => [] }, new Date(0), ["10.244.0.5"], feeds)();
});
