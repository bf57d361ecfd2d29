// The Store contract every engine implements, and the record shapes it takes and returns.
import type { Flow } from '../model/flow.js';
import type { TableName } from './schema.js';
import type { RollupQuery, RollupSeries } from './rollup.js';

/** A flow as stored: the live Flow at one moment (`tsNs`, wall clock) on one agent host. */
export interface FlowSnapshot extends Flow {
  host: string;
  tsNs: bigint; // wall-clock ns (Date.now based) when the agent took the snapshot
}

/** Rows of the other tables use their column names; `data` holds anything the columns don't. */
export type Row = Record<string, unknown> & { ts_ns: bigint; host?: string; data?: unknown };

export interface TimeRange {
  fromNs: bigint;
  toNs: bigint;
}

export interface FlowQuery extends TimeRange {
  host?: string;
  netns?: number;
  pid?: number;
  ip?: string;
  port?: number;
  comm?: string;
  order?: 'bytes' | 'recent';
  limit?: number;
}

export interface ListQuery extends TimeRange {
  host?: string;
  limit?: number;
}

/** Totals of the newest snapshot of every flow, grouped by (client, server, port, proto). */
export interface EdgeTotals {
  client: string; // comm when the client process is known, else its IP
  server: string;
  clientIp: string;
  serverIp: string;
  serverPort: number;
  proto: string;
  flows: number;
  bytesClientToServer: bigint;
  bytesServerToClient: bigint;
  calls: bigint;
  errors: bigint;
}

export interface StoreStats {
  engine: 'duckdb' | 'clickhouse';
  location: string;
  schemaVersion: number;
  pendingRows: number; // buffered, not yet durable
  writtenRows: number;
  droppedRows: number; // batches that failed to write (also reported through onError)
  flushes: number;
  lastFlushError?: string;
}

export interface BatchOptions {
  /** Flush as soon as this many rows are buffered. */
  maxRows: number;
  /** Flush at most this long after the first row of a batch was buffered. */
  maxDelayMs: number;
}

export interface StoreOptions {
  batch?: Partial<BatchOptions>;
  /** Raw rows older than this are deleted by the retention timer (0 disables it). */
  retentionHours?: number;
  /** RED rollup rows older than this are deleted (default 30 days; 0 keeps them). */
  rollupRetentionHours?: number;
  /** How often the retention sweep runs. */
  retentionIntervalMs?: number;
  /** Called when a background flush or retention sweep fails. Defaults to console.error. */
  onError?: (err: Error) => void;
  /** Stop migrating at this schema version (tests of the migration path only: writes need the newest). */
  migrateTo?: number;
}

export interface Store {
  readonly engine: 'duckdb' | 'clickhouse';
  /**
   * Buffers rows; they become durable at the next flush (size or time bound). The promise resolves once
   * they are durable and rejects if their batch failed; ignoring it is fine (errors go to onError).
   */
  writeFlows(flows: FlowSnapshot[]): Promise<void>;
  write(table: Exclude<TableName, 'flows'>, rows: Row[]): Promise<void>;
  flush(): Promise<void>;
  /** Newest snapshot of each flow seen in the range, filtered, sorted by bytes (default) or recency. */
  queryFlows(q: FlowQuery): Promise<FlowSnapshot[]>;
  topFlowsByBytes(range: TimeRange, limit?: number): Promise<FlowSnapshot[]>;
  edgeTotals(range?: TimeRange): Promise<EdgeTotals[]>;
  list(table: Exclude<TableName, 'flows'>, q: ListQuery): Promise<Row[]>;
  /**
   * Deletes raw rows older than `olderThanNs` (default: now - retentionHours) and RED rollup rows older
   * than `rollupOlderThanNs` (default: now - rollupRetentionHours). Returns the raw cut-off.
   */
  applyRetention(olderThanNs?: bigint, rollupOlderThanNs?: bigint): Promise<bigint>;
  /** Per-minute RED rollups merged over the range, per endpoint or edge, with points per step. */
  redRollup(q: RollupQuery): Promise<RollupSeries[]>;
  schemaVersion(): Promise<number>;
  stats(): StoreStats;
  close(): Promise<void>;
}
