/**
 * Kubernetes NetworkPolicy → normalised rule (policy-semantics.md §1.4, §2.4, §5.6). Every
 * selector key is forced to the `k8s:` source; every element turns default deny on; an absent
 * or empty `from`/`to` means every peer, and an absent or empty `ports` every port/protocol.
 */
import { andSelectors } from "../identity/selector.js";
import { K8S_LABEL } from "../identity/pod-identity.js";
import { LABEL_SOURCES } from "../identity/labels.js";
import { L4_PROTOCOL_NUMBER, isValidPortName } from "./ports.js";
import type { ProblemSink } from "./parse-common.js";
import { namespaceExistsSelector, namespaceRequirementSelector, parseCidrPeer, parseSelector, selectorPeer } from "./parse-common.js";
import type { KnpObject, KnpPeer, KnpPort } from "./schemas.js";
import type { Direction, ParsedRule, Peer, PortSpec, RuleElement } from "./types.js";

const POLICY_TYPES = { Ingress: "ingress", Egress: "egress" } as const;

export function parseKnp(sink: ProblemSink, obj: KnpObject, namespace: string): ParsedRule | null {
  const spec = obj.spec;
  const podSel = parseSelector(sink, spec.podSelector, "spec.podSelector", { forceSource: LABEL_SOURCES.k8s });
  const subject = andSelectors(podSel, namespaceRequirementSelector(namespace));

  const types = resolvePolicyTypes(sink, spec);
  if (types === null) return null;

  const elements: RuleElement[] = [];
  for (const direction of ["ingress", "egress"] as const) {
    const rules = spec[direction];
    const peersField = direction === "ingress" ? "from" : "to";
    if (!types.has(direction)) {
      if (rules !== undefined && rules.length > 0) {
        sink.warn(
          `spec.${direction}`,
          `policyTypes does not include ${direction === "ingress" ? "Ingress" : "Egress"}, so these rules are ignored (Kubernetes semantics; Cilium up to 1.19 still enforces them, cilium/cilium#48703)`,
        );
      }
      continue;
    }
    if (rules === undefined || rules.length === 0) {
      // Isolation without rules: enforced, nothing allowed.
      elements.push({ direction, verdict: "allow", defaultDeny: true, path: `spec.${direction}`, ruleIndex: -1, peers: [], l4: null });
      continue;
    }
    rules.forEach((rule, i) => {
      const path = `spec.${direction}[${i}]`;
      const before = sink.problems.length;
      const rawPeers = (rule as Record<string, KnpPeer[] | undefined>)[peersField];
      const peers: Peer[] =
        rawPeers === undefined || rawPeers.length === 0
          ? [{ kind: "any" }]
          : rawPeers.flatMap((p, j) => {
              const peer = parseKnpPeer(sink, p, `${path}.${peersField}[${j}]`, namespace);
              return peer ? [peer] : [];
            });
      const ports = (rule.ports ?? []).flatMap((p, j) => {
        const spec = parseKnpPort(sink, p, `${path}.ports[${j}]`);
        return spec ? [spec] : [];
      });
      if (sink.problems.slice(before).some((p) => p.severity === "error")) return;
      elements.push({
        direction,
        verdict: "allow",
        defaultDeny: true,
        path,
        ruleIndex: i,
        peers,
        l4: rule.ports === undefined || rule.ports.length === 0 ? null : { portRules: [{ ports, l7: null }], icmps: [] },
      });
    });
  }
  return { path: "spec", subject, selectsInit: false, elements };
}

