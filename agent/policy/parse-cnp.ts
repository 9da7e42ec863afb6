/**
 * CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy → normalised rules, with Cilium's
 * validation (policy-semantics.md §13) and semantics (§1.2 empty forms, §2.3 scoping, §5 L4,
 * §6 deny, §7/§8 L7).
 */
import type { Selector } from "../identity/selector.js";
import { andSelectors, normalizeSelector } from "../identity/selector.js";
import { K8S_LABEL } from "../identity/pod-identity.js";
import { LABEL_SOURCES } from "../identity/labels.js";
import { entityPeers, isEntity } from "./entities.js";
import { normalizeFqdnSelector } from "./fqdn.js";
import { ANY_L4_PROTOCOLS, L4_PROTOCOL_NUMBER, icmpType, isValidPortName } from "./ports.js";
import type { ProblemSink } from "./parse-common.js";
import { namespaceRequirementSelector, parseCidrPeer, parseRulePrefix, parseSelector, scopeCiliumPeerSelector, selectorPeer } from "./parse-common.js";
import type { CnpEgressRule, CnpIcmpRule, CnpIngressRule, CnpPortProtocol, CnpPortRule, CnpRule, RawLabelSelector } from "./schemas.js";
import type { Direction, IcmpSpec, L4Spec, L7Spec, ParsedRule, Peer, PortRuleSpec, PortSpec, RuleElement, Verdict } from "./types.js";
import { PROTO } from "./types.js";
import { formatPrefix } from "../identity/ip-prefix.js";

const MAX_PORTS_PER_RULE = 40;
const MAX_ICMP_FIELDS = 40;

interface RuleContext {
  readonly sink: ProblemSink;
  readonly namespace: string;
  readonly clusterwide: boolean;
  readonly selectsInit: boolean;
  readonly hostPolicy: boolean;
  readonly enableDefaultDeny: { ingress?: boolean; egress?: boolean };
  readonly log?: string;
}

const INGRESS_L3 = ["fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromNodes", "fromGroups"] as const;
const EGRESS_L3 = ["toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toNodes", "toGroups", "toFQDNs", "toServices"] as const;

type AnyElement = CnpIngressRule & CnpEgressRule;

/** Parses one rule (`spec` or `specs[i]`). Returns null for invalid rules. A `nodeSelector` rule is a host policy (`host: true`). */
export function parseCnpRule(sink: ProblemSink, rule: CnpRule, path: string, clusterwide: boolean, namespace: string): ParsedRule | null {
  const hasEndpoints = rule.endpointSelector !== undefined;
  const hasNodes = rule.nodeSelector !== undefined;
  if (hasEndpoints === hasNodes) {
    sink.error(path, "exactly one of endpointSelector and nodeSelector must be set");
    return null;
  }
  if (hasNodes && !clusterwide) {
    sink.error(`${path}.nodeSelector`, "nodeSelector is only allowed in a CiliumClusterwideNetworkPolicy");
    return null;
  }
  const sections = [rule.ingress, rule.ingressDeny, rule.egress, rule.egressDeny];
  if (sections.every((s) => s === undefined || s.length === 0)) {
    sink.error(path, "rule must have at least one of ingress, ingressDeny, egress, egressDeny");
    return null;
  }

  let subject: Selector;
  if (hasNodes) {
    subject = parseSelector(sink, rule.nodeSelector, `${path}.nodeSelector`);
  } else {
    subject = parseSelector(sink, rule.endpointSelector, `${path}.endpointSelector`);
    if (!clusterwide) subject = scopeSubjectToNamespace(sink, subject, namespace, `${path}.endpointSelector`);
  }
  const selectsInit = subject.requirements.some((r) => r.source === LABEL_SOURCES.reserved && r.key === "init");

  const ctx: RuleContext = {
    sink,
    namespace,
    clusterwide,
    selectsInit,
    hostPolicy: hasNodes,
    enableDefaultDeny: rule.enableDefaultDeny ?? {},
    ...(rule.log?.value ? { log: rule.log.value } : {}),
  };
  if (rule.log?.value !== undefined && (rule.log.value.length > 32 || !/^[\x20-\x7e]*$/.test(rule.log.value))) {
    sink.error(`${path}.log.value`, "must be at most 32 printable ASCII characters");
  }

  const elements: RuleElement[] = [];
  const sectionsSpec: Array<[string, readonly AnyElement[] | undefined, Direction, Verdict]> = [
    ["ingress", rule.ingress as AnyElement[] | undefined, "ingress", "allow"],
    ["ingressDeny", rule.ingressDeny as AnyElement[] | undefined, "ingress", "deny"],
    ["egress", rule.egress as AnyElement[] | undefined, "egress", "allow"],
    ["egressDeny", rule.egressDeny as AnyElement[] | undefined, "egress", "deny"],
  ];
  for (const [section, list, direction, verdict] of sectionsSpec) {
    (list ?? []).forEach((el, i) => {
      const parsed = parseElement(ctx, el, `${path}.${section}[${i}]`, i, direction, verdict);
      if (parsed) elements.push(parsed);
    });
  }

  return hasNodes ? { path, subject, selectsInit: false, host: true, elements } : { path, subject, selectsInit, elements };
}

