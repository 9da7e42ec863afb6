// Public surface of native/: the only module the agent's datapath layer imports.
export * from "./abi.js";
export { BpfMap, TypedMap, PerCpuTypedMap, possibleCpus, unpin, isBpffs, mountBpffs, unmountBpffs, type MapInfo } from "./bpf-map.js";
export { BpfObject, type BpfProgram, type LoadOptions, type GlobalValue, type PinnedMap } from "./bpf-object.js";
export { cgroupAttach, cgroupDetach, cgroupPrograms, type CgroupAttachOptions } from "./cgroup.js";
export { structCodec, u32Codec, type Codec, type CodecField, type FieldDef, type FieldType } from "./codec.js";
export * from "./codecs.js";
export { DROP_REASONS, DropCode, dropReason, dropReasonName, dropReasonText, type DropReason, type DropReasonName } from "./drop-reasons.js";
export { BpfError, NotSupportedError, VerifierError, verifierSummary } from "./errors.js";
export { decodeEventBatch, describeEvent, isReply, openEventReader } from "./events.js";
export { bytesToIp, ipToBytes, parseCidr, type IpFamily } from "./ip.js";
export { AttachType, CgroupAttachFlag, MapType, ProgType, UPDATE_FLAGS, isPerCpuMapType, type UpdateMode } from "./kernel.js";
export { netnsPath } from "./netns.js";
export { addonPath, bpfObjectPath, repoRoot } from "./paths.js";
export { RecordBatch, RingBufferReader, type RingBufferOptions, type RingBufferStats } from "./ringbuf.js";
export { ifIndex, tcAttach, tcDetach, tcQuery, tcRemoveClsact, type TcAttachment, type TcAttachOptions, type TcFilterRef, type TcHook } from "./tc.js";
export { skbContext, skbContextCodec, testRun, testRunAsync, type SkbContext, type TestRunOptions, type TestRunResult } from "./test-run.js";
export { nativeAddon, type BtfStruct, type BtfMember } from "./addon.js";
export { btfStructLayout, codecLayoutMismatches } from "./btf.js";
