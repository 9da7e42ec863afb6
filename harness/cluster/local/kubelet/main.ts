// The netns kubelet: one process per node of a local cluster, started inside the node netns.
//   node dist/harness/cluster/local/kubelet/main.js --config <kubelet.json>
// SIGTERM/SIGINT stop every container it started, then exit 0. See README.md.
import { CoordinationV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { CniInvoker } from "./cni/invoker.js";
import { loadKubeletConfig } from "./config.js";
import type { KubeletConfig } from "./config.js";
import { EventRecorder } from "./events.js";
import { createLogger, errorMessage } from "./log.js";
import type { Logger } from "./log.js";
import { NetnsOps } from "./netns.js";
import { NodeAgent } from "./node-agent.js";
import { gatherNodeFacts } from "./node-facts.js";
import { PodManager } from "./pod-manager.js";
import { SandboxManager } from "./sandbox.js";

function parseArgs(argv: readonly string[]): { config: string } {
  const i = argv.indexOf("--config");
  const config = i >= 0 ? argv[i + 1] : undefined;
  if (!config) {
    process.stderr.write("usage: kubelet --config <file.json|yaml>\n");
    process.exit(2);
  }
  return { config };
}

function apiServerEndpoint(kc: KubeConfig): { host: string; port: string } | undefined {
  const server = kc.getCurrentCluster()?.server;
  if (!server) return undefined;
  const u = new URL(server);
  return { host: u.hostname, port: u.port || (u.protocol === "https:" ? "443" : "80") };
}

export interface RunningKubelet {
  readonly stop: () => Promise<void>;
}

export async function runKubelet(cfg: KubeletConfig, log: Logger): Promise<RunningKubelet> {
  const netns = new NetnsOps({ hostMountNamespace: cfg.hostMountNamespace });
  log.info("starting netns kubelet", { node: cfg.nodeName, cluster: cfg.cluster, nodeIP: cfg.nodeIP, version: cfg.kubernetesVersion, pid: process.pid, mounts: netns.note });
  const kc = new KubeConfig();
  kc.loadFromFile(cfg.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const coord = kc.makeApiClient(CoordinationV1Api);
  const events = new EventRecorder(core, cfg.nodeName, log);
  const node = new NodeAgent(cfg, core, coord, events, log, gatherNodeFacts(cfg));
  const sandboxes = new SandboxManager(cfg.cluster, cfg.stateDir, netns, new CniInvoker({ binDirs: [cfg.cniBinDir] }), log);
  const pods = new PodManager(kc, core, {
    cfg,
    core,
    events,
    log,
    sandboxes,
    network: () => node.networkStatus(),
    apiServer: apiServerEndpoint(kc),
  });
  node.onNetworkChange(() => pods.kickAll());

  await node.register();
  node.start();
  await pods.start();
  log.info("kubelet running", { node: cfg.nodeName });
  return {
    stop: async () => {
      node.stop();
      await pods.shutdown(cfg.shutdownGraceSeconds * 1000);
    },
  };
}

async function main(): Promise<void> {
  const { config } = parseArgs(process.argv.slice(2));
  const log = createLogger();
  let cfg: KubeletConfig;
  try {
    cfg = loadKubeletConfig(config);
  } catch (err) {
    process.stderr.write(`kubelet: invalid config: ${errorMessage(err)}\n`);
    process.exit(2);
  }
  const state: { running?: RunningKubelet } = {};
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping: terminating containers", { signal });
    void (state.running?.stop() ?? Promise.resolve())
      .catch((err: unknown) => log.error("error while stopping", { error: errorMessage(err) }))
      .finally(() => {
        log.info("stopped");
        process.exit(0);
      });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  state.running = await runKubelet(cfg, log);
  // A signal during start-up found nothing to stop yet; stop what has started since.
  if (stopping) await state.running.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`kubelet: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