/**
 * A CNP only ever selects endpoints of its own namespace. A user requirement on another
 * namespace is dropped with a warning, as Cilium does (#45231).
 */
function scopeSubjectToNamespace(sink: ProblemSink, subject: Selector, namespace: string, path: string): Selector {
  const kept = subject.requirements.filter((r) => {
    const isNs = r.key === K8S_LABEL.podNamespace && (r.source === LABEL_SOURCES.k8s || r.source === LABEL_SOURCES.any);
    if (!isNs) return true;
    if (r.operator === "In" && r.values.length === 1 && r.values[0] === namespace) return false;
    sink.warn(path, `a CiliumNetworkPolicy only selects endpoints in its own namespace "${namespace}"; the requirement on ${K8S_LABEL.podNamespace} is ignored`);
    return false;
  });
  return andSelectors(normalizeSelector({ requirements: kept }), namespaceRequirementSelector(namespace));
}

function nonEmpty(list: readonly unknown[] | undefined): boolean {
  return list !== undefined && list.length > 0;
}

function parseElement(ctx: RuleContext, el: AnyElement, path: string, index: number, direction: Direction, verdict: Verdict): RuleElement | null {
  const { sink } = ctx;
  const before = sink.problems.length;
  const l3Fields = direction === "ingress" ? INGRESS_L3 : EGRESS_L3;
  const requiresField = direction === "ingress" ? "fromRequires" : "toRequires";

  if (nonEmpty(el[requiresField])) sink.error(`${path}.${requiresField}`, `${requiresField} was removed in Cilium 1.19 and is not supported`);
  const used = l3Fields.filter((f) => nonEmpty(el[f] as unknown[] | undefined));
  if (used.length > 1) sink.error(path, `combining ${used[0]} and ${used[1]} is not supported yet`);
  for (const f of ["fromNodes", "toNodes"] as const) {
    if (nonEmpty(el[f])) sink.error(`${path}.${f}`, `${f} needs enable-node-selector-labels, which conform does not support`);
  }
  for (const f of ["fromGroups", "toGroups"] as const) {
    if (nonEmpty(el[f])) sink.error(`${path}.${f}`, `${f} (cloud provider groups) is not supported by conform`);
  }
  if (nonEmpty(el.toServices)) sink.error(`${path}.toServices`, "toServices is not supported by conform yet");
  if (el.authentication !== undefined) sink.error(`${path}.authentication`, "mutual authentication is not supported by conform");
  if (nonEmpty(el.icmps) && nonEmpty(el.toPorts)) sink.error(path, "ICMPs block may only be present without toPorts");

  const peers: Peer[] = [];
  const anyL3Present = l3Fields.some((f) => el[f] !== undefined);
  if (anyL3Present) {
    const endpointsField = direction === "ingress" ? "fromEndpoints" : "toEndpoints";
    (el[endpointsField] ?? []).forEach((raw: RawLabelSelector, i: number) => {
      const sel = parseSelector(sink, raw, `${path}.${endpointsField}[${i}]`);
      peers.push(selectorPeer(scopeCiliumPeerSelector(sel, ctx.namespace, ctx.clusterwide, ctx.selectsInit)));
    });
    const cidrField = direction === "ingress" ? "fromCIDR" : "toCIDR";
    (el[cidrField] ?? []).forEach((text: string, i: number) => {
      const p = parseRulePrefix(sink, text, `${path}.${cidrField}[${i}]`);
      if (p) peers.push({ kind: "cidr", prefix: formatPrefix(p), except: [] });
    });
    const cidrSetField = direction === "ingress" ? "fromCIDRSet" : "toCIDRSet";
    (el[cidrSetField] ?? []).forEach((c, i) => {
      const at = `${path}.${cidrSetField}[${i}]`;
      const forms = [c.cidr !== undefined, c.cidrGroupRef !== undefined, c.cidrGroupSelector !== undefined].filter(Boolean).length;
      if (forms !== 1) {
        sink.error(at, "exactly one of cidr, cidrGroupRef and cidrGroupSelector must be set");
        return;
      }
      if (c.cidr === undefined) {
        sink.error(at, "CiliumCIDRGroup references are not supported by conform yet");
        return;
      }
      const peer = parseCidrPeer(sink, c.cidr, c.except ?? [], `${at}.cidr`, `${at}.except`, false);
      if (peer) peers.push(peer);
    });
    const entitiesField = direction === "ingress" ? "fromEntities" : "toEntities";
    (el[entitiesField] ?? []).forEach((name: string, i: number) => {
      if (!isEntity(name)) {
        sink.error(`${path}.${entitiesField}[${i}]`, `unsupported entity "${name}"`);
        return;
      }
      peers.push(...entityPeers(name));
    });
    (el.toFQDNs ?? []).forEach((f, i) => {
      const r = normalizeFqdnSelector(f);
      if (!r.ok) sink.error(`${path}.toFQDNs[${i}]`, r.message);
      else peers.push({ kind: "fqdn", selector: r.text });
    });
  } else if (nonEmpty(el.toPorts) || nonEmpty(el.icmps)) {
    // No L3 field but L4: any peer on those ports (policy-semantics.md §5.4).
    peers.push({ kind: "any" });
  }
  // else: `{}` — enforces the direction and selects nothing.

  let l4: L4Spec | null = null;
  if (nonEmpty(el.toPorts) || nonEmpty(el.icmps)) {
    const portRules = (el.toPorts ?? []).map((pr, i) => parsePortRule(ctx, pr as CnpPortRule, `${path}.toPorts[${i}]`, direction));
    const icmps = (el.icmps ?? []).flatMap((ic, i) => parseIcmps(ctx, ic, `${path}.icmps[${i}]`));
    l4 = { portRules, icmps };
  }

  if (sink.problems.slice(before).some((p) => p.severity === "error")) return null;
  const edd = direction === "ingress" ? ctx.enableDefaultDeny.ingress : ctx.enableDefaultDeny.egress;
  return {
    direction,
    verdict,
    defaultDeny: edd ?? true,
    path,
    ruleIndex: index,
    peers: dedupePeers(peers),
    l4,
    ...(ctx.log !== undefined ? { log: ctx.log } : {}),
  };
}

