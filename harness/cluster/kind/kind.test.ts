// The kind provider without Docker: the command lines it runs, the config it renders, and the
// errors it gives when kind or a container runtime is missing. Fake `kind`/`docker` scripts on a
// private PATH stand in for the tools; nothing here talks to a container runtime.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { InputError } from "../../util/yaml-schema.js";
import { ClusterProviderError } from "../provider.js";
import { containerRuntime, kindCommands, parseClusterList } from "./commands.js";
import { DEFAULT_KIND_CONFIG, indexedNodeCount, loadKindConfig, renderKindConfig } from "./config.js";
import { KindProvider } from "./provider.js";
import type { CommandRunner } from "./provider.js";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "cft-rn-kind-"));
}

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("kind command lines (no Docker)", () => {
  test("create, delete, get and load", () => {
    assert.deepEqual(kindCommands.create({ name: "rn1", configFile: "/w/kind-config.yaml", kubeconfig: "/w/kubeconfig" }), [
      "create", "cluster", "--name", "rn1", "--config", "/w/kind-config.yaml", "--kubeconfig", "/w/kubeconfig", "--wait", "120s",
    ]);
    assert.deepEqual(kindCommands.create({ name: "rn1", configFile: "c", kubeconfig: "k", image: "kindest/node:v1.36.0" }).slice(-2), ["--image", "kindest/node:v1.36.0"]);
    assert.deepEqual(kindCommands.delete({ name: "rn1", kubeconfig: "/w/kubeconfig" }), ["delete", "cluster", "--name", "rn1", "--kubeconfig", "/w/kubeconfig"]);
    assert.deepEqual(kindCommands.getKubeconfig({ name: "rn1" }), ["get", "kubeconfig", "--name", "rn1"]);
    assert.deepEqual(kindCommands.getClusters(), ["get", "clusters"]);
    assert.deepEqual(kindCommands.loadImage({ name: "rn1", image: "conform/probe:v1" }), ["load", "docker-image", "conform/probe:v1", "--name", "rn1"]);
  });

  test("kind get clusters output, and the runtime kind would use", () => {
    assert.deepEqual(parseClusterList("kind\nrn1\n"), ["kind", "rn1"]);
    assert.deepEqual(parseClusterList("No kind clusters found.\n"), []);
    assert.equal(containerRuntime({}), "docker");
    assert.equal(containerRuntime({ KIND_EXPERIMENTAL_PROVIDER: "podman" }), "podman");
  });
});

