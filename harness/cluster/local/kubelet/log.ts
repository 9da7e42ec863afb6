// The kubelet logs like the agent (one line per event: time, level, [component], message,
// key=value context); stdout goes to kubelet-<node>.log.
import { createLogger as createComponentLogger } from "../../../../agent/k8s/log.js";
import type { Logger } from "../../../../agent/k8s/log.js";

export type { LogFields, Logger } from "../../../../agent/k8s/log.js";
export { errorMessage } from "../../../../agent/k8s/log.js";

export function createLogger(write: (line: string) => void = (l) => process.stdout.write(l + "\n")): Logger {
  return createComponentLogger("kubelet", write);
}
