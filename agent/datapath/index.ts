/** Public API of the agent's datapath layer (the only part of the agent that imports native/). */
export { Datapath, type DatapathOptions, type DatapathStartReport, type HostAttachOptions, type PolicyApplyReport } from "./datapath.js";
export { datapathConfigSchema, parseDatapathConfig, pinDirOf, globalsOf, type DatapathConfig, type DatapathConfigInput } from "./loader.js";
export { ipcacheEntrySchema, type IpcacheEntry } from "./ipcache-plan.js";
export type { DatapathCounters, IpcacheSyncStats, PolicyApplyStats } from "./writers.js";
