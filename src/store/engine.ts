// What an engine must provide to the shared store logic (batching, migrations, queries, retention).
import type { Cell } from './codec.js';
import type { Dialect, TableSpec } from './schema.js';

export interface Engine {
  readonly dialect: Dialect;
  readonly location: string; // file path or URL without credentials, for humans
  exec(sql: string): Promise<void>;
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Writes rows (cells in the table's column order) durably before resolving. */
  insert(spec: TableSpec, rows: Cell[][]): Promise<void>;
  close(): Promise<void>;
}
