// Fixture short form → real Kubernetes manifests, and the catalog of pods and services a
// scenario's matrices may name.
//
// Probe pods run one container, image `conform/probe:v1`, whose args tell the probe server what to
// serve, one flag per declared port, in declaration order:
//
//   ["serve", "--tcp", "8080", "--udp", "9001", "--http", "8081"]
//
// `--tcp <port>` accepts TCP connections (and echoes), `--udp <port>` echoes datagrams, and
// `--http <port>` serves HTTP on TCP. A pod with no ports runs `["serve"]`: it still exists as a
// probe client. The harness execs probes inside these pods; nothing else about the image is assumed.
import type { PathError } from "./errors.js";
import { isRecord } from "./manifests.js";
import type { KubeManifest, KubeObject } from "./manifests.js";
import type { FixturePodInput, FixtureServiceInput, PodPortInput, Protocol, Scenario } from "./schema.js";

export const PROBE_IMAGE = "conform/probe:v1";
export const PROBE_CONTAINER = "probe";
/** Annotation on every object conform creates from a fixture (annotations leave identities alone). */
export const SCENARIO_ANNOTATION = "conform.dev/scenario";
/** Node label pods with `node: N` select when the runner does not pass node names. */
export const NODE_INDEX_LABEL = "conform.dev/node-index";
/** Namespaces that exist in every cluster; conform never creates (or deletes) them. */
export const SYSTEM_NAMESPACES: readonly string[] = ["default", "kube-system", "kube-public", "kube-node-lease"];

export interface PodPort {
  port: number;
  protocol: Protocol;
  name?: string;
}

export interface FixturePod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** 1-based node index, when the scenario pins the pod. */
  node?: number;
  ports: PodPort[];
  /**
   * False for pods from plain manifests: their container ports say what is declared, not what
   * the container serves, so destination ports are not checked against them.
   */
  portsKnown: boolean;
}

export interface ServicePort {
  port: number;
  targetPort: number | string;
  protocol: "tcp" | "udp";
  name?: string;
  nodePort?: number;
}

export interface FixtureService {
  namespace: string;
  name: string;
  type: "ClusterIP" | "NodePort" | "LoadBalancer";
  selector: Record<string, string>;
  ports: ServicePort[];
}

export interface FixtureCatalog {
  pods: Map<string, FixturePod>;
  services: Map<string, FixtureService>;
}

export const refKey = (namespace: string, name: string): string => `${namespace}/${name}`;

export function normalizePodPort(input: PodPortInput): PodPort {
  if (typeof input === "number") return { port: input, protocol: "tcp" };
  if (typeof input === "string") {
    const [port, protocol] = input.split("/");
    return { port: Number(port), protocol: protocol as Protocol };
  }
  return { port: input.port, protocol: input.protocol ?? "tcp", ...(input.name ? { name: input.name } : {}) };
}

export function normalizeFixturePod(input: FixturePodInput): FixturePod {
  return {
    namespace: input.namespace ?? "default",
    name: input.name,
    labels: { ...(input.labels ?? {}) },
    ...(input.node !== undefined ? { node: input.node } : {}),
    ports: (input.ports ?? []).map(normalizePodPort),
    portsKnown: true,
  };
}

export function normalizeFixtureService(input: FixtureServiceInput): FixtureService {
  const ports = input.ports.map((p): ServicePort => {
    if (typeof p === "number") return { port: p, targetPort: p, protocol: "tcp" };
    return {
      port: p.port,
      targetPort: p.targetPort ?? p.port,
      protocol: p.protocol ?? "tcp",
      ...(p.name ? { name: p.name } : {}),
      ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
    };
  });
  // Kubernetes requires a name on every port of a multi-port service.
  if (ports.length > 1) for (const p of ports) p.name ??= `${p.protocol}-${p.port}`;
  return { namespace: input.namespace ?? "default", name: input.name, type: input.type ?? "ClusterIP", selector: { ...input.selector }, ports };
}

/** Probe server arguments for a pod's ports (the convention in the header of this file). */
export function probeServerArgs(ports: readonly PodPort[]): string[] {
  return ["serve", ...ports.flatMap((p) => [`--${p.protocol}`, String(p.port)])];
}

