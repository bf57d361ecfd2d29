// Scale-out engine: ClickHouse over its HTTP interface (plain fetch). SQL stays within 18.16 (Debian 12's
// clickhouse-server): no bound parameters, no TTL clause (retention is ALTER TABLE … DELETE, a mutation
// that ClickHouse applies asynchronously), MergeTree partitioned by day. Inserts are TabSeparated, which
// carries 64-bit integers as exact decimal text; reads are JSONEachRow, which quotes 64-bit integers.
import type { Cell } from './codec.js';
import type { Engine } from './engine.js';
import type { ColumnSpec, Dialect, TableSpec } from './schema.js';

const TYPES: Record<ColumnSpec['kind'], string> = {
  str: 'String',
  json: 'String',
  i32: 'Int32',
  i64: 'Int64',
  u64: 'UInt64',
  f64: 'Float64',
  bool: 'UInt8',
};

export interface ClickHouseTarget {
  baseUrl: string; // http://host:port/
  database: string;
  user?: string;
  password?: string;
}

/** clickhouse://[user[:password]@]host[:port]/database  (port defaults to 8123, database to "faultlens") */
export function parseClickHouseUrl(url: string): ClickHouseTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`invalid ClickHouse URL "${url}" (expected clickhouse://host:8123/database)`);
  }
  if (u.protocol !== 'clickhouse:') throw new Error(`not a clickhouse:// URL: ${url}`);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'faultlens';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error(`invalid ClickHouse database name "${database}"`);
  const secure = u.searchParams.get('secure') === 'true';
  const t: ClickHouseTarget = { baseUrl: `${secure ? 'https' : 'http'}://${u.hostname}:${u.port || '8123'}/`, database };
  if (u.username) t.user = decodeURIComponent(u.username);
  if (u.password) t.password = decodeURIComponent(u.password);
  return t;
}

export function clickhouseDialect(database: string): Dialect {
  return {
    engine: 'clickhouse',
    table: (name) => `${database}.${name}`,
    columnType: (col) => (col.nullable ? `Nullable(${TYPES[col.kind]})` : TYPES[col.kind]),
    createTableSuffix: ({ orderBy }) =>
      orderBy === 'ts_ns'
        ? ` ENGINE = MergeTree() PARTITION BY toYYYYMMDD(toDateTime(intDiv(ts_ns, 1000000000))) ORDER BY (ts_ns)`
        : ` ENGINE = MergeTree() ORDER BY (${orderBy})`,
    quote: (s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`,
    deleteOlderThan: (table, ts) => `ALTER TABLE ${table} DELETE WHERE ts_ns < ${ts}`,
    // no IF NOT EXISTS in 18.16: a concurrent migration's duplicate is tolerated by the migrator
    addColumn: (table, col) => `ALTER TABLE ${table} ADD COLUMN ${col.name} Nullable(${TYPES[col.kind]})`,
  };
}

function tsvField(v: Cell): string {
  if (v === null) return '\\N';
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v !== 'string') return String(v);
  return v.replace(/[\\\t\n\r\0]/g, (ch) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' })[ch]!);
}

class ClickHouseEngine implements Engine {
  readonly dialect: Dialect;
  readonly location: string;

  constructor(private readonly t: ClickHouseTarget) {
    this.dialect = clickhouseDialect(t.database);
    this.location = `${t.baseUrl}${t.database}`;
  }

  private async request(query: string, body?: string): Promise<string> {
    const url = new URL(this.t.baseUrl);
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
    if (this.t.user) headers['X-ClickHouse-User'] = this.t.user;
    if (this.t.password) headers['X-ClickHouse-Key'] = this.t.password;
    let payload = query;
    if (body !== undefined) {
      url.searchParams.set('query', query); // INSERT: statement in the URL, rows in the body
      payload = body;
    }
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      const cause = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
      throw new Error(`ClickHouse at ${this.t.baseUrl} unreachable: ${cause}`);
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`ClickHouse error ${res.status}: ${text.trim().slice(0, 500)} (query: ${query.slice(0, 200)})`);
    return text;
  }

  async exec(sql: string): Promise<void> {
    await this.request(sql);
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    const text = await this.request(`${sql} FORMAT JSONEachRow`);
    return text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async insert(spec: TableSpec, rows: Cell[][]): Promise<void> {
    const cols = spec.columns.map((c) => c.name).join(', ');
    const body = rows.map((r) => r.map(tsvField).join('\t')).join('\n') + '\n';
    await this.request(`INSERT INTO ${this.dialect.table(spec.name)} (${cols}) FORMAT TabSeparated`, body);
  }

  async close(): Promise<void> {}
}

export async function openClickHouseEngine(url: string): Promise<Engine> {
  const t = parseClickHouseUrl(url);
  const e = new ClickHouseEngine(t);
  await e.exec(`CREATE DATABASE IF NOT EXISTS ${t.database}`);
  return e;
}
