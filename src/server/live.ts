// The live-publish hook: the agent (or the ingest route) publishes updates here; the server fans them
// out to every /api/live subscriber. In-process only: with several servers each fans out what it ingests.
import { EventEmitter } from 'node:events';
import type { TableName } from '../store/index.js';
import type { FlowSnapshot, Row } from '../store/types.js';

export type LiveEvent =
  | { type: 'flows'; host: string; flows: FlowSnapshot[] }
  | { type: 'records'; host: string; table: Exclude<TableName, 'flows'>; rows: Row[] };

export type LiveListener = (e: LiveEvent) => void;

export class LiveHub {
  private readonly emitter = new EventEmitter();
  published = 0;

  constructor() {
    this.emitter.setMaxListeners(0); // one listener per browser tab; no leak warning
  }

  publish(e: LiveEvent): void {
    this.published++;
    this.emitter.emit('event', e);
  }

  publishFlows(host: string, flows: FlowSnapshot[]): void {
    if (flows.length) this.publish({ type: 'flows', host, flows });
  }

  /** Returns the unsubscribe function. */
  subscribe(fn: LiveListener): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }

  get subscribers(): number {
    return this.emitter.listenerCount('event');
  }
}
