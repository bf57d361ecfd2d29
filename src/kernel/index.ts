// The kernel layer's public API: everything above src/kernel imports from here.
export { BpfObject, Program, type Link, type UprobeOptions, type TcOptions } from './object.js';
export { Probe, type AttachSpec, type ProbeOptions, type SkippedAttachment } from './probe.js';
export { BpfMap, MapType, possibleCpus } from './map.js';
export { TypedMap, u32, u64, i64, bytes, type Codec } from './codec.js';
export { RingBuffer, type RecordBatch, type RingBufferOptions } from './ringbuf.js';
export { type StructLayout, type FieldLayout } from './layout.js';
export { fieldOffsets, readCString, type FieldSpec } from './decoder.js';
export { BpfError, BpfLoadError } from './errors.js';
export { closeAllOpen } from './cleanup.js';
export { ensureMounts, cgroup2Mounts, TRACEFS, BPFFS } from './mounts.js';
export { probeFeatures, formatReport, listTracepoints, PROJECT_TRACEPOINTS, type FeatureReport, type Check, type Status } from './features.js';
