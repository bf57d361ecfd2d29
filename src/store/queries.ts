// SQL shared by both engines: only constructs both DuckDB and ClickHouse 18.16 understand (argMax,
// GROUP BY, coalesce). Values are inlined as literals because ClickHouse 18.16 has no bound parameters;
// every value is a checked integer or goes through the dialect's quote().
import { TABLES, type Dialect, type TableName } from './schema.js';
import type { FlowQuery, ListQuery, TimeRange } from './types.js';

const FLOW_COLS = TABLES.flows.columns.map((c) => c.name).filter((n) => n !== 'host' && n !== 'id' && n !== 'ts_ns');

function int(v: number | bigint, what: string): string {
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isSafeInteger(v)) throw new RangeError(`${what} must be an integer, got ${v}`);
  return String(v);
}

function rangeWhere(r: TimeRange): string {
  return `ts_ns >= ${int(r.fromNs, 'from')} AND ts_ns <= ${int(r.toNs, 'to')}`;
}

function flowWhere(d: Dialect, q: Partial<FlowQuery>): string {
  const w: string[] = [];
  if (q.fromNs !== undefined && q.toNs !== undefined) w.push(rangeWhere(q as TimeRange));
  if (q.host !== undefined) w.push(`host = ${d.quote(q.host)}`);
  if (q.netns !== undefined) w.push(`netns = ${int(q.netns, 'netns')}`);
  if (q.pid !== undefined) w.push(`(client_pid = ${int(q.pid, 'pid')} OR server_pid = ${int(q.pid, 'pid')})`);
  if (q.port !== undefined) w.push(`(client_port = ${int(q.port, 'port')} OR server_port = ${int(q.port, 'port')})`);
  if (q.ip !== undefined) w.push(`(client_ip = ${d.quote(q.ip)} OR server_ip = ${d.quote(q.ip)})`);
  if (q.comm !== undefined) w.push(`(client_comm = ${d.quote(q.comm)} OR server_comm = ${d.quote(q.comm)})`);
  return w.length ? `WHERE ${w.join(' AND ')}` : '';
}

/**
 * Newest snapshot per (host, flow id). Aliases are prefixed `l_` because ClickHouse substitutes an alias
 * that equals a column name inside other aggregates.
 */
function latestFlowsSql(d: Dialect, q: Partial<FlowQuery>): string {
  const cols = FLOW_COLS.map((c) => `argMax(${c}, ts_ns) AS l_${c}`).join(', ');
  return `SELECT host, id, max(ts_ns) AS l_ts_ns, ${cols} FROM ${d.table('flows')} ${flowWhere(d, q)} GROUP BY host, id`;
}

export function flowsSql(d: Dialect, q: FlowQuery): string {
  const order = q.order === 'recent' ? 'l_ts_ns DESC' : '(l_bytes_c2s + l_bytes_s2c) DESC, l_ts_ns DESC';
  return `${latestFlowsSql(d, q)} ORDER BY ${order} LIMIT ${int(q.limit ?? 1000, 'limit')}`;
}

export function edgeTotalsSql(d: Dialect, r?: TimeRange): string {
  const inner = latestFlowsSql(d, r ?? {});
  return (
    `SELECT coalesce(l_client_comm, l_client_ip) AS e_client, coalesce(l_server_comm, l_server_ip) AS e_server, ` +
    `min(l_client_ip) AS e_client_ip, min(l_server_ip) AS e_server_ip, l_server_port AS e_port, l_proto AS e_proto, ` +
    `count(*) AS e_flows, sum(l_bytes_c2s) AS e_c2s, sum(l_bytes_s2c) AS e_s2c, ` +
    `sum(l_calls_c2s + l_calls_s2c) AS e_calls, sum(l_errors_total) AS e_errors ` +
    `FROM (${inner}) AS latest GROUP BY e_client, e_server, e_port, e_proto ORDER BY e_client, e_server, e_port`
  );
}

export function listSql(d: Dialect, table: TableName, q: ListQuery): string {
  const cols = TABLES[table].columns.map((c) => c.name).join(', ');
  const host = q.host !== undefined ? ` AND host = ${d.quote(q.host)}` : '';
  return `SELECT ${cols} FROM ${d.table(table)} WHERE ${rangeWhere(q)}${host} ORDER BY ts_ns DESC LIMIT ${int(q.limit ?? 1000, 'limit')}`;
}
