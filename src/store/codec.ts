// Conversions between records and table rows. Engines hand back 64-bit values as bigint (DuckDB) or
// decimal strings (ClickHouse JSON); everything goes through toBig/toNum so neither loses precision.
import type { Flow } from '../model/flow.js';
import type { ColumnSpec, TableSpec } from './schema.js';
import type { FlowSnapshot, Row } from './types.js';

export type Cell = string | number | bigint | boolean | null;

export function toBig(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  throw new TypeError(`not an integer: ${String(v)}`);
}

export function toNum(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'string') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new TypeError(`not a number: ${String(v)}`);
}

/** JSON.stringify that writes bigints as decimal strings (JSON has no 64-bit integers). */
export function jsonStringify(v: unknown, space?: number): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), space);
}

/** A record value -> the cell an engine writes, checked against the column kind. */
export function toCell(col: ColumnSpec, v: unknown): Cell {
  if (v === undefined || v === null) {
    if (col.kind === 'json') return 'null';
    if (col.nullable) return null;
    if (col.kind === 'str') return '';
    if (col.kind === 'bool') return false;
    if (col.kind === 'i64' || col.kind === 'u64') return 0n;
    return 0;
  }
  switch (col.kind) {
    case 'str':
      return String(v);
    case 'json':
      return jsonStringify(v);
    case 'bool':
      return Boolean(v);
    case 'i32':
    case 'f64': {
      const n = toNum(v);
      if (!Number.isFinite(n)) throw new TypeError(`${col.name}: not a finite number: ${String(v)}`);
      return col.kind === 'i32' ? Math.trunc(n) : n;
    }
    case 'i64':
    case 'u64': {
      const b = toBig(v);
      if (col.kind === 'u64' && b < 0n) throw new RangeError(`${col.name}: negative value for unsigned column`);
      return b;
    }
  }
}

/** A cell read back from an engine -> the record value for the column kind. */
export function fromCell(col: ColumnSpec, v: unknown): unknown {
  if (v === null || v === undefined) return col.kind === 'json' ? null : undefined;
  switch (col.kind) {
    case 'str':
      return String(v);
    case 'json':
      return typeof v === 'string' ? JSON.parse(v) : v;
    case 'bool':
      return v === true || v === 1 || v === '1' || v === 1n;
    case 'i32':
    case 'f64':
      return toNum(v);
    case 'i64':
    case 'u64':
      return toBig(v);
  }
}

export function flowToRecord(f: FlowSnapshot): Record<string, unknown> {
  const errors = f.errors ?? {};
  return {
    ts_ns: f.tsNs,
    host: f.host,
    id: f.id,
    netns: f.netns,
    proto: f.proto,
    client_ip: f.client.ip,
    client_port: f.client.port,
    server_ip: f.server.ip,
    server_port: f.server.port,
    client_pid: f.clientProc?.pid,
    client_comm: f.clientProc?.comm,
    client_cgroup: f.clientProc?.cgroupId,
    server_pid: f.serverProc?.pid,
    server_comm: f.serverProc?.comm,
    server_cgroup: f.serverProc?.cgroupId,
    socket_cookies: f.socketCookies.map(String).join(','),
    first_seen_ns: f.firstSeenNs,
    last_seen_ns: f.lastSeenNs,
    closed_ns: f.closedNs,
    bytes_c2s: f.bytesClientToServer,
    bytes_s2c: f.bytesServerToClient,
    calls_c2s: f.callsClientToServer,
    calls_s2c: f.callsServerToClient,
    errors_total: Object.values(errors).reduce((a, b) => a + b, 0),
    errors,
    duration_ns: f.durationNs,
    client_netns: f.clientNetns,
    server_netns: f.serverNetns,
    syscalls: f.syscalls?.join(','),
  };
}

export function recordToFlow(r: Record<string, unknown>): FlowSnapshot {
  const proc = (side: 'client' | 'server') =>
    r[`${side}_pid`] === undefined
      ? undefined
      : {
          pid: r[`${side}_pid`] as number,
          comm: (r[`${side}_comm`] as string | undefined) ?? '',
          cgroupId: (r[`${side}_cgroup`] as bigint | undefined) ?? 0n,
        };
  const flow: Flow = {
    id: r.id as string,
    netns: Number(r.netns as bigint),
    proto: r.proto as Flow['proto'],
    client: { ip: r.client_ip as string, port: r.client_port as number },
    server: { ip: r.server_ip as string, port: r.server_port as number },
    socketCookies: String(r.socket_cookies ?? '')
      .split(',')
      .filter(Boolean)
      .map((s) => BigInt(s)),
    firstSeenNs: r.first_seen_ns as bigint,
    lastSeenNs: r.last_seen_ns as bigint,
    bytesClientToServer: Number(r.bytes_c2s as bigint),
    bytesServerToClient: Number(r.bytes_s2c as bigint),
    callsClientToServer: Number(r.calls_c2s as bigint),
    callsServerToClient: Number(r.calls_s2c as bigint),
    errors: (r.errors as Record<string, number> | null) ?? {},
  };
  const cp = proc('client');
  const sp = proc('server');
  if (cp) flow.clientProc = cp;
  if (sp) flow.serverProc = sp;
  if (r.closed_ns !== undefined) flow.closedNs = r.closed_ns as bigint;
  if (r.duration_ns !== undefined) flow.durationNs = r.duration_ns as bigint;
  if (r.client_netns !== undefined) flow.clientNetns = Number(r.client_netns as bigint);
  if (r.server_netns !== undefined) flow.serverNetns = Number(r.server_netns as bigint);
  if (r.syscalls !== undefined) flow.syscalls = String(r.syscalls).split(',').filter(Boolean);
  return { ...flow, host: r.host as string, tsNs: r.ts_ns as bigint };
}

export function recordToCells(spec: TableSpec, rec: Record<string, unknown>): Cell[] {
  return spec.columns.map((col) => toCell(col, rec[col.name]));
}

/** Decodes a row read from an engine; `prefix` strips aggregate aliases (l_bytes_c2s -> bytes_c2s). */
export function cellsToRecord(spec: TableSpec, raw: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const col of spec.columns) {
    const key = prefix + col.name;
    const v = fromCell(col, key in raw ? raw[key] : raw[col.name]);
    if (v !== undefined) out[col.name] = v;
  }
  return out;
}

export function rowFromRecord(spec: TableSpec, raw: Record<string, unknown>): Row {
  return cellsToRecord(spec, raw) as Row;
}
