/**
 * What the policies reference outside themselves: CIDR prefixes that need node-local CIDR
 * identities (and ipcache entries), and FQDN selectors the DNS proxy must label identities with.
 *
 * Flow for the caller: parse policies → collectCidrPrefixes → allocate a local identity per
 * prefix (1<<24 | n) with cidrIdentityLabels(prefix) → pass them in `identities` to
 * compilePolicies. Deterministic: sorted by family, address, length.
 */
import type { IpPrefix } from "../identity/ip-prefix.js";
import { formatPrefix, parsePrefix } from "../identity/ip-prefix.js";
import type { ParsedPolicy } from "./types.js";

function comparePrefixes(a: IpPrefix, b: IpPrefix): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
  return a.len - b.len;
}

export function collectCidrPrefixes(policies: readonly ParsedPolicy[]): string[] {
  const found = new Map<string, IpPrefix>();
  const add = (text: string): void => {
    const r = parsePrefix(text);
    if (r.ok && r.prefix.len > 0) found.set(formatPrefix(r.prefix), r.prefix);
  };
  for (const p of policies) {
    for (const rule of p.rules) {
      for (const el of rule.elements) {
        for (const peer of el.peers) {
          if (peer.kind !== "cidr") continue;
          add(peer.prefix);
          peer.except.forEach(add);
        }
      }
    }
  }
  return [...found.values()].sort(comparePrefixes).map(formatPrefix);
}

export function collectFqdnSelectors(policies: readonly ParsedPolicy[]): string[] {
  const found = new Set<string>();
  for (const p of policies) for (const rule of p.rules) for (const el of rule.elements) for (const peer of el.peers) if (peer.kind === "fqdn") found.add(peer.selector);
  return [...found].sort();
}
