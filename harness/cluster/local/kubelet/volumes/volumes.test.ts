import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { silentLogger } from "../../../../../agent/k8s/log.js";
import { containingMountPoint, mountScript, parseMountPoints } from "../runtime/mounts.js";
import { containerMounts } from "./container-mounts.js";
import { mapHostPath, normalizeNodePath } from "./host-path.js";
import { PodVolumes } from "./pod-volumes.js";
import { tokenRefreshAt, tokenRetryDelayMs } from "./token-timing.js";

const table = { mapped: { "/etc/cni/net.d": "/st/n1/cni/net.d", "/opt/cni/bin": "/st/n1/cni/bin", "/var/lib/conform": "/st/n1/agent" }, nodeRoot: "/st/n1/rootfs" };

test("hostPaths: node-private paths map per node, kernel and machine-wide paths are the real ones", () => {
  assert.deepEqual(mapHostPath("/etc/cni/net.d", table), { path: "/st/n1/cni/net.d", kind: "mapped" });
  assert.deepEqual(mapHostPath("/etc/cni/net.d/", table), { path: "/st/n1/cni/net.d", kind: "mapped" });
  assert.deepEqual(mapHostPath("/opt/cni/bin/conform-cni", table), { path: "/st/n1/cni/bin/conform-cni", kind: "mapped" });
  assert.deepEqual(mapHostPath("/var/lib/conform", table), { path: "/st/n1/agent", kind: "mapped" });
  // Unmapped node-private paths get a per-node home.
  assert.deepEqual(mapHostPath("/var/lib/kubelet", table), { path: "/st/n1/rootfs/var/lib/kubelet", kind: "node-local" });
  assert.deepEqual(mapHostPath("/etc/cni/other", table), { path: "/st/n1/rootfs/etc/cni/other", kind: "node-local" });
  assert.deepEqual(mapHostPath("/var/log/pods", table), { path: "/st/n1/rootfs/var/log/pods", kind: "node-local" });
  for (const real of ["/sys/fs/bpf", "/proc", "/run/netns", "/dev", "/run/conform", "/lib/modules"]) assert.deepEqual(mapHostPath(real, table), { path: real, kind: "host" }, real);
  // /var/run is /run; a prefix match is by whole path components only.
  assert.deepEqual(mapHostPath("/var/run/netns", table), { path: "/run/netns", kind: "host" });
  assert.deepEqual(mapHostPath("/var/library", table), { path: "/var/library", kind: "host" });
  assert.equal(normalizeNodePath("/a/../var/lib/x"), "/var/lib/x");
  assert.throws(() => mapHostPath("relative/dir", table), /not an absolute path/);
});