describe("kind config rendering (no Docker)", () => {
  test("workers get node indexes in file order; conform's ranges fill in unset networking", () => {
    const rendered = renderKindConfig(DEFAULT_KIND_CONFIG, "rn1");
    assert.equal(rendered.name, "rn1");
    assert.deepEqual(rendered.nodes, [
      { role: "control-plane" },
      { role: "worker", labels: { "conform.dev/node-index": "1" } },
      { role: "worker", labels: { "conform.dev/node-index": "2" } },
    ]);
    assert.deepEqual(rendered.networking, { podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/16" });
    assert.equal(indexedNodeCount(DEFAULT_KIND_CONFIG), 2);
  });

  test("the file's own settings and labels are kept; a lone control plane becomes node 1", () => {
    const config = {
      kind: "Cluster" as const,
      apiVersion: "kind.x-k8s.io/v1alpha4" as const,
      name: "from-file",
      networking: { disableDefaultCNI: true, podSubnet: "10.250.0.0/16" },
      nodes: [{ role: "control-plane" as const, extraPortMappings: [{ containerPort: 80 }] }],
    };
    const rendered = renderKindConfig(config, "rn2");
    assert.equal(rendered.name, "rn2");
    assert.deepEqual(rendered.networking, { podSubnet: "10.250.0.0/16", serviceSubnet: "10.96.0.0/16", disableDefaultCNI: true });
    assert.deepEqual(rendered.nodes, [{ role: "control-plane", extraPortMappings: [{ containerPort: 80 }], labels: { "conform.dev/node-index": "1" } }]);
    // The input is not modified.
    assert.equal(config.nodes[0] && "labels" in config.nodes[0], false);
  });

  test("the shipped clusters/kind/default.yaml loads", () => {
    const config = loadKindConfig(new URL("../../../../clusters/kind/default.yaml", import.meta.url).pathname);
    assert.equal(indexedNodeCount(config), 2);
  });

  test("a bad kind file names the file, line and field", () => {
    const dir = tempDir();
    try {
      const file = join(dir, "bad.yaml");
      writeFileSync(file, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: master\n");
      assert.throws(() => loadKindConfig(file), (err: unknown) => err instanceof InputError && err.message.includes(`${file}:4: nodes[0].role:`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("kind provider without kind or Docker (no Docker)", () => {
  test("kind missing from PATH: a clear error saying what to install", async () => {
    const dir = tempDir();
    try {
      const provider = new KindProvider({ env: { PATH: dir }, workDir: dir });
      await assert.rejects(provider.acquire({ name: "rn1", keep: false }), (err: unknown) => {
        assert.ok(err instanceof ClusterProviderError);
        assert.match(err.message, /needs the `kind` command, which is not on PATH/);
        assert.match(err.message, /use --cluster local/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("kind present but the Docker daemon unreachable: a clear error naming docker", async () => {
    const dir = tempDir();
    try {
      script(dir, "kind", "exit 0");
      script(dir, "docker", 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1');
      const provider = new KindProvider({ env: { PATH: dir }, workDir: dir });
      await assert.rejects(provider.acquire({ name: "rn1", keep: false }), /kind needs a running docker, but `docker info` failed: Cannot connect to the Docker daemon/);
      // No docker binary at all.
      rmSync(join(dir, "docker"));
      await assert.rejects(provider.acquire({ name: "rn1", keep: false }), /kind needs docker, which is not on PATH/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a bad --config is reported before any tool runs", async () => {
    const dir = tempDir();
    try {
      const file = join(dir, "cluster.yaml");
      writeFileSync(file, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\n");
      const provider = new KindProvider({ env: { PATH: dir }, workDir: dir });
      await assert.rejects(provider.acquire({ name: "rn1", keep: false, config: file }), (err: unknown) => err instanceof InputError && /cluster\.yaml:2: apiVersion/.test(err.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the commands a create runs, in order, with the rendered config (fake tools)", async () => {
    const dir = tempDir();
    try {
      script(dir, "kind", "exit 0");
      script(dir, "docker", "exit 0");
      const calls: string[][] = [];
      const runCommand: CommandRunner = async (file, args) => {
        calls.push([file.split("/").pop()!, ...args]);
        if (args[0] === "create") throw new Error("ERROR: failed to create cluster: (fake) no nodes");
        return "";
      };
      const provider = new KindProvider({ env: { PATH: dir }, workDir: dir, runCommand });
      await assert.rejects(provider.acquire({ name: "rn1", keep: false }), /fake/);
      const work = join(dir, "rn1");
      assert.deepEqual(calls, [
        ["docker", "info"],
        ["kind", "get", "clusters"],
        ["kind", ...kindCommands.create({ name: "rn1", configFile: join(work, "kind-config.yaml"), kubeconfig: join(work, "kubeconfig") })],
      ]);
      const rendered = parse(readFileSync(join(work, "kind-config.yaml"), "utf8"));
      assert.equal(rendered.name, "rn1");
      assert.equal(rendered.nodes[2].labels["conform.dev/node-index"], "2");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an existing cluster of that name needs --keep (fake tools)", async () => {
    const dir = tempDir();
    try {
      script(dir, "kind", "exit 0");
      script(dir, "docker", "exit 0");
      const runCommand: CommandRunner = async (_file, args) => (args[0] === "get" && args[1] === "clusters" ? "rn1\n" : "");
      const provider = new KindProvider({ env: { PATH: dir }, workDir: dir, runCommand });
      await assert.rejects(provider.acquire({ name: "rn1", keep: false }), /a kind cluster named "rn1" already exists; reuse it with --keep/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("release deletes only a cluster it created and was not told to keep", async () => {
    const dir = tempDir();
    try {
      script(dir, "kind", "exit 0");
      const calls: string[][] = [];
      const provider = new KindProvider({ env: { PATH: dir }, workDir: dir, runCommand: async (_f, args) => (calls.push([...args]), "") });
      const handle = { name: "rn1", kubeconfigPath: "/w/kc", created: true, keep: false } as never;
      await provider.release(handle);
      await provider.release({ ...(handle as object), keep: true } as never);
      await provider.release({ ...(handle as object), created: false } as never);
      assert.deepEqual(calls, [kindCommands.delete({ name: "rn1", kubeconfig: "/w/kc" })]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