export interface ExpandOptions {
  /** Node names by 1-based index; with them pods are bound with spec.nodeName. */
  nodeNames?: readonly string[];
}

export function namespaceManifest(name: string, labels: Record<string, string>, scenario: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, ...(Object.keys(labels).length > 0 ? { labels: { ...labels } } : {}), annotations: { [SCENARIO_ANNOTATION]: scenario } },
  };
}

export function podManifest(pod: FixturePod, scenario: string, options: ExpandOptions = {}): KubeObject {
  const placement: Record<string, unknown> = {};
  if (pod.node !== undefined) {
    const nodeName = options.nodeNames?.[pod.node - 1];
    // nodeName skips the scheduler: placement is exact and needs no node labels.
    if (nodeName !== undefined) placement.nodeName = nodeName;
    else placement.nodeSelector = { [NODE_INDEX_LABEL]: String(pod.node) };
  }
  const containerPorts = pod.ports.map((p) => ({
    ...(p.name ? { name: p.name } : {}),
    containerPort: p.port,
    protocol: p.protocol === "udp" ? "UDP" : "TCP",
  }));
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      ...(Object.keys(pod.labels).length > 0 ? { labels: { ...pod.labels } } : {}),
      annotations: { [SCENARIO_ANNOTATION]: scenario },
    },
    spec: {
      ...placement,
      // The probe needs no API access, and skipping the token keeps pods startable on the local provider.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: PROBE_CONTAINER,
          image: PROBE_IMAGE,
          args: probeServerArgs(pod.ports),
          ...(containerPorts.length > 0 ? { ports: containerPorts } : {}),
        },
      ],
    },
  };
}

export function serviceManifest(service: FixtureService, scenario: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: service.name, namespace: service.namespace, annotations: { [SCENARIO_ANNOTATION]: scenario } },
    spec: {
      type: service.type,
      selector: { ...service.selector },
      ports: service.ports.map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        targetPort: p.targetPort,
        protocol: p.protocol === "udp" ? "UDP" : "TCP",
        ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
      })),
    },
  };
}

/**
 * The short-form fixtures as Kubernetes objects, in apply order: namespaces (declared ones, then
 * any other namespace a pod or service uses, except system namespaces and namespaces the plain
 * manifests create), the plain fixture manifests, services, pods.
 */
export function expandFixtures(scenario: Scenario, plainManifests: readonly KubeManifest[] = [], options: ExpandOptions = {}): KubeObject[] {
  const name = scenario.metadata.name;
  const fixtures = scenario.spec.fixtures ?? {};
  const pods = (fixtures.pods ?? []).map(normalizeFixturePod);
  const services = (fixtures.services ?? []).map(normalizeFixtureService);
  const plainNamespaces = new Set(plainManifests.filter((m) => m.object.kind === "Namespace").map((m) => m.object.metadata.name));

  const namespaces = new Map<string, Record<string, string>>();
  for (const ns of fixtures.namespaces ?? []) namespaces.set(ns.name, { ...(ns.labels ?? {}) });
  for (const ns of [...pods, ...services].map((o) => o.namespace)) {
    if (!namespaces.has(ns) && !SYSTEM_NAMESPACES.includes(ns) && !plainNamespaces.has(ns)) namespaces.set(ns, {});
  }
  return [
    ...[...namespaces].map(([ns, labels]) => namespaceManifest(ns, labels, name)),
    ...plainManifests.map((m) => m.object),
    ...services.map((s) => serviceManifest(s, name)),
    ...pods.map((p) => podManifest(p, name, options)),
  ];
}

/**
 * Pods and services the scenario's matrices may name: the short form plus Pods and Services
 * found in the plain fixture manifests. Duplicate names are reported as path errors.
 */
