// A scenario's ground truth as rows of the store's `faults` table, shaped like the injection engine's own
// rows (src/inject/record.ts): one `injected` row at the start and one `stopped` row at the end, under one id,
// so the timeline draws the fault window and RCA evaluation can compare its findings with what was broken.
import { hostname } from 'node:os';
import type { Row } from '../../src/store/index.js';
import type { FaultTarget, GroundTruth } from './types.js';

/** 'payment@fl-pay POST /charge (edge orders->payment)' */
export function describeTarget(t: FaultTarget): string {
  return [`${t.service}${t.host ? `@${t.host}` : ''}`, t.endpoint, t.edge && `(edge ${t.edge.from}->${t.edge.to})`].filter(Boolean).join(' ');
}

export function groundTruthRow(gt: GroundTruth, state: 'injected' | 'stopped', error?: string): Row {
  const atMs = state === 'injected' ? gt.start : gt.end;
  return {
    ts_ns: BigInt(atMs) * 1_000_000n,
    host: hostname(),
    id: `scenario-${gt.scenario}-${gt.start}`,
    kind: gt.kind,
    target: describeTarget(gt.target),
    state,
    expires_ns: null,
    data: { source: 'demo-scenario', groundTruth: state === 'stopped' ? gt : { ...gt, end: undefined }, ...(error ? { error } : {}) },
  };
}