test("volumeMounts become binds, except a hostPath mounted at its own real path; parents first", () => {
  const paths: Record<string, string> = { bpffs: "/sys/fs/bpf", conf: "/st/n1/cni/net.d", sa: "/st/pod/volumes/projected/sa", netns: "/run/netns" };
  const r = containerMounts(
    {
      name: "agent",
      volumeMounts: [
        { name: "sa", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
        { name: "bpffs", mountPath: "/sys/fs/bpf" },
        { name: "netns", mountPath: "/var/run/netns" },
        { name: "conf", mountPath: "/etc/cni/net.d" },
        { name: "conf", mountPath: "/etc/cni/net.d/sub/x", subPath: "x" },
      ],
    },
    (v) => paths[v],
  );
  assert.ok(r.ok);
  assert.deepEqual(r.mounts, [
    { source: "/st/n1/cni/net.d", target: "/etc/cni/net.d", readOnly: false },
    { source: "/st/pod/volumes/projected/sa", target: "/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
    { source: "/st/n1/cni/net.d/x", target: "/etc/cni/net.d/sub/x", readOnly: false },
  ]);
  const missing = containerMounts({ name: "c", volumeMounts: [{ name: "nope", mountPath: "/x" }] }, () => undefined);
  assert.ok(!missing.ok && /volumeMount "nope" names no prepared volume/.test(missing.message));
  const escape = containerMounts({ name: "c", volumeMounts: [{ name: "conf", mountPath: "/x", subPath: "../../etc" }] }, (v) => paths[v]);
  assert.ok(!escape.ok && /stay inside the volume/.test(escape.message));
});

test("the mount prologue detaches the holding mounts from the host before binding, and execs the program", () => {
  const info = [
    "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw",
    "25 22 0:23 / /run rw,nosuid shared:5 - tmpfs tmpfs rw",
    "90 25 0:4 / /run/netns rw shared:40 - tmpfs tmpfs rw",
    "91 22 0:50 / /srv/with\\040space rw shared:41 - tmpfs tmpfs rw",
  ].join("\n");
  const points = parseMountPoints(info);
  assert.deepEqual(points, ["/", "/run", "/run/netns", "/srv/with space"]);
  assert.equal(containingMountPoint("/run/secrets/kubernetes.io/serviceaccount", points), "/run");
  assert.equal(containingMountPoint("/run/netns/x", points), "/run/netns");
  assert.equal(containingMountPoint("/etc/cni/net.d", points), "/");
  assert.equal(containingMountPoint("/runner", points), "/");
  const script = mountScript([{ source: "/s/it's", target: "/t", readOnly: true }], ["/run"]);
  assert.deepEqual(script.split("\n"), [
    "set -e",
    "mount --make-slave '/run'",
    "mount --bind '/s/it'\\''s' '/t'",
    "mount --make-slave '/t'",
    "mount -o remount,bind,ro '/t'",
    'exec "$@"',
  ]);
});

test("token renewal: at 80% of the lifetime, at least daily; failed renewals retry soon but within the lifetime", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");
  assert.equal(tokenRefreshAt(t0, new Date(t0.getTime() + 3600_000)).getTime() - t0.getTime(), 2880_000);
  assert.equal(tokenRefreshAt(t0, new Date(t0.getTime() + 600_000)).getTime() - t0.getTime(), 480_000);
  assert.equal(tokenRefreshAt(t0, new Date(t0.getTime() + 365 * 86400_000)).getTime() - t0.getTime(), 86400_000, "a year-long token is still renewed daily");
  assert.equal(tokenRetryDelayMs(t0, new Date(t0.getTime() + 3600_000), 0), 1000);
  assert.equal(tokenRetryDelayMs(t0, new Date(t0.getTime() + 3600_000), 3), 8000);
  assert.equal(tokenRetryDelayMs(t0, new Date(t0.getTime() + 3600_000), 20), 30_000, "capped");
  assert.equal(tokenRetryDelayMs(t0, new Date(t0.getTime() + 8000), 5), 2000, "never later than a quarter of what is left");
});

const pod: V1Pod = {
  metadata: { name: "agent-x", namespace: "kube-system", uid: "u-1" },
  spec: {
    nodeName: "node1",
    serviceAccountName: "conform-agent",
    containers: [{ name: "agent" }],
    volumes: [
      {
        name: "kube-api-access-abcde",
        projected: {
          defaultMode: 0o644,
          sources: [
            { serviceAccountToken: { path: "token", expirationSeconds: 3607 } },
            { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
            { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
          ],
        },
      },
      { name: "state", hostPath: { path: "/var/lib/conform", type: "DirectoryOrCreate" } },
    ],
  },
};

test("the service-account volume: a pod-bound TokenRequest with ca.crt and namespace, renewed at 80% of its lifetime", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cft-kl-vol-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: new Date("2026-01-01T00:00:00Z") });
  t.after(() => mock.timers.reset());
  const requests: unknown[] = [];
  let fail = false;
  const core = {
    createNamespacedServiceAccountToken: async (req: { name: string; namespace: string; body: { spec: { expirationSeconds: number } } }) => {
      requests.push(req);
      if (fail) throw Object.assign(new Error("boom"), { code: 500 });
      return { status: { token: `tok-${requests.length}`, expirationTimestamp: new Date(Date.now() + req.body.spec.expirationSeconds * 1000) } };
    },
    readNamespacedConfigMap: async ({ name }: { name: string }) => ({ metadata: { name }, data: { "ca.crt": "CA PEM" } }),
  } as unknown as CoreV1Api;
  const vols = new PodVolumes(join(dir, "pod"), { core, log: silentLogger, hostPaths: { mapped: { "/var/lib/conform": join(dir, "agent") }, nodeRoot: join(dir, "rootfs") }, nodeName: "node1", nodeIP: "198.18.0.11" });
  t.after(() => vols.stop());
  await vols.prepare(pod);
  const sa = vols.pathOf("kube-api-access-abcde") ?? "";
  assert.equal(readFileSync(join(sa, "token"), "utf8"), "tok-1");
  assert.equal(readFileSync(join(sa, "ca.crt"), "utf8"), "CA PEM");
  assert.equal(readFileSync(join(sa, "namespace"), "utf8"), "kube-system");
  assert.equal(statSync(join(sa, "token")).mode & 0o777, 0o644);
  assert.deepEqual(requests[0], {
    name: "conform-agent",
    namespace: "kube-system",
    body: {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { audiences: [], expirationSeconds: 3607, boundObjectRef: { apiVersion: "v1", kind: "Pod", name: "agent-x", uid: "u-1" } },
    },
  });
  assert.equal(vols.pathOf("state"), join(dir, "agent"));
  assert.ok(statSync(join(dir, "agent")).isDirectory(), "DirectoryOrCreate created the mapped dir");

  const renewAtMs = Math.floor(3607_000 * 0.8);
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  mock.timers.tick(renewAtMs - 1);
  await settle();
  assert.equal(requests.length, 1, "not renewed before 80% of the lifetime");
  mock.timers.tick(1);
  await settle();
  assert.equal(requests.length, 2, "renewed at 80%");
  assert.equal(readFileSync(join(sa, "token"), "utf8"), "tok-2");
  assert.equal(readFileSync(join(sa, "ca.crt"), "utf8"), "CA PEM", "the other files of the volume stay");

  fail = true;
  mock.timers.tick(renewAtMs);
  await settle();
  assert.equal(requests.length, 3);
  assert.equal(readFileSync(join(sa, "token"), "utf8"), "tok-2", "a failed renewal keeps the current token");
  fail = false;
  mock.timers.tick(1000);
  await settle();
  assert.equal(requests.length, 4, "retried a second later");
  assert.equal(readFileSync(join(sa, "token"), "utf8"), "tok-4");

  vols.remove();
  mock.timers.tick(10 * renewAtMs);
  await settle();
  assert.equal(requests.length, 4, "no renewal after the pod is gone");
  assert.throws(() => statSync(join(dir, "pod", "volumes")), /ENOENT/, "the token is deleted with the pod");
});