export function buildCatalog(scenario: Scenario, plainManifests: readonly KubeManifest[]): { catalog: FixtureCatalog; errors: PathError[] } {
  const errors: PathError[] = [];
  const catalog: FixtureCatalog = { pods: new Map(), services: new Map() };
  const fixtures = scenario.spec.fixtures ?? {};

  const seenNamespaces = new Map<string, number>();
  (fixtures.namespaces ?? []).forEach((ns, i) => {
    const earlier = seenNamespaces.get(ns.name);
    if (earlier !== undefined) errors.push({ path: ["spec", "fixtures", "namespaces", i, "name"], message: `duplicate namespace "${ns.name}" (also namespaces[${earlier}])` });
    else seenNamespaces.set(ns.name, i);
  });

  (fixtures.pods ?? []).forEach((input, i) => {
    const pod = normalizeFixturePod(input);
    const key = refKey(pod.namespace, pod.name);
    if (catalog.pods.has(key)) {
      errors.push({ path: ["spec", "fixtures", "pods", i, "name"], message: `duplicate pod "${key}"` });
      return;
    }
    const seenPorts = new Set<string>();
    pod.ports.forEach((p, j) => {
      // http is served over TCP, so 8080/tcp and 8080/http on one pod would fight over the port.
      const transport = p.protocol === "udp" ? "udp" : "tcp";
      if (seenPorts.has(`${transport}:${p.port}`)) errors.push({ path: ["spec", "fixtures", "pods", i, "ports", j], message: `port ${p.port}/${transport} is declared twice` });
      seenPorts.add(`${transport}:${p.port}`);
    });
    catalog.pods.set(key, pod);
  });

  (fixtures.services ?? []).forEach((input, i) => {
    const service = normalizeFixtureService(input);
    const key = refKey(service.namespace, service.name);
    if (catalog.services.has(key)) errors.push({ path: ["spec", "fixtures", "services", i, "name"], message: `duplicate service "${key}"` });
    else catalog.services.set(key, service);
  });

  for (const manifest of plainManifests) {
    const object = manifest.object;
    if (object.apiVersion !== "v1") continue;
    const namespace = typeof object.metadata.namespace === "string" ? object.metadata.namespace : "default";
    const key = refKey(namespace, object.metadata.name);
    if (object.kind === "Pod" && !catalog.pods.has(key)) catalog.pods.set(key, podFromManifest(object, namespace));
    if (object.kind === "Service" && !catalog.services.has(key)) catalog.services.set(key, serviceFromManifest(object, namespace));
  }
  return { catalog, errors };
}

function podFromManifest(object: KubeObject, namespace: string): FixturePod {
  const spec = isRecord(object.spec) ? object.spec : {};
  const containers = Array.isArray(spec.containers) ? spec.containers.filter(isRecord) : [];
  const ports: PodPort[] = containers.flatMap((c) =>
    (Array.isArray(c.ports) ? c.ports.filter(isRecord) : [])
      .filter((p) => typeof p.containerPort === "number")
      .map((p) => ({ port: p.containerPort as number, protocol: p.protocol === "UDP" ? ("udp" as const) : ("tcp" as const), ...(typeof p.name === "string" ? { name: p.name } : {}) })),
  );
  const labels = isRecord(object.metadata.labels) ? (object.metadata.labels as Record<string, string>) : {};
  return { namespace, name: object.metadata.name, labels: { ...labels }, ports, portsKnown: false };
}

function serviceFromManifest(object: KubeObject, namespace: string): FixtureService {
  const spec = isRecord(object.spec) ? object.spec : {};
  const ports = (Array.isArray(spec.ports) ? spec.ports.filter(isRecord) : [])
    .filter((p) => typeof p.port === "number")
    .map(
      (p): ServicePort => ({
        port: p.port as number,
        targetPort: typeof p.targetPort === "number" || typeof p.targetPort === "string" ? p.targetPort : (p.port as number),
        protocol: p.protocol === "UDP" ? "udp" : "tcp",
        ...(typeof p.name === "string" ? { name: p.name } : {}),
      }),
    );
  const type = spec.type === "NodePort" || spec.type === "LoadBalancer" ? spec.type : "ClusterIP";
  const selector = isRecord(spec.selector) ? (spec.selector as Record<string, string>) : {};
  return { namespace, name: object.metadata.name, type, selector: { ...selector }, ports };
}
