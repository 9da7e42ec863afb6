/**
 * Labels of node-local identities (policy-semantics.md §12): CIDR identities for policy
 * prefixes and FQDN identities for IPs learned by the DNS proxy. Both carry `reserved:world`
 * because they stand for addresses outside the cluster, so `toEntities: [world]` covers them.
 */
import type { Labels } from "./labels.js";
import { LABEL_SOURCES, labelKey, parseLabelKey } from "./labels.js";
import type { IpPrefix } from "./ip-prefix.js";
import { formatPrefix, parsePrefix } from "./ip-prefix.js";
import { RESERVED_LABEL } from "./reserved.js";

/** Label set of the local identity for `prefix` (text form, normalised here). */
export function cidrIdentityLabels(prefix: string | IpPrefix, options: { dualStack?: boolean } = {}): Labels {
  const p = typeof prefix === "string" ? parsed(prefix) : prefix;
  const world = !options.dualStack ? RESERVED_LABEL.world : p.family === 4 ? RESERVED_LABEL.worldIpv4 : RESERVED_LABEL.worldIpv6;
  return { [labelKey(LABEL_SOURCES.cidr, formatPrefix(p))]: "", [world]: "" };
}

/**
 * Label set of an FQDN identity: one `fqdn:<selector>` label per toFQDNs selector whose names
 * resolved to the address (see agent/policy/fqdn.ts for the selector text).
 */
export function fqdnIdentityLabels(selectors: readonly string[], address?: string): Labels {
  const out: Record<string, string> = { [RESERVED_LABEL.world]: "" };
  for (const s of selectors) out[labelKey(LABEL_SOURCES.fqdn, s)] = "";
  // The host prefix lets CIDR rules (and their excepts) see the address as well.
  if (address !== undefined) out[labelKey(LABEL_SOURCES.cidr, formatPrefix(parsed(address)))] = "";
  return out;
}

/** The prefixes named by an identity's `cidr:` labels. */
export function cidrPrefixesOfLabels(labels: Labels): IpPrefix[] {
  const out: IpPrefix[] = [];
  for (const raw of Object.keys(labels)) {
    const { source, key } = parseLabelKey(raw, LABEL_SOURCES.unspec);
    if (source !== LABEL_SOURCES.cidr) continue;
    const r = parsePrefix(key);
    if (r.ok) out.push(r.prefix);
  }
  return out;
}

function parsed(text: string): IpPrefix {
  const r = parsePrefix(text);
  if (!r.ok) throw new Error(r.message);
  return r.prefix;
}