test("volume problems name the volume: missing ConfigMap, unsupported type, failed hostPath check", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cft-kl-vol-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const core = { readNamespacedConfigMap: async () => Promise.reject(Object.assign(new Error("nf"), { code: 404 })) } as unknown as CoreV1Api;
  const vols = new PodVolumes(join(dir, "pod"), { core, log: silentLogger, hostPaths: { mapped: {}, nodeRoot: join(dir, "rootfs") }, nodeName: "n", nodeIP: "198.18.0.11" });
  const withVolume = (v: NonNullable<NonNullable<V1Pod["spec"]>["volumes"]>[number]): V1Pod => ({ ...pod, spec: { containers: [], volumes: [v] } });
  await assert.rejects(vols.prepare(withVolume({ name: "cfg", configMap: { name: "settings" } })), /volume "cfg": configmap "settings" not found/);
  await vols.prepare(withVolume({ name: "opt", configMap: { name: "settings", optional: true } }));
  await assert.rejects(vols.prepare(withVolume({ name: "nfs", nfs: { server: "x", path: "/" } })), /volume "nfs": volume type "nfs" is not supported/);
  await assert.rejects(vols.prepare(withVolume({ name: "h", hostPath: { path: "/var/lib/absent", type: "Directory" } })), /volume "h": hostPath type check failed: \/var\/lib\/absent/);
});
