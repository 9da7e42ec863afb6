// Machine facts for the Node object. Every node of a local cluster shares one machine, so the
// IDs that must differ between nodes are derived from the machine's and the node's names.
import { createHash } from "node:crypto";
import { readFileSync, statfsSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import type { KubeletConfig } from "./config.js";
import { goArch } from "./node-status.js";
import type { NodeFacts } from "./node-status.js";

function readTrim(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

function osImage(): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readTrim("/etc/os-release"));
  return m?.[1] ?? "Linux";
}

export function gatherNodeFacts(cfg: KubeletConfig): NodeFacts {
  const digest = createHash("sha256").update(`${readTrim("/etc/machine-id")}/${cfg.cluster}/${cfg.nodeName}`).digest("hex");
  const uuid = `${digest.slice(0, 8)}-${digest.slice(8, 12)}-${digest.slice(12, 16)}-${digest.slice(16, 20)}-${digest.slice(20, 32)}`;
  let ephemeralStorageBytes: number | undefined;
  try {
    const fs = statfsSync(cfg.stateDir);
    ephemeralStorageBytes = fs.blocks * fs.bsize;
  } catch {
    ephemeralStorageBytes = undefined;
  }
  return {
    nodeName: cfg.nodeName,
    nodeIP: cfg.nodeIP,
    kubernetesVersion: cfg.kubernetesVersion,
    extraLabels: cfg.labels,
    arch: goArch(process.arch),
    cpus: cpus().length,
    memoryBytes: totalmem(),
    ...(ephemeralStorageBytes !== undefined ? { ephemeralStorageBytes } : {}),
    maxPods: cfg.maxPods,
    kernelVersion: release(),
    osImage: osImage(),
    machineID: digest.slice(0, 32),
    systemUUID: uuid,
    bootID: readTrim("/proc/sys/kernel/random/boot_id"),
  };
}
