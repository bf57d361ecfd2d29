import { ROLLUP_SPEC } from './rollup.js';

// Table definitions shared by every engine: one column list per table, rendered to each engine's DDL.
// Every table has `ts_ns` (wall-clock ns, the retention and time-range key) and `host` (which agent wrote it).

export type ColumnKind = 'str' | 'i32' | 'i64' | 'u64' | 'f64' | 'bool' | 'json';

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  nullable?: boolean;
  since?: number; // schema version that added the column (default 1); later ones must be nullable
}

export interface TableSpec {
  name: string; // a TableName, or a derived table such as the RED rollup
  columns: ColumnSpec[];
}

export const TABLE_NAMES = [
  'flows',
  'tcp_samples',
  'requests',
  'business_events',
  'findings',
  'alerts',
  'faults',
] as const;
export type TableName = (typeof TABLE_NAMES)[number];

const c = (name: string, kind: ColumnKind, nullable = false, since = 1): ColumnSpec => ({ name, kind, nullable, since });
const base = [c('ts_ns', 'i64'), c('host', 'str')];

export const TABLES: Record<TableName, TableSpec> = {
  // One row per flow snapshot. Counters are cumulative since the flow opened, so the newest snapshot of a
  // flow in a window is its state; duplicates (an agent retrying, two servers) never change query results.
  flows: {
    name: 'flows',
    columns: [
      ...base,
      c('id', 'str'),
      c('netns', 'i64'),
      c('proto', 'str'),
      c('client_ip', 'str'),
      c('client_port', 'i32'),
      c('server_ip', 'str'),
      c('server_port', 'i32'),
      c('client_pid', 'i32', true),
      c('client_comm', 'str', true),
      c('client_cgroup', 'u64', true),
      c('server_pid', 'i32', true),
      c('server_comm', 'str', true),
      c('server_cgroup', 'u64', true),
      c('socket_cookies', 'str'), // decimal u64 list, comma separated (arrays differ too much between engines)
      c('first_seen_ns', 'i64'), // CLOCK_MONOTONIC of the agent's host, as captured
      c('last_seen_ns', 'i64'),
      c('closed_ns', 'i64', true),
      c('bytes_c2s', 'i64'),
      c('bytes_s2c', 'i64'),
      c('calls_c2s', 'i64'),
      c('calls_s2c', 'i64'),
      c('errors_total', 'i64'),
      c('errors', 'json'),
      c('duration_ns', 'i64', true, 2),
      c('client_netns', 'i64', true, 2), // netns of each local end: they differ across a veth pair
      c('server_netns', 'i64', true, 2),
      c('syscalls', 'str', true, 2), // syscall families seen, comma separated
    ],
  },
  tcp_samples: {
    name: 'tcp_samples',
    columns: [
      ...base,
      c('flow_id', 'str', true),
      c('cookie', 'u64'),
      c('state', 'str', true),
      c('srtt_us', 'i64', true),
      c('rttvar_us', 'i64', true),
      c('snd_cwnd', 'i64', true),
      c('retrans', 'i64', true),
      c('lost', 'i64', true),
      c('data', 'json'),
    ],
  },
  requests: {
    name: 'requests',
    columns: [
      ...base,
      c('flow_id', 'str', true),
      c('pid', 'i32', true),
      c('tid', 'i32', true),
      c('service', 'str', true),
      c('protocol', 'str'),
      c('method', 'str', true),
      c('endpoint', 'str', true),
      c('status', 'i32', true),
      c('duration_ns', 'i64'),
      c('error', 'bool'),
      c('trace_id', 'str', true),
      c('span_id', 'str', true),
      c('data', 'json'),
    ],
  },
  business_events: {
    name: 'business_events',
    columns: [...base, c('pid', 'i32', true), c('tid', 'i32', true), c('name', 'str'), c('trace_id', 'str', true), c('data', 'json')],
  },
  findings: {
    name: 'findings',
    columns: [...base, c('id', 'str'), c('kind', 'str'), c('severity', 'str'), c('subject', 'str'), c('summary', 'str'), c('data', 'json')],
  },
  alerts: {
    name: 'alerts',
    columns: [...base, c('id', 'str'), c('rule', 'str'), c('state', 'str'), c('severity', 'str'), c('summary', 'str'), c('data', 'json')],
  },
  faults: {
    name: 'faults',
    columns: [...base, c('id', 'str'), c('kind', 'str'), c('target', 'str'), c('state', 'str'), c('expires_ns', 'i64', true), c('data', 'json')],
  },
};

export function isTableName(name: string): name is TableName {
  return (TABLE_NAMES as readonly string[]).includes(name);
}

/** The SQL differences between engines that the shared DDL and queries need. */
export interface Dialect {
  engine: 'duckdb' | 'clickhouse';
  table(name: string): string; // qualified name
  columnType(col: ColumnSpec): string;
  createTableSuffix(spec: { orderBy: string }): string;
  quote(s: string): string; // a string literal
  deleteOlderThan(table: string, tsNs: bigint): string;
  addColumn(table: string, col: ColumnSpec): string;
}

/** CREATE TABLE with the columns the table had at `version` (migrations stay frozen as columns are added). */
export function createTableSql(d: Dialect, spec: TableSpec, version = 1): string {
  const cols = spec.columns
    .filter((col) => (col.since ?? 1) <= version)
    .map((col) => `${col.name} ${d.columnType(col)}`)
    .join(', ');
  return `CREATE TABLE IF NOT EXISTS ${d.table(spec.name)} (${cols})${d.createTableSuffix({ orderBy: 'ts_ns' })}`;
}

export interface Migration {
  version: number;
  description: string;
  statements(d: Dialect): string[];
}

/** Append only: never edit a released migration, add the next version. */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'flows, tcp_samples, requests, business_events, findings, alerts, faults',
    statements: (d) => TABLE_NAMES.map((t) => createTableSql(d, TABLES[t], 1)),
  },
  {
    version: 2,
    description: 'flows: duration_ns, client_netns, server_netns, syscalls',
    statements: (d) => addedColumns(d, 2),
  },
  {
    version: 3,
    description: 'red_rollup: per-minute RED per endpoint and edge, kept longer than raw rows',
    statements: (d) => [createTableSql(d, ROLLUP_SPEC, 3)],
  },
];

function addedColumns(d: Dialect, version: number): string[] {
  return TABLE_NAMES.flatMap((t) =>
    TABLES[t].columns.filter((col) => col.since === version).map((col) => d.addColumn(d.table(t), col)),
  );
}

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
