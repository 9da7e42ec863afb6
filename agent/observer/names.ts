// Display names Hubble uses for numbers the datapath emits (trace points, identities, ICMP
// type/codes, policy match types). Sources: the tables of shared/notes/hubble-flow-format.md.

/** Raw observation point → [trace_observation_point enum name, compact/--type name]. */
export const TRACE_POINTS: ReadonlyArray<readonly [string, string]> = [
  ["TO_ENDPOINT", "to-endpoint"],
  ["TO_PROXY", "to-proxy"],
  ["TO_HOST", "to-host"],
  ["TO_STACK", "to-stack"],
  ["TO_OVERLAY", "to-overlay"],
  ["FROM_ENDPOINT", "from-endpoint"],
  ["FROM_PROXY", "from-proxy"],
  ["FROM_HOST", "from-host"],
  ["FROM_STACK", "from-stack"],
  ["FROM_OVERLAY", "from-overlay"],
  ["FROM_NETWORK", "from-network"],
  ["TO_NETWORK", "to-network"],
  ["FROM_CRYPTO", "from-crypto"],
  ["TO_CRYPTO", "to-crypto"],
];

export function tracePointByName(name: string): number | undefined {
  const i = TRACE_POINTS.findIndex(([, n]) => n === name);
  return i < 0 ? undefined : i;
}

/** Hubble trace_reason from Cilium's trace reason (the datapath's ct_state). */
export function traceReasonName(ctState: number): string | undefined {
  return ["NEW", "ESTABLISHED", "REPLY", "RELATED"][ctState];
}

export const RESERVED_IDENTITY_NAMES = [
  "unknown",
  "host",
  "world",
  "unmanaged",
  "health",
  "init",
  "remote-node",
  "kube-apiserver",
  "ingress",
  "world-ipv4",
  "world-ipv6",
] as const;

export function identityDisplay(identity: number | undefined): string {
  const id = identity ?? 0;
  return id < RESERVED_IDENTITY_NAMES.length ? `(${RESERVED_IDENTITY_NAMES[id]})` : `(ID:${id})`;
}

/** policy_match_type display names (compact) and metric labels are the same words, cased differently. */
export const MATCH_TYPE_NAMES = ["none", "L3-Only", "L3-L4", "L4-Only", "all", "L3-Proto", "Proto-Only"] as const;

export function matchTypeName(matchType: number | undefined): string {
  return MATCH_TYPE_NAMES[matchType ?? 0] ?? "unknown";
}

type CodeNames = Readonly<Record<number, string>>;
interface IcmpType {
  readonly name: string;
  readonly codes?: CodeNames;
}

const ICMPV4: Readonly<Record<number, IcmpType>> = {
  0: { name: "EchoReply" },
  3: {
    name: "DestinationUnreachable",
    codes: {
      0: "Net",
      1: "Host",
      2: "Protocol",
      3: "Port",
      4: "FragmentationNeeded",
      5: "SourceRoutingFailed",
      6: "NetUnknown",
      7: "HostUnknown",
      8: "SourceIsolated",
      9: "NetAdminProhibited",
      10: "HostAdminProhibited",
      11: "NetTOS",
      12: "HostTOS",
      13: "CommAdminProhibited",
      14: "HostPrecedence",
      15: "PrecedenceCutoff",
    },
  },
  4: { name: "SourceQuench" },
  5: { name: "Redirect", codes: { 0: "Network", 1: "Host", 2: "TOS+Network", 3: "TOS+Host" } },
  8: { name: "EchoRequest" },
  9: { name: "RouterAdvertisement" },
  10: { name: "RouterSolicitation" },
  11: { name: "TimeExceeded", codes: { 0: "TTLExceeded", 1: "FragmentReassemblyTimeExceeded" } },
  12: { name: "ParameterProblem", codes: { 0: "PointerIndicatesError", 1: "MissingOption", 2: "BadLength" } },
  13: { name: "TimestampRequest" },
  14: { name: "TimestampReply" },
  15: { name: "InfoRequest" },
  16: { name: "InfoReply" },
  17: { name: "AddressMaskRequest" },
  18: { name: "AddressMaskReply" },
};

const ICMPV6: Readonly<Record<number, IcmpType>> = {
  1: {
    name: "DestinationUnreachable",
    codes: {
      0: "NoRouteToDst",
      1: "AdminProhibited",
      2: "BeyondScopeOfSrc",
      3: "AddressUnreachable",
      4: "PortUnreachable",
      5: "SrcAddressFailedPolicy",
      6: "RejectRouteToDst",
    },
  },
  2: { name: "PacketTooBig" },
  3: { name: "TimeExceeded", codes: { 0: "HopLimitExceeded", 1: "FragmentReassemblyTimeExceeded" } },
  4: { name: "ParameterProblem", codes: { 0: "ErroneousHeaderField", 1: "UnrecognizedNextHeader", 2: "UnrecognizedIPv6Option" } },
  128: { name: "EchoRequest" },
  129: { name: "EchoReply" },
  133: { name: "RouterSolicitation" },
  134: { name: "RouterAdvertisement" },
  135: { name: "NeighborSolicitation" },
  136: { name: "NeighborAdvertisement" },
  137: { name: "Redirect" },
};

/** gopacket's TypeCode string, which Hubble's Summary uses: `EchoRequest`, `DestinationUnreachable(Port)`. */
export function icmpTypeCodeName(v6: boolean, type: number, code: number): string {
  const info = (v6 ? ICMPV6 : ICMPV4)[type];
  if (!info) return `${type}(${code})`;
  if (!info.codes) return code === 0 ? info.name : `${info.name}(Code: ${code})`;
  const codeName = info.codes[code];
  return codeName === undefined ? `${info.name}(Code: ${code})` : `${info.name}(${codeName})`;
}