/** policyTypes as stored, or the API server's defaulting when absent. */
function resolvePolicyTypes(sink: ProblemSink, spec: KnpObject["spec"]): Set<Direction> | null {
  if (spec.policyTypes === undefined) {
    const out = new Set<Direction>(["ingress"]);
    if (spec.egress !== undefined && spec.egress.length > 0) out.add("egress");
    return out;
  }
  if (spec.policyTypes.length > 2) {
    sink.error("spec.policyTypes", "at most 2 policyTypes may be given");
    return null;
  }
  const out = new Set<Direction>();
  let ok = true;
  spec.policyTypes.forEach((t, i) => {
    const dir = (POLICY_TYPES as Record<string, Direction | undefined>)[t];
    if (!dir) {
      sink.error(`spec.policyTypes[${i}]`, `unsupported policy type "${t}" (Ingress or Egress)`);
      ok = false;
    } else if (out.has(dir)) {
      sink.error(`spec.policyTypes[${i}]`, `duplicate policy type "${t}"`);
      ok = false;
    } else {
      out.add(dir);
    }
  });
  return ok ? out : null;
}

function parseKnpPeer(sink: ProblemSink, peer: KnpPeer, path: string, namespace: string): Peer | null {
  const hasPod = peer.podSelector !== undefined;
  const hasNs = peer.namespaceSelector !== undefined;
  if (peer.ipBlock !== undefined) {
    if (hasPod || hasNs) {
      sink.error(path, "ipBlock may not be combined with podSelector or namespaceSelector");
      return null;
    }
    return parseCidrPeer(sink, peer.ipBlock.cidr, peer.ipBlock.except ?? [], `${path}.ipBlock.cidr`, `${path}.ipBlock.except`, true);
  }
  if (!hasPod && !hasNs) {
    sink.error(path, "a peer must set at least one of podSelector, namespaceSelector or ipBlock");
    return null;
  }
  const pod = parseSelector(sink, peer.podSelector, `${path}.podSelector`, { forceSource: LABEL_SOURCES.k8s });
  if (!hasNs) return selectorPeer(andSelectors(pod, namespaceRequirementSelector(namespace)));
  // Namespace labels live on the pod identity as io.cilium.k8s.namespace.labels.<key>; the
  // namespace-exists requirement keeps `namespaceSelector: {}` to pods (never host or world).
  const ns = parseSelector(sink, peer.namespaceSelector, `${path}.namespaceSelector`, {
    forceSource: LABEL_SOURCES.k8s,
    keyPrefix: K8S_LABEL.namespaceLabelPrefix,
  });
  return selectorPeer(andSelectors(ns, pod, namespaceExistsSelector()));
}

function parseKnpPort(sink: ProblemSink, p: KnpPort, path: string): PortSpec | null {
  const protoName = p.protocol ?? "TCP";
  const proto = L4_PROTOCOL_NUMBER[protoName];
  if (proto === undefined) {
    sink.error(`${path}.protocol`, `unsupported protocol "${protoName}" (TCP, UDP or SCTP)`);
    return null;
  }
  if (p.port === undefined) {
    if (p.endPort !== undefined) {
      sink.error(`${path}.endPort`, "endPort requires a numeric port");
      return null;
    }
    return { kind: "number", protocols: [proto], port: 0, endPort: 0 };
  }
  const numeric = typeof p.port === "number" ? p.port : /^\d+$/.test(p.port) ? Number(p.port) : null;
  if (numeric === null) {
    const name = (p.port as string).toLowerCase();
    if (!isValidPortName(name)) {
      sink.error(`${path}.port`, `"${p.port}" is neither a port number nor a valid port name`);
      return null;
    }
    if (p.endPort !== undefined) {
      sink.error(`${path}.endPort`, "endPort requires a numeric port");
      return null;
    }
    return { kind: "named", protocols: [proto], name };
  }
  if (numeric < 1 || numeric > 65535) {
    sink.error(`${path}.port`, `port ${numeric} is out of range 1-65535`);
    return null;
  }
  let endPort = numeric;
  if (p.endPort !== undefined) {
    if (p.endPort < numeric) {
      sink.error(`${path}.endPort`, `endPort ${p.endPort} must be greater than or equal to port ${numeric}`);
      return null;
    }
    if (p.endPort > 65535) {
      sink.error(`${path}.endPort`, `endPort ${p.endPort} is out of range 1-65535`);
      return null;
    }
    endPort = p.endPort;
  }
  return { kind: "number", protocols: [proto], port: numeric, endPort };
}
