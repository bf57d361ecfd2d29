export { InjectEngine, INJECT_OBJECT, monotonicNs, type ActiveFault, type FaultStats, type InjectEvent, type InjectEngineOptions } from './engine.js';
export { parseFaultSpec, describeSpec, FaultSpecError, parseCidr, type FaultSpec, type Scope, type FaultKind } from './spec.js';
export { faultsOverlap } from './overlap.js';
export { FaultRegistry, REGISTRY_DIR, type FaultRecord } from './registry.js';
export { removeStaleTcFilters } from './stale.js';
