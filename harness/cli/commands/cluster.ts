// `conform cluster up|down|status|kubeconfig`: the local provider's lifecycle.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { defaultLocalConfig, loadLocalConfig } from "../../cluster/local/config.js";
import type { LocalClusterConfig } from "../../cluster/local/config.js";
import { downAll, downCluster, knownClusters } from "../../cluster/local/down.js";
import { CLUSTER_NAME_RE } from "../../cluster/local/names.js";
import { clusterStatus } from "../../cluster/local/status.js";
import { readState } from "../../cluster/local/state.js";
import { kubeconfigPath, upCluster } from "../../cluster/local/up.js";
import { CliError } from "../errors.js";

const DEFAULT_NAME = "conform";

function clusterName(opts: { name?: string }, config?: LocalClusterConfig): string {
  const name = opts.name ?? config?.metadata.name ?? DEFAULT_NAME;
  if (!CLUSTER_NAME_RE.test(name)) throw new CliError(`--name ${JSON.stringify(name)}: lower-case letters, digits and '-', at most 32 characters`);
  return name;
}

export function register(program: Command): void {
  const cluster = program.command("cluster").description("create, inspect and remove local clusters (real control plane, netns nodes)");

  cluster
    .command("up")
    .description("bring up a local cluster")
    .option("--name <name>", "cluster name (default: the config's metadata.name, else \"conform\")")
    .option("--config <file>", "cluster definition, e.g. clusters/local/default.yaml")
    .action(async (opts: { name?: string; config?: string }) => {
      const config = opts.config ? loadLocalConfig(opts.config) : defaultLocalConfig();
      const name = clusterName(opts, config);
      const abort = new AbortController();
      const onSignal = () => {
        console.error(`\ninterrupted: tearing down cluster "${name}"…`);
        abort.abort();
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        const r = await upCluster({ name, config, signal: abort.signal, log: (l) => console.log(l) });
        console.log(`kubeconfig: ${r.kubeconfig}`);
        console.log(`  export KUBECONFIG=$(conform cluster kubeconfig --name ${name} --path)`);
      } catch (err) {
        // upCluster has already removed what it created; 130 is the shell's code for Ctrl-C.
        if (abort.signal.aborted) process.exit(130);
        throw err;
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });

  cluster
    .command("down")
    .description("remove a local cluster: processes, network namespaces, links and state")
    .option("--name <name>", "cluster name", DEFAULT_NAME)
    .option("--all", "remove every local cluster and sweep leftovers of crashed runs")
    .action(async (opts: { name: string; all?: boolean }) => {
      const reports = opts.all ? await downAll() : [await downCluster(clusterName(opts))];
      for (const r of reports) {
        console.log(`removed ${r.cluster}: ${r.netns.length} netns, ${r.links.length} links, ${r.processes} processes`);
      }
    });

  cluster
    .command("status")
    .description("show local clusters and their health")
    .option("--name <name>", "only this cluster")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (opts: { name?: string; output: string }) => {
      const names = opts.name ? [clusterName(opts)] : knownClusters();
      const statuses = (await Promise.all(names.map(clusterStatus))).filter((s) => s !== undefined);
      if (opts.output === "json") {
        console.log(JSON.stringify(statuses, null, 2));
        return;
      }
      if (statuses.length === 0) {
        console.log(opts.name ? `no local cluster named "${opts.name}"` : "no local clusters");
        if (opts.name) process.exitCode = 1;
        return;
      }
      for (const s of statuses) {
        console.log(`${s.name}: ${s.phase}, Kubernetes ${s.kubernetesVersion}, API ${s.server} (${s.apiReachable ? "reachable" : "UNREACHABLE"})`);
        console.log(`  components: ${Object.entries(s.components).map(([c, up]) => `${c}=${up ? "running" : "DEAD"}`).join(" ")}`);
        for (const n of s.nodes) {
          console.log(`  ${n.name} ${n.ip} podCIDR=${n.podCIDR ?? "-"} ready=${n.ready} kubelet=${n.kubelet ? "running" : "DEAD"}`);
        }
      }
    });

  cluster
    .command("kubeconfig")
    .description("print the admin kubeconfig of a local cluster (or its path)")
    .option("--name <name>", "cluster name", DEFAULT_NAME)
    .option("--path", "print the file path instead of its content")
    .action((opts: { name: string; path?: boolean }) => {
      const name = clusterName(opts);
      if (!readState(name)) throw new CliError(`no local cluster named "${name}"; create it with: conform cluster up --name ${name}`);
      const path = kubeconfigPath(name);
      process.stdout.write(opts.path ? `${path}\n` : readFileSync(path, "utf8"));
    });
}
