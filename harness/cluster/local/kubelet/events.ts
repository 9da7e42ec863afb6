// Kubernetes Events from the kubelet (`kubectl describe pod` shows them). Repeats of the same
// event on the same object within a window bump `count` instead of creating new objects, as
// client-go's correlator does, so a crash-looping pod does not flood the API.
import { randomBytes } from "node:crypto";
import type { CoreV1Api } from "@kubernetes/client-node";
import { apiMessage, apiStatus, apiTime, mergePatch } from "./kube.js";
import type { Logger } from "./log.js";

export interface InvolvedObject {
  readonly kind: "Pod" | "Node";
  readonly name: string;
  readonly namespace?: string;
  readonly uid: string;
  /** e.g. `spec.containers{app}` */
  readonly fieldPath?: string;
}

export type EventType = "Normal" | "Warning";

const AGGREGATE_WINDOW_MS = 10 * 60_000;

export class EventRecorder {
  private readonly seen = new Map<string, { name: string; namespace: string; count: number; first: string; last: number }>();

  constructor(
    private readonly core: CoreV1Api,
    private readonly host: string,
    private readonly log: Logger,
  ) {}

  /** Per event key, the write in flight: repeats wait for it so they patch rather than create twice. */
  private readonly inFlight = new Map<string, Promise<void>>();

  emit(obj: InvolvedObject, type: EventType, reason: string, message: string): void {
    const key = [obj.uid, obj.fieldPath ?? "", type, reason, message].join("\u0000");
    const run = (this.inFlight.get(key) ?? Promise.resolve())
      .then(() => this.record(key, obj, type, reason, message))
      .catch((err: unknown) =>
        this.log.warn("could not record event", { reason, object: `${obj.kind}/${obj.namespace ?? ""}/${obj.name}`, error: apiMessage(err) }),
      );
    this.inFlight.set(key, run);
    void run.finally(() => {
      if (this.inFlight.get(key) === run) this.inFlight.delete(key);
    });
  }

  private async record(key: string, obj: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    // Events about cluster-scoped objects (the Node) live in "default", as the kubelet's do.
    const namespace = obj.namespace ?? "default";
    const now = new Date();
    const prev = this.seen.get(key);
    if (prev && now.getTime() - prev.last < AGGREGATE_WINDOW_MS) {
      prev.count++;
      prev.last = now.getTime();
      try {
        await this.core.patchNamespacedEvent({ name: prev.name, namespace, body: { count: prev.count, lastTimestamp: apiTime(now) } }, mergePatch);
        return;
      } catch (err) {
        if (apiStatus(err) !== 404) throw err;
        // The event expired (TTL) or was deleted: fall through and create it anew.
      }
    }
    this.prune(now.getTime());
    const name = `${obj.name}.${now.getTime().toString(16)}${randomBytes(2).toString("hex")}`;
    const ts = apiTime(now);
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: "v1",
          kind: obj.kind,
          name: obj.name,
          uid: obj.uid,
          ...(obj.namespace ? { namespace: obj.namespace } : {}),
          ...(obj.fieldPath ? { fieldPath: obj.fieldPath } : {}),
        },
        type,
        reason,
        message,
        source: { component: "kubelet", host: this.host },
        count: 1,
        firstTimestamp: ts as unknown as Date,
        lastTimestamp: ts as unknown as Date,
      },
    });
    this.seen.set(key, { name, namespace, count: 1, first: ts, last: now.getTime() });
  }

  private prune(now: number): void {
    if (this.seen.size < 1000) return;
    for (const [k, v] of this.seen) if (now - v.last > AGGREGATE_WINDOW_MS) this.seen.delete(k);
  }
}
