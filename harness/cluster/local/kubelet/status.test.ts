import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import type { ContainerSnapshot } from "./runtime/container.js";
import { buildPodStatus, podPhase } from "./status.js";
import type { ContainerView, PodStatusInput } from "./status.js";

const T0 = new Date("2026-01-02T03:04:05.678Z");
const T1 = new Date("2026-01-02T03:05:00.000Z");

function pod(over: { restartPolicy?: string; status?: V1Pod["status"]; gates?: string[]; hostNetwork?: boolean } = {}): V1Pod {
  return {
    metadata: { name: "web", namespace: "default", uid: "u-1", generation: 2 },
    spec: {
      nodeName: "node1",
      restartPolicy: over.restartPolicy ?? "Always",
      containers: [{ name: "app", image: "conform/probe:v1" }],
      ...(over.gates ? { readinessGates: over.gates.map((conditionType) => ({ conditionType })) } : {}),
      ...(over.hostNetwork ? { hostNetwork: true } : {}),
    },
    ...(over.status ? { status: over.status } : {}),
  };
}

const running = (pid: number, ready: boolean, restartCount = 0): ContainerSnapshot => ({
  name: "app",
  image: "conform/probe:v1",
  state: { kind: "running", pid, startedAt: T0 },
  restartCount,
  ready,
  started: true,
  final: false,
});

const exited = (exitCode: number, final = true): ContainerSnapshot => ({
  name: "app",
  image: "conform/probe:v1",
  state: { kind: "terminated", exitCode, reason: exitCode === 0 ? "Completed" : "Error", startedAt: T0, finishedAt: T1, pid: 42 },
  restartCount: 0,
  ready: false,
  started: false,
  final,
});

const crashLooping: ContainerSnapshot = {
  name: "app",
  image: "conform/probe:v1",
  state: { kind: "waiting", reason: "CrashLoopBackOff", message: "back-off 10s restarting failed container=app pod=web_default(u-1)" },
  lastTerminated: { kind: "terminated", exitCode: 2, reason: "Error", startedAt: T0, finishedAt: T1, pid: 41 },
  restartCount: 3,
  ready: false,
  started: false,
  final: false,
};

function input(p: V1Pod, containers: ContainerView[], over: Partial<PodStatusInput> = {}): PodStatusInput {
  return { pod: p, nodeIP: "198.18.0.11", now: T1, sandbox: { ready: true, podIPs: ["10.244.1.5"] }, initContainers: [], containers, ...over };
}

const app = (snapshot?: ContainerSnapshot, blocked?: ContainerView["blocked"]): ContainerView => ({
  name: "app",
  image: "conform/probe:v1",
  ...(snapshot ? { snapshot } : {}),
  ...(blocked ? { blocked } : {}),
});

const cond = (s: ReturnType<typeof buildPodStatus>, type: string) => s.conditions.find((c) => c.type === type);

