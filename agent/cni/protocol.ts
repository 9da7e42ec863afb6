/**
 * The plugin ↔ agent protocol over the unix socket, and the plugin's network configuration.
 *
 * Framing: one request per connection. The plugin writes one JSON object followed by "\n"; the
 * agent answers with one JSON object followed by "\n" and closes. JSON never contains a raw
 * newline, so the line is the frame. Requests are validated here, in the agent; the plugin only
 * forwards (wire.ts explains why).
 *
 *   request  {"v":1,"command":"ADD"|"DEL"|"CHECK","containerId","netns","ifName",
 *             "args":{"K8S_POD_NAMESPACE":…,…},"config":{…the plugin's stdin…}}
 *   response {"ok":true,"result":{…CNI 1.0.0 result…}}          (ADD)
 *            {"ok":true}                                        (DEL, CHECK)
 *            {"ok":false,"error":{"code":N,"msg":"…","details":"…"}}
 */
import { z } from "zod";
import { PLUGIN_TYPE, PROTOCOL_VERSION, SUPPORTED_CNI_VERSIONS } from "./wire.js";

export const CNI_COMMANDS = ["ADD", "DEL", "CHECK"] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

/** The conform-cni entry of a conflist, as the plugin receives it on stdin. */
export const netConfSchema = z.looseObject({
  cniVersion: z.enum(SUPPORTED_CNI_VERSIONS),
  name: z.string().min(1),
  type: z.literal(PLUGIN_TYPE),
  /** Agent's CNI socket. */
  socketPath: z.string().startsWith("/").optional(),
  /** Where DEL requests are queued while the agent is down (the agent replays them on start). */
  deleteQueueDir: z.string().startsWith("/").optional(),
  /** How long the plugin waits for the agent's answer. */
  timeoutSeconds: z.number().positive().max(600).optional(),
  prevResult: z.record(z.string(), z.unknown()).optional(),
  runtimeConfig: z.record(z.string(), z.unknown()).optional(),
});
export type NetConf = z.infer<typeof netConfSchema>;

export const agentRequestSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  command: z.enum(CNI_COMMANDS),
  containerId: z.string().min(1),
  netns: z.string(),
  ifName: z.string(),
  args: z.record(z.string(), z.string()),
  config: z.record(z.string(), z.unknown()),
});
export type AgentRequest = z.infer<typeof agentRequestSchema>;

export const cniErrorSchema = z.object({ code: z.number().int(), msg: z.string(), details: z.string().optional() });

export const agentResponseSchema = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), result: z.record(z.string(), z.unknown()).optional() }),
  z.object({ ok: z.literal(false), error: cniErrorSchema }),
]);
export type AgentResponse = z.infer<typeof agentResponseSchema>;

/** The request of a DEL the plugin could not deliver, as stored in the delete queue. */
export const queuedDeleteSchema = agentRequestSchema.extend({ command: z.literal("DEL"), queuedAt: z.string() });
export type QueuedDelete = z.infer<typeof queuedDeleteSchema>;

/** First issue of a zod error as "field: message" (errors must name the field). */
export function firstIssue(err: z.ZodError, prefix = ""): string {
  const issue = err.issues[0];
  const path = issue?.path.map(String).join(".") ?? "";
  return `${prefix}${path || "(root)"}: ${issue?.message ?? "invalid"}`;
}
