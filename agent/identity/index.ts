export * from "./labels.js";
export * from "./reserved.js";
export * from "./pod-identity.js";
export * from "./selector.js";
export * from "./ip-prefix.js";
export * from "./local-identity.js";
export * from "./selector-index.js";
