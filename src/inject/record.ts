// Injections as rows of the store's `faults` table: the timeline shows them and RCA uses them as ground truth.
import { hostname } from 'node:os';
import type { Row, Store } from '../store/index.js';
import type { InjectEvent } from './engine.js';

export function faultEventRow(e: InjectEvent, host = hostname()): Row {
  const f = e.fault;
  return {
    ts_ns: BigInt(e.atMs) * 1_000_000n,
    host,
    id: f.id,
    kind: f.spec.kind,
    target: f.description,
    state: e.type,
    expires_ns: BigInt(f.deadlineMs) * 1_000_000n,
    data: { spec: f.spec, ownerPid: f.ownerPid, attachments: f.attachments, createdAtMs: f.createdAtMs },
  };
}

/** An onEvent callback for InjectEngine that writes every event to the store (errors go to onError). */
export function recordFaultEvents(store: Store, onError: (err: Error) => void = (e) => console.error(`faultlens inject: store: ${e.message}`)):
  (e: InjectEvent) => void {
  return (e) => { store.write('faults', [faultEventRow(e)]).catch(onError); };
}
