// `conform cluster up` cold and warm, and the idle memory of the whole local cluster.
// Cold: the kernel page cache is dropped first, so the ~350 MB of binaries are read from disk.
// Printed, never asserted: these machines are noisy.
import { writeFileSync } from "node:fs";
import { defaultLocalConfig } from "./config.js";
import { downCluster } from "./down.js";
import { netnsNames } from "./names.js";
import { upCluster } from "./up.js";
import { listNetns, netnsPids } from "./topology.js";
import { mib, rssBytes } from "../../util/rss.js";

const name = `bench-${process.pid}`;
// The reference CNI, so figures compare with earlier runs (the agent DaemonSet adds its own start-up).
const base = defaultLocalConfig();
const config = { ...base, metadata: { name }, spec: { ...base.spec, cni: "ptp" as const } };

async function timedUp(): Promise<{ seconds: number; timings: Readonly<Record<string, number>> }> {
  const t0 = process.hrtime.bigint();
  const r = await upCluster({ name, config });
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, timings: r.timings };
}

async function idleRss(): Promise<{ total: number; processes: number }> {
  // Let start-up work settle (informer syncs, first heartbeats) before measuring "idle".
  await new Promise((r) => setTimeout(r, 10_000));
  let total = 0;
  let processes = 0;
  for (const ns of listNetns().filter((n) => n.startsWith(netnsNames.prefix(name)))) {
    for (const pid of await netnsPids(ns)) {
      total += rssBytes(pid);
      processes++;
    }
  }
  return { total, processes };
}

try {
  writeFileSync("/proc/sys/vm/drop_caches", "3");
  const cold = await timedUp();
  await downCluster(name);
  const warm = await timedUp();
  const rss = await idleRss();
  await downCluster(name);
  const phases = (t: Readonly<Record<string, number>>) => Object.entries(t).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}s`).join(", ");
  console.log(`cluster up (2 nodes), cold: ${cold.seconds.toFixed(1)} s  [${phases(cold.timings)}]`);
  console.log(`cluster up (2 nodes), warm: ${warm.seconds.toFixed(1)} s  [${phases(warm.timings)}]  (goal < 20 s)`);
  console.log(`idle RSS of the whole local cluster: ${mib(rss.total)} over ${rss.processes} processes`);
} finally {
  await downCluster(name);
}