test("a running, ready container makes a Running, Ready pod with IPs, container ID and times", () => {
  const s = buildPodStatus(input(pod(), [app(running(1234, true))]));
  assert.equal(s.phase, "Running");
  assert.equal(s.podIP, "10.244.1.5");
  assert.deepEqual(s.podIPs, [{ ip: "10.244.1.5" }]);
  assert.equal(s.hostIP, "198.18.0.11");
  assert.deepEqual(s.hostIPs, [{ ip: "198.18.0.11" }]);
  assert.equal(s.startTime, "2026-01-02T03:05:00Z");
  assert.equal(s.observedGeneration, 2);
  const c = s.containerStatuses[0];
  assert.deepEqual(c?.state, { running: { startedAt: "2026-01-02T03:04:05Z" } });
  assert.equal(c?.containerID, "conform://1234");
  assert.equal(c?.ready, true);
  assert.equal(c?.started, true);
  for (const type of ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"]) assert.equal(cond(s, type)?.status, "True", type);
});

test("running but not yet ready (no marker line) is Running and not Ready, naming the container", () => {
  const s = buildPodStatus(input(pod(), [app(running(1234, false))]));
  assert.equal(s.phase, "Running");
  assert.equal(cond(s, "Ready")?.status, "False");
  assert.equal(cond(s, "Ready")?.reason, "ContainersNotReady");
  assert.equal(cond(s, "ContainersReady")?.message, "containers with unready status: [app]");
});

test("an unknown image keeps the pod Pending with a waiting reason naming the image", () => {
  const msg = 'image "nginx:1.27" cannot run on the local cluster';
  const s = buildPodStatus(input(pod(), [app(undefined, { reason: "ImageNotRunnableLocally", message: msg })]));
  assert.equal(s.phase, "Pending");
  assert.deepEqual(s.containerStatuses[0]?.state, { waiting: { reason: "ImageNotRunnableLocally", message: msg } });
  assert.equal(s.podIP, "10.244.1.5", "the sandbox still has its IP, as with a real image pull failure");
});

test("no network yet: Pending, ContainerCreating, PodReadyToStartContainers False with the reason", () => {
  const s = buildPodStatus(input(pod(), [app()], { sandbox: { ready: false, podIPs: [], reason: "NetworkPluginNotReady", message: "no CNI configuration" } }));
  assert.equal(s.phase, "Pending");
  assert.equal(s.podIP, undefined);
  assert.deepEqual(s.containerStatuses[0]?.state, { waiting: { reason: "ContainerCreating" } });
  const c = cond(s, "PodReadyToStartContainers");
  assert.equal(c?.status, "False");
  assert.equal(c?.reason, "NetworkPluginNotReady");
  assert.equal(c?.message, "no CNI configuration");
});

test("CrashLoopBackOff: Running phase under Always, last state and restart count reported", () => {
  const s = buildPodStatus(input(pod(), [app(crashLooping)]));
  assert.equal(s.phase, "Running");
  const c = s.containerStatuses[0];
  assert.equal(c?.state.waiting?.reason, "CrashLoopBackOff");
  assert.equal(c?.restartCount, 3);
  assert.deepEqual(c?.lastState, {
    terminated: { exitCode: 2, reason: "Error", startedAt: "2026-01-02T03:04:05Z", finishedAt: "2026-01-02T03:05:00Z", containerID: "conform://41" },
  });
  assert.equal(c?.containerID, "conform://41");
});

test("phase follows restartPolicy for exited containers", () => {
  assert.equal(podPhase(input(pod({ restartPolicy: "Never" }), [app(exited(0))])), "Succeeded");
  assert.equal(podPhase(input(pod({ restartPolicy: "Never" }), [app(exited(1))])), "Failed");
  assert.equal(podPhase(input(pod({ restartPolicy: "OnFailure" }), [app(exited(0))])), "Succeeded");
  assert.equal(podPhase(input(pod({ restartPolicy: "OnFailure" }), [app(crashLooping)])), "Running");
  assert.equal(podPhase(input(pod({ restartPolicy: "Always" }), [app(exited(0, false))])), "Running");
  // Deleted pods end terminal once their processes are gone.
  assert.equal(podPhase(input(pod(), [app(exited(143))], { terminating: true })), "Failed");
  assert.equal(podPhase(input(pod(), [app(exited(0))], { terminating: true })), "Succeeded");
  // A terminal phase never goes back.
  assert.equal(podPhase(input(pod({ status: { phase: "Succeeded" } }), [app(running(1, true))])), "Succeeded");
});

test("terminated containers report exit code, signal and reason; terminal pods say PodCompleted", () => {
  const killed: ContainerSnapshot = { ...exited(137), state: { kind: "terminated", exitCode: 137, signal: 9, reason: "Error", message: "killed by SIGKILL", finishedAt: T1, pid: 7 } };
  const s = buildPodStatus(input(pod({ restartPolicy: "Never" }), [app(killed)]));
  assert.equal(s.phase, "Failed");
  assert.deepEqual(s.containerStatuses[0]?.state.terminated, { exitCode: 137, signal: 9, reason: "Error", message: "killed by SIGKILL", finishedAt: "2026-01-02T03:05:00Z", containerID: "conform://7" });
  assert.equal(cond(s, "Ready")?.reason, "PodCompleted");
});

test("init containers gate the pod: Initialized False and PodInitializing until they succeed", () => {
  const init: ContainerView = { name: "setup", image: "conform/probe:v1", snapshot: { ...running(9, false), name: "setup" } };
  const s = buildPodStatus(input(pod(), [app()], { initContainers: [init] }));
  assert.equal(s.phase, "Pending");
  assert.equal(cond(s, "Initialized")?.status, "False");
  assert.equal(cond(s, "Initialized")?.message, "containers with incomplete status: [setup]");
  assert.equal(s.containerStatuses[0]?.state.waiting?.reason, "PodInitializing");
  const done = buildPodStatus(input(pod(), [app(running(10, true))], { initContainers: [{ ...init, snapshot: { ...exited(0), name: "setup" } }] }));
  assert.equal(done.phase, "Running");
  assert.equal(cond(done, "Initialized")?.status, "True");
  assert.equal(done.initContainerStatuses?.[0]?.state.terminated?.reason, "Completed");
  const failed = podPhase(input(pod({ restartPolicy: "Never" }), [app()], { initContainers: [{ ...init, snapshot: { ...exited(1), name: "setup" } }] }));
  assert.equal(failed, "Failed");
});

test("transition times are kept while a condition holds, moved when it flips; PodScheduled is preserved", () => {
  const prev = {
    phase: "Running",
    startTime: "2026-01-01T00:00:00Z" as unknown as Date,
    conditions: [
      { type: "Ready", status: "True", lastTransitionTime: "2026-01-01T00:00:10Z" as unknown as Date },
      { type: "ContainersReady", status: "True", lastTransitionTime: "2026-01-01T00:00:10Z" as unknown as Date },
      { type: "PodScheduled", status: "True", lastTransitionTime: "2026-01-01T00:00:01Z" as unknown as Date },
    ],
  };
  const same = buildPodStatus(input(pod({ status: prev }), [app(running(1, true))]));
  assert.equal(cond(same, "Ready")?.lastTransitionTime, "2026-01-01T00:00:10Z");
  assert.equal(cond(same, "PodScheduled")?.lastTransitionTime, "2026-01-01T00:00:01Z");
  assert.equal(same.startTime, "2026-01-01T00:00:00Z");
  const flipped = buildPodStatus(input(pod({ status: prev }), [app(running(1, false))]));
  assert.equal(cond(flipped, "Ready")?.lastTransitionTime, "2026-01-02T03:05:00Z");
  // Deterministic: same inputs, same bytes (no spurious status writes).
  assert.equal(JSON.stringify(buildPodStatus(input(pod({ status: prev }), [app(running(1, true))]))), JSON.stringify(same));
});

test("readiness gates hold Ready back until their condition is True", () => {
  const notYet = buildPodStatus(input(pod({ gates: ["conform.dev/policy-ready"] }), [app(running(1, true))]));
  assert.equal(cond(notYet, "ContainersReady")?.status, "True");
  assert.equal(cond(notYet, "Ready")?.status, "False");
  assert.equal(cond(notYet, "Ready")?.reason, "ReadinessGatesNotReady");
  const gated = pod({ gates: ["conform.dev/policy-ready"], status: { conditions: [{ type: "conform.dev/policy-ready", status: "True" }] } });
  assert.equal(cond(buildPodStatus(input(gated, [app(running(1, true))])), "Ready")?.status, "True");
});

test("a terminal pod keeps its IP after the sandbox is torn down", () => {
  const p = pod({ restartPolicy: "Never", status: { podIPs: [{ ip: "10.244.1.9" }], podIP: "10.244.1.9" } });
  const s = buildPodStatus(input(p, [app(exited(0))], { sandbox: { ready: false, podIPs: [] } }));
  assert.equal(s.podIP, "10.244.1.9");
});
