// A container's environment and argv, resolved the way the kubelet does: `value` with $(VAR)
// expansion against earlier variables, `valueFrom.fieldRef` from the Pod, ConfigMap keys (read by
// the caller beforehand), later entries win. Sources the local cluster cannot serve (Secrets,
// resources) are a clear CreateContainerConfigError unless marked optional.
import type { V1Container, V1Pod } from "@kubernetes/client-node";

export interface EnvContext {
  readonly pod: V1Pod;
  readonly nodeName: string;
  readonly nodeIP: string;
  /** Pod IPs once the sandbox exists (node IP for hostNetwork pods). */
  readonly podIPs: readonly string[];
  /** The API server as reachable from pods (there is no kube-proxy for the `kubernetes` Service). */
  readonly apiServer?: { readonly host: string; readonly port: string } | undefined;
  /** Inherited variables, normally just PATH. */
  readonly base?: Readonly<Record<string, string>>;
  /** The container's working directory (becomes HOME). */
  readonly workDir?: string;
  /** ConfigMaps the container refers to, by name (null: it does not exist). */
  readonly configMaps?: ReadonlyMap<string, Readonly<Record<string, string>> | null>;
}

/** Names of the ConfigMaps a container's env refers to, so the caller can read them first. */
export function referencedConfigMaps(container: V1Container): string[] {
  const names = new Set<string>();
  for (const e of container.envFrom ?? []) if (e.configMapRef?.name) names.add(e.configMapRef.name);
  for (const e of container.env ?? []) if (e.valueFrom?.configMapKeyRef?.name) names.add(e.valueFrom.configMapKeyRef.name);
  return [...names];
}

export type EnvResolution =
  | { readonly ok: true; readonly env: Record<string, string> }
  | { readonly ok: false; readonly reason: "CreateContainerConfigError"; readonly message: string };

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Replaces `$(NAME)` with the value of NAME when it is defined; `$$` yields a literal `$` so
 * `$$(NAME)` stays unexpanded; references to undefined names are kept verbatim.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== "$" || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const close = input.indexOf(")", i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const value = name.length > 0 ? lookup(name) : undefined;
      out += value ?? input.slice(i, close + 1);
      i = close;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Value of a downward-API field path, or an error message. */
export function fieldRefValue(fieldPath: string, ctx: EnvContext): { value: string } | { error: string } {
  const { pod } = ctx;
  const labelOrAnnotation = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (labelOrAnnotation) {
    const map = labelOrAnnotation[1] === "labels" ? pod.metadata?.labels : pod.metadata?.annotations;
    return { value: map?.[labelOrAnnotation[2] ?? ""] ?? "" };
  }
  const hostIPs = [ctx.nodeIP];
  switch (fieldPath) {
    case "metadata.name":
      return { value: pod.metadata?.name ?? "" };
    case "metadata.namespace":
      return { value: pod.metadata?.namespace ?? "" };
    case "metadata.uid":
      return { value: pod.metadata?.uid ?? "" };
    case "spec.nodeName":
      return { value: pod.spec?.nodeName ?? ctx.nodeName };
    case "spec.serviceAccountName":
      return { value: pod.spec?.serviceAccountName ?? "" };
    case "status.hostIP":
      return { value: hostIPs[0] ?? "" };
    case "status.hostIPs":
      return { value: hostIPs.join(",") };
    case "status.podIP":
      return { value: ctx.podIPs[0] ?? "" };
    case "status.podIPs":
      return { value: ctx.podIPs.join(",") };
    default:
      return { error: `unsupported fieldRef.fieldPath "${fieldPath}"` };
  }
}

export function resolveEnv(container: V1Container, ctx: EnvContext): EnvResolution {
  const env = new Map<string, string>();
  const pod = ctx.pod;
  const hostNetwork = pod.spec?.hostNetwork === true;
  env.set("PATH", ctx.base?.["PATH"] ?? DEFAULT_PATH);
  env.set("HOSTNAME", hostNetwork ? ctx.nodeName : (pod.metadata?.name ?? ""));
  if (ctx.workDir) env.set("HOME", ctx.workDir);
  if (ctx.apiServer) {
    env.set("KUBERNETES_SERVICE_HOST", ctx.apiServer.host);
    env.set("KUBERNETES_SERVICE_PORT", ctx.apiServer.port);
  }
  env.set("POD_NAME", pod.metadata?.name ?? "");
  env.set("POD_NAMESPACE", pod.metadata?.namespace ?? "");
  env.set("NODE_NAME", ctx.nodeName);

  const where = (i: number, name?: string) => `container "${container.name}" env[${i}]${name ? ` (${name})` : ""}`;

  const configMap = (name: string) => ctx.configMaps?.get(name) ?? null;
  for (const [i, source] of (container.envFrom ?? []).entries()) {
    if (source.configMapRef) {
      const data = configMap(source.configMapRef.name ?? "");
      if (!data) {
        if (source.configMapRef.optional === true) continue;
        return { ok: false, reason: "CreateContainerConfigError", message: `container "${container.name}" envFrom[${i}]: configmap "${source.configMapRef.name ?? ""}" not found` };
      }
      for (const [k, v] of Object.entries(data)) env.set(`${source.prefix ?? ""}${k}`, v);
      continue;
    }
    if (source.secretRef?.optional === true) continue;
    return { ok: false, reason: "CreateContainerConfigError", message: `container "${container.name}" envFrom[${i}]: secretRef is not supported on the local cluster` };
  }

  for (const [i, entry] of (container.env ?? []).entries()) {
    const from = entry.valueFrom;
    if (!from) {
      env.set(entry.name, expandVars(entry.value ?? "", (n) => env.get(n)));
      continue;
    }
    if (from.fieldRef) {
      const r = fieldRefValue(from.fieldRef.fieldPath, ctx);
      if ("error" in r) return { ok: false, reason: "CreateContainerConfigError", message: `${where(i, entry.name)}: ${r.error}` };
      env.set(entry.name, r.value);
      continue;
    }
    if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef;
      const value = configMap(ref.name ?? "")?.[ref.key];
      if (value !== undefined) env.set(entry.name, value);
      else if (ref.optional !== true) {
        const data = configMap(ref.name ?? "");
        const why = data ? `configmap "${ref.name ?? ""}" has no key "${ref.key}"` : `configmap "${ref.name ?? ""}" not found`;
        return { ok: false, reason: "CreateContainerConfigError", message: `${where(i, entry.name)}: ${why}` };
      }
      continue;
    }
    const optional = from.secretKeyRef?.optional === true;
    if (optional) continue;
    const kind = from.secretKeyRef ? "secretKeyRef" : from.resourceFieldRef ? "resourceFieldRef" : "this valueFrom source";
    return { ok: false, reason: "CreateContainerConfigError", message: `${where(i, entry.name)}: ${kind} is not supported on the local cluster` };
  }
  return { ok: true, env: Object.fromEntries(env) };
}

/** `$(VAR)` references in command and args are expanded with the container's final environment. */
export function expandArgv(argv: readonly string[], env: Readonly<Record<string, string>>): string[] {
  return argv.map((a) => expandVars(a, (n) => env[n]));
}
