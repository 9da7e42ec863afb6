// Changing the bundled agent's settings on a running local cluster the way an operator changes a
// Cilium agent's: edit the agent ConfigMap, delete the agent pods, let the DaemonSet bring up new
// ones that read it. Test support for integration tests; nothing here is used by `conform`.
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { getAgentJson, parseAgentAddress } from "../../../../agent/api/client.js";
import { agentApiSocketPath } from "../../../../agent/api/paths.js";
import { AgentStatusSchema } from "../../../../agent/api/provider.js";
import { waitFor } from "../../../util/wait.js";
import { AGENT_CONFIGMAP, AGENT_NAMESPACE } from "../node-agent.js";

const AGENT_POD_SELECTOR = "app.kubernetes.io/name=conform-agent";
const CONFIG_KEY = "config.yaml";

export type AgentSettings = Record<string, unknown>;

/**
 * Rewrites the ConfigMap's `config.yaml` with `edit(current)` and returns what it held before.
 * Agents already running keep their settings until restartAgents.
 */
export async function editAgentSettings(core: CoreV1Api, edit: (current: AgentSettings) => AgentSettings): Promise<AgentSettings> {
  const cm = await core.readNamespacedConfigMap({ namespace: AGENT_NAMESPACE, name: AGENT_CONFIGMAP });
  const current = (parseYaml(cm.data?.[CONFIG_KEY] ?? "") ?? {}) as AgentSettings;
  cm.data = { ...cm.data, [CONFIG_KEY]: stringifyYaml(edit(structuredClone(current))) };
  await core.replaceNamespacedConfigMap({ namespace: AGENT_NAMESPACE, name: AGENT_CONFIGMAP, body: cm });
  return current;
}

/** `policy.<field>` of the agent settings set to the given values, the rest kept. */
export function withPolicySettings(values: AgentSettings): (current: AgentSettings) => AgentSettings {
  return (current) => ({ ...current, policy: { ...((current.policy as AgentSettings | undefined) ?? {}), ...values } });
}

export interface RestartAgentsOptions {
  readonly cluster: string;
  readonly nodes: readonly string[];
  readonly timeoutMs?: number;
  /** Extra text for a timeout message (agent logs). */
  readonly onTimeout?: () => Promise<string>;
}

const isReady = (p: V1Pod): boolean => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

/**
 * Deletes every agent pod and waits until each node runs a new one (another pod uid, Ready) whose
 * agent answers `/v1/status` as ready from another process than before. Only then does the
 * node's datapath follow the settings the new agent read.
 */
export async function restartAgents(core: CoreV1Api, opts: RestartAgentsOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const agents = opts.nodes.map((node) => ({ node, addr: parseAgentAddress(`unix:${agentApiSocketPath(opts.cluster, node)}`) }));
  const oldPids = new Map<string, number | undefined>();
  for (const a of agents) oldPids.set(a.node, AgentStatusSchema.parse(await getAgentJson(a.addr, "/v1/status")).pid);
  const old = (await core.listNamespacedPod({ namespace: AGENT_NAMESPACE, labelSelector: AGENT_POD_SELECTOR })).items;
  const oldUids = new Set(old.map((p) => p.metadata?.uid));
  for (const p of old) await core.deleteNamespacedPod({ namespace: AGENT_NAMESPACE, name: p.metadata!.name! });

  await waitFor(
    "a new Ready agent pod on every node",
    async () => {
      const pods = (await core.listNamespacedPod({ namespace: AGENT_NAMESPACE, labelSelector: AGENT_POD_SELECTOR })).items;
      const fresh = pods.filter((p) => !oldUids.has(p.metadata?.uid) && isReady(p));
      return opts.nodes.every((n) => fresh.some((p) => p.spec?.nodeName === n)) ? true : undefined;
    },
    { timeoutMs, intervalMs: 250, onTimeout: opts.onTimeout },
  );
  await waitFor(
    "every restarted agent to report ready on its socket",
    async () => {
      for (const a of agents) {
        const status = AgentStatusSchema.parse(await getAgentJson(a.addr, "/v1/status"));
        if (!status.ready || status.pid === undefined || status.pid === oldPids.get(a.node)) return undefined;
      }
      return true;
    },
    { timeoutMs, intervalMs: 250, onTimeout: opts.onTimeout },
  );
}
