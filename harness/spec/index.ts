// The spec API the runner and CLI use: loading, expansion into cells and probe batches,
// fixtures, requirements and errors.
export { batchBySource, cellId, expandStep } from "./cells.js";
export type { Cell, Expected, FlowCheck, ProbeBatch, ResolvedTarget, StepExpansion } from "./cells.js";
export { formatDuration, parseDuration } from "./duration.js";
export { formatSpecError, SpecLoadError } from "./errors.js";
export type { SpecError } from "./errors.js";
export { expandFixtures, NODE_INDEX_LABEL, PROBE_CONTAINER, PROBE_IMAGE, probeServerArgs, SCENARIO_ANNOTATION } from "./fixtures.js";
export type { ExpandOptions, FixturePod, FixtureService, PodPort } from "./fixtures.js";
export { DEFAULT_TIMEOUTS_MS, fixtureObjects, loadScenarios, loadScenariosOrThrow, loadScenarioText, scenarioCells } from "./loader.js";
export type { LoadedScenario, LoadResult, PlannedStep, ResolvedTimeouts } from "./loader.js";
export { canonicalJson, manifestDigest } from "./manifests.js";
export type { KubeManifest, KubeObject } from "./manifests.js";
export { checkRequirements, clusterCapabilitiesSchema, effectiveRequirements } from "./requirements.js";
export type { ClusterCapabilities, EffectiveRequirements, RequirementsCheck } from "./requirements.js";
export { SCENARIO_API_VERSION, scenarioSchema } from "./schema.js";
export type { Protocol, Scenario } from "./schema.js";
export { formatTarget, parseTarget, WORLD_CIDR } from "./targets.js";
export type { Target } from "./targets.js";
