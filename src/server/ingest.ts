// One way in for records, used by the local agent and by POST /api/ingest alike: store + live fan-out.
import type { Store } from '../store/types.js';
import type { LiveHub } from './live.js';
import { flowFromWire, RECORD_TABLES, type IngestBody } from './wire.js';
import type { FlowSnapshot, Row } from '../store/types.js';
import type { Flow } from '../model/flow.js';
import { nowNs } from '../store/sql-store.js';

export interface IngestResult {
  accepted: Record<string, number>;
  /** Resolves when every record of the batch is durable (rejects if a batch failed to write). */
  durable: Promise<void>;
}

export interface Ingestor {
  /** Records already typed (the in-process agent). */
  ingest(host: string, flows: FlowSnapshot[], records?: Partial<Record<(typeof RECORD_TABLES)[number], Row[]>>): IngestResult;
  /** Live flows of the local agent (e.g. FlowTable.changed()), stamped with `host` and the wall clock now. */
  ingestFlows(host: string, flows: Flow[], tsNs?: bigint): IngestResult;
  /** A validated POST /api/ingest body (64-bit values already converted). */
  ingestWire(body: IngestBody): IngestResult;
}

export function createIngestor(store: Store, live: LiveHub): Ingestor {
  const ingest: Ingestor['ingest'] = (host, flows, records = {}) => {
    const accepted: Record<string, number> = {};
    const writes: Promise<void>[] = [];
    if (flows.length) {
      writes.push(store.writeFlows(flows));
      live.publishFlows(host, flows);
      accepted.flows = flows.length;
    }
    for (const table of RECORD_TABLES) {
      const rows = records[table];
      if (!rows?.length) continue;
      const withHost = rows.map((r) => ({ ...r, host: r.host ?? host }));
      writes.push(store.write(table, withHost));
      live.publish({ type: 'records', host, table, rows: withHost });
      accepted[table] = rows.length;
    }
    const durable = Promise.all(writes).then(() => undefined);
    durable.catch(() => {});
    return { accepted, durable };
  };
  return {
    ingest,
    ingestFlows(host, flows, tsNs = nowNs()) {
      return ingest(host, flows.map((f) => ({ ...f, host, tsNs })));
    },
    ingestWire(body) {
      const flows = (body.flows ?? []).map((f) => flowFromWire(f, body.host));
      const records: Partial<Record<(typeof RECORD_TABLES)[number], Row[]>> = {};
      for (const t of RECORD_TABLES) {
        const rows = (body as Record<string, unknown>)[t] as Row[] | undefined;
        if (rows) records[t] = rows;
      }
      return ingest(body.host, flows, records);
    },
  };
}