function dedupePeers(peers: Peer[]): Peer[] {
  const seen = new Set<string>();
  return peers.filter((p) => {
    const k = JSON.stringify(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function parsePortRule(ctx: RuleContext, pr: CnpPortRule, path: string, direction: Direction): PortRuleSpec {
  const { sink } = ctx;
  for (const f of ["serverNames", "listener", "terminatingTLS", "originatingTLS"] as const) {
    if (pr[f] !== undefined) sink.error(`${path}.${f}`, `${f} is not supported by conform yet`);
  }
  const rawPorts = pr.ports ?? [];
  const hasL7 = pr.rules !== undefined;
  if (rawPorts.length === 0) {
    if (hasL7) sink.error(`${path}.ports`, "L7 rules need at least one explicit port");
    else sink.warn(`${path}.ports`, "toPorts element without ports allows nothing");
    return { ports: [], l7: null };
  }
  if (rawPorts.length > MAX_PORTS_PER_RULE) sink.error(`${path}.ports`, `at most ${MAX_PORTS_PER_RULE} ports per toPorts element (got ${rawPorts.length})`);
  const parsed = rawPorts.map((pp, i) => ({ raw: pp, spec: parsePort(ctx, pp, `${path}.ports[${i}]`), at: `${path}.ports[${i}]` }));
  const ports = parsed.flatMap((p) => (p.spec ? [p.spec] : []));

  let l7: L7Spec | null = null;
  const rules = pr.rules;
  if (rules) {
    for (const f of ["kafka", "l7proto", "l7"] as const) {
      if (rules[f] !== undefined) sink.error(`${path}.rules.${f}`, `${f} L7 rules are not supported by conform`);
    }
    if (rules.http !== undefined && rules.dns !== undefined) {
      sink.error(`${path}.rules`, "a rules block holds one L7 type: http or dns, not both");
    } else if (rules.http !== undefined) {
      if (ctx.hostPolicy) sink.error(`${path}.rules.http`, "HTTP rules are not allowed in host (nodeSelector) policies");
      for (const p of parsed) {
        const proto = (p.raw.protocol ?? "").toUpperCase();
        if (proto !== "TCP") sink.error(`${p.at}.protocol`, `L7 rules can only apply to TCP, except for DNS rules (got ${proto === "" ? "no protocol (ANY)" : proto})`);
        if (p.spec?.kind === "number" && p.spec.port === 0) sink.error(`${p.at}.port`, "L7 rules need a specific port, not 0");
      }
      rules.http.forEach((h, i) => {
        for (const f of ["method", "path", "host"] as const) {
          const re = h[f];
          if (re === undefined) continue;
          try {
            new RegExp(re);
          } catch (e) {
            sink.error(`${path}.rules.http[${i}].${f}`, `invalid regular expression: ${(e as Error).message}`);
          }
        }
      });
      if (rules.http.length > 0) l7 = { parser: "http", http: rules.http };
    } else if (rules.dns !== undefined) {
      if (direction === "ingress") sink.error(`${path}.rules.dns`, "DNS rules are not allowed on ingress");
      for (const p of parsed) {
        const proto = (p.raw.protocol ?? "ANY").toUpperCase() || "ANY";
        if (!["UDP", "TCP", "ANY"].includes(proto)) sink.error(`${p.at}.protocol`, `DNS rules need UDP, TCP or ANY (got ${proto})`);
        if (p.spec?.kind === "number" && p.spec.port === 0) sink.error(`${p.at}.port`, "DNS rules need a specific port, not 0");
        if (p.spec?.kind === "number" && p.spec.endPort > p.spec.port) sink.error(`${p.at}.endPort`, "DNS rules cannot use port ranges");
      }
      const dns = rules.dns.flatMap((d, i) => {
        const r = normalizeFqdnSelector(d);
        if (!r.ok) {
          sink.error(`${path}.rules.dns[${i}]`, r.message);
          return [];
        }
        return [d.matchName !== undefined && d.matchName !== "" ? { matchName: r.text } : { matchPattern: r.text }];
      });
      if (dns.length > 0) l7 = { parser: "dns", dns };
    }
  }
  return { ports, l7 };
}

function parsePort(ctx: RuleContext, pp: CnpPortProtocol, path: string): PortSpec | null {
  const { sink } = ctx;
  const proto = (pp.protocol ?? "").toUpperCase();
  let protocols: readonly number[];
  if (proto === "" || proto === "ANY") protocols = ANY_L4_PROTOCOLS;
  else if (L4_PROTOCOL_NUMBER[proto] !== undefined) protocols = [L4_PROTOCOL_NUMBER[proto] as number];
  else {
    sink.error(`${path}.protocol`, `unsupported protocol "${pp.protocol}" (TCP, UDP, SCTP or ANY)`);
    return null;
  }
  const portText = pp.port === undefined ? "" : String(pp.port).trim();
  if (portText === "") {
    sink.error(`${path}.port`, "port is required");
    return null;
  }
  if (/^\d+$/.test(portText)) {
    const port = Number(portText);
    if (port > 65535) {
      sink.error(`${path}.port`, `port ${port} is out of range 0-65535`);
      return null;
    }
    let endPort = port;
    if (pp.endPort !== undefined) {
      if (pp.endPort < 0 || pp.endPort > 65535) {
        sink.error(`${path}.endPort`, `endPort ${pp.endPort} is out of range 0-65535`);
        return null;
      }
      if (port === 0) sink.warn(`${path}.endPort`, "port 0 already means every port; endPort is ignored");
      else if (pp.endPort < port) sink.warn(`${path}.endPort`, `endPort ${pp.endPort} is below port ${port}: treated as the single port ${port}, as Cilium does`);
      else endPort = pp.endPort;
    }
    return { kind: "number", protocols, port, endPort };
  }
  const name = portText.toLowerCase();
  if (!isValidPortName(name)) {
    sink.error(`${path}.port`, `"${portText}" is neither a port number nor a valid port name`);
    return null;
  }
  if (pp.endPort !== undefined && pp.endPort !== 0) {
    sink.error(`${path}.endPort`, "a named port cannot have an endPort");
    return null;
  }
  return { kind: "named", protocols, name };
}

function parseIcmps(ctx: RuleContext, rule: CnpIcmpRule, path: string): IcmpSpec[] {
  const { sink } = ctx;
  if (rule.fields.length > MAX_ICMP_FIELDS) sink.error(`${path}.fields`, `at most ${MAX_ICMP_FIELDS} ICMP fields (got ${rule.fields.length})`);
  const out: IcmpSpec[] = [];
  rule.fields.forEach((f, i) => {
    const fam = (f.family ?? "IPv4").toLowerCase();
    if (fam !== "ipv4" && fam !== "ipv6") {
      sink.error(`${path}.fields[${i}].family`, `family must be IPv4 or IPv6 (got "${f.family}")`);
      return;
    }
    const family = fam === "ipv4" ? 4 : 6;
    const type = icmpType(f.type, family);
    if (type === null) {
      sink.error(`${path}.fields[${i}].type`, `unknown ICMP type "${f.type}" for IPv${family}`);
      return;
    }
    out.push({ proto: family === 4 ? PROTO.icmp : PROTO.icmpv6, type });
  });
  return out;
}
