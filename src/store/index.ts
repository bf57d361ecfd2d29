// Entry point of the store: pick the engine from a URL and open it (migrating the schema if needed).
//   undefined / ""                  DuckDB file <dataDir>/faultlens.duckdb (dataDir: ~/.faultlens/data)
//   duckdb:///abs/file.duckdb | path DuckDB file;  duckdb::memory:  in-memory (tests)
//   clickhouse://host:8123/db       ClickHouse over HTTP
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { openClickHouseEngine } from './clickhouse.js';
import { openDuckDBEngine } from './duckdb.js';
import { SqlStore } from './sql-store.js';
import type { Store, StoreOptions } from './types.js';

export * from './types.js';
export { TABLE_NAMES, TABLES, SCHEMA_VERSION, isTableName, type TableName } from './schema.js';
export { jsonStringify, toBig } from './codec.js';
export { nowNs, DEFAULT_BATCH, DEFAULT_RETENTION_HOURS, DEFAULT_ROLLUP_RETENTION_HOURS } from './sql-store.js';
export type { RollupKind, RollupPoint, RollupQuery, RollupSeries } from './rollup.js';

export const DEFAULT_DATA_DIR = join(homedir(), '.faultlens', 'data');
export const DUCKDB_FILE = 'faultlens.duckdb';

export interface OpenStoreOptions extends StoreOptions {
  dataDir?: string;
}

/** Where a store URL points, without opening it (for messages such as `faultlens up`'s banner). */
export function describeStoreUrl(url: string | undefined, dataDir = DEFAULT_DATA_DIR): { engine: 'duckdb' | 'clickhouse'; target: string } {
  if (url && url.startsWith('clickhouse://')) return { engine: 'clickhouse', target: url.replace(/\/\/[^@/]*@/, '//') };
  if (!url) return { engine: 'duckdb', target: join(resolve(dataDir), DUCKDB_FILE) };
  if (url === 'duckdb::memory:' || url === ':memory:') return { engine: 'duckdb', target: ':memory:' };
  const path = url.startsWith('duckdb://') ? url.slice('duckdb://'.length) : url;
  if (/^[a-z]+:\/\//.test(path)) throw new Error(`unsupported store URL "${url}" (use duckdb:///path or clickhouse://host:8123/db)`);
  return { engine: 'duckdb', target: resolve(path) };
}

export async function openStore(url?: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const { engine, target } = describeStoreUrl(url, opts.dataDir);
  const db = engine === 'clickhouse' ? await openClickHouseEngine(url!) : await openDuckDBEngine(target);
  return SqlStore.open(db, opts);
}
