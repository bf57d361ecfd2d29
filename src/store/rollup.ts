// Per-minute RED rollups of the `requests` table, kept far longer than the raw rows (a week of a busy host
// would not fit raw; its rollup is one row per key per minute). The store folds every requests row it
// writes into an in-memory minute bucket per key; a minute is written once it is closed (plus a grace for
// late rows). A row arriving after its minute was written adds another row for that minute: queries sum
// rows, so late data counts once and nothing is lost. Latency is kept as the sparse log-linear histogram
// of src/correlate/red.ts, so minutes merge into exact-to-the-bucket quantiles over any range.
//
// Keys: kind 'endpoint' (service = the server, peer = '', method, endpoint) and kind 'edge' (service = the
// client, peer = the server). Both sides' records are kept apart (`side`); queries prefer the server view,
// as RedAggregator does. Crash bound: the open minutes (in memory) of rollups; raw requests are unaffected.
import { LatencyHistogram } from '../correlate/red.js';
import { toBig, toNum, type Cell } from './codec.js';
import type { ColumnSpec, Dialect, TableSpec } from './schema.js';
import type { Row } from './types.js';

export const MINUTE_NS = 60_000_000_000n;
export const ROLLUP_TABLE = 'red_rollup';

const c = (name: string, kind: ColumnSpec['kind']): ColumnSpec => ({ name, kind });

export const ROLLUP_SPEC: TableSpec = {
  name: ROLLUP_TABLE,
  columns: [
    c('ts_ns', 'i64'), // minute start, wall clock
    c('host', 'str'),
    c('kind', 'str'), // endpoint | edge
    c('side', 'str'), // server | client: whose records
    c('service', 'str'),
    c('peer', 'str'),
    c('protocol', 'str'),
    c('method', 'str'),
    c('endpoint', 'str'),
    c('requests', 'i64'),
    c('errors', 'i64'),
    c('duration_sum_us', 'f64'),
    c('duration_max_us', 'f64'),
    c('p50_ms', 'f64'), // of this row alone: for SQL readers; merged queries use the histogram
    c('p90_ms', 'f64'),
    c('p99_ms', 'f64'),
    c('hist', 'str'), // sparse log-linear buckets "bucket:count,…"
  ],
};

export type RollupKind = 'endpoint' | 'edge';

export interface Bucket {
  tsNs: bigint;
  host: string;
  kind: RollupKind;
  side: string;
  service: string;
  peer: string;
  protocol: string;
  method: string;
  endpoint: string;
  errors: number;
  hist: LatencyHistogram;
}

function parseData(v: unknown): Record<string, unknown> {
  if (typeof v === 'string') {
    try {
      return JSON.parse(v) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

export function encodeHist(h: LatencyHistogram): string {
  const parts: string[] = [];
  h.counts.forEach((n, b) => {
    if (n) parts.push(`${b}:${n}`);
  });
  return parts.join(',');
}

/** Adds the histogram text of a stored row into `h` (count and sum come from their columns). */
export function mergeHistText(h: LatencyHistogram, text: string): void {
  // hand-rolled: the RED queries merge one of these per rollup row, and split/Number made them the hot spot
  const counts = h.counts;
  let b = 0;
  let n = 0;
  let inCount = false;
  let ok = true; // the current part has only digits so far
  let bDigits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 44; // ',' ends the last part
    if (c >= 48 && c <= 57) {
      if (inCount) n = n * 10 + (c - 48);
      else {
        b = b * 10 + (c - 48);
        bDigits++;
      }
    } else if (c === 58 && !inCount) {
      inCount = true;
    } else if (c === 44) {
      if (ok && inCount && bDigits > 0 && n > 0 && b < counts.length) counts[b]! += n;
      b = 0;
      bDigits = 0;
      n = 0;
      inCount = false;
      ok = true;
    } else ok = false;
  }
}

/** One minute of one key as a stored row (cells in ROLLUP_SPEC order). */
export function rollupCells(b: Bucket): Cell[] {
  const h = b.hist;
  return [
    b.tsNs, b.host, b.kind, b.side, b.service, b.peer, b.protocol, b.method, b.endpoint,
    BigInt(h.count), BigInt(b.errors), h.sumUs, h.maxUs,
    h.quantileUs(0.5) / 1000, h.quantileUs(0.9) / 1000, h.quantileUs(0.99) / 1000,
    encodeHist(h),
  ];
}

/** Minute buckets being filled; `drain` hands over the closed ones as rollup rows. */
export class RollupAccumulator {
  private readonly buckets = new Map<string, Bucket>();
  dropped = 0; // rows refused because maxKeys open buckets exist

  constructor(private readonly maxKeys = 50_000) {} // ~1.2 KB each: bounded memory

  get size(): number {
    return this.buckets.size;
  }

  /** Folds `requests` rows (as the store receives them) into their minute buckets. */
  add(rows: Row[]): void {
    // the ingest hot path (every request row passes here): no spreads, one bigint division, string keys
    for (const r of rows) {
      let ts: bigint;
      let durUs: number;
      try {
        ts = toBig(r.ts_ns);
        durUs = toNum(r.duration_ns ?? 0) / 1000;
      } catch {
        continue;
      }
      const d = parseData(r.data);
      let m = ts / MINUTE_NS;
      if (ts < 0n && m * MINUTE_NS !== ts) m -= 1n; // floor, not truncation
      const side = d.side === 'client' ? 'client' : 'server';
      const service = r.service ?? '';
      const server = String(d.serverService ?? (side === 'server' ? service : ''));
      const client = String(d.clientService ?? (side === 'client' ? service : ''));
      const host = String(r.host ?? '');
      const protocol = String(r.protocol ?? '');
      const error = Boolean(r.error);
      const method = String(r.method ?? '');
      const endpoint = String(r.endpoint ?? '');
      const head = `${m}\0${host}\0${side}\0${protocol}\0`;
      this.fold(`${head}endpoint\0${server}\0\0${method}\0${endpoint}`, m, host, 'endpoint', side, server, '', protocol, method, endpoint, durUs, error);
      this.fold(`${head}edge\0${client}\0${server}\0\0`, m, host, 'edge', side, client, server, protocol, '', '', durUs, error);
    }
  }

  private fold(key: string, minute: bigint, host: string, kind: RollupKind, side: string, service: string, peer: string, protocol: string, method: string, endpoint: string, durUs: number, error: boolean): void {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) {
        this.dropped++;
        return;
      }
      b = { tsNs: minute * MINUTE_NS, host, kind, side, service, peer, protocol, method, endpoint, errors: 0, hist: new LatencyHistogram() };
      this.buckets.set(key, b);
    }
    b.hist.add(durUs);
    if (error) b.errors++;
  }

  /** Rollup rows (cells in ROLLUP_SPEC order) of every minute that ended before `beforeNs`; removed here. */
  drain(beforeNs: bigint): Cell[][] {
    const out: Cell[][] = [];
    for (const [key, b] of this.buckets) {
      if (b.tsNs + MINUTE_NS > beforeNs) continue;
      this.buckets.delete(key);
      out.push(rollupCells(b));
    }
    return out;
  }
}

// ---- queries ------------------------------------------------------------------------------------

export interface RollupQuery {
  fromNs: bigint;
  toNs: bigint;
  kind: RollupKind;
  service?: string; // endpoint: the server; edge: the client
  peer?: string; // edge: the server
  host?: string;
  /** Points per this step (a multiple of a minute; default: one point for the whole range). */
  stepNs?: bigint;
}

export interface RollupPoint {
  tsNs: bigint; // step start
  count: number;
  errors: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

export interface RollupSeries extends RollupPoint {
  service: string;
  peer: string;
  protocol: string;
  method: string;
  endpoint: string;
  side: 'server' | 'client';
  points: RollupPoint[];
}

function int(v: bigint | number): string {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`not an integer: ${v}`);
  return String(v);
}

export function rollupSql(d: Dialect, q: RollupQuery): string {
  const w = [`ts_ns >= ${int(q.fromNs)}`, `ts_ns <= ${int(q.toNs)}`, `kind = ${d.quote(q.kind)}`];
  if (q.service !== undefined) w.push(`service = ${d.quote(q.service)}`);
  if (q.peer !== undefined) w.push(`peer = ${d.quote(q.peer)}`);
  if (q.host !== undefined) w.push(`host = ${d.quote(q.host)}`);
  const cols = ROLLUP_SPEC.columns.map((x) => x.name).join(', ');
  return `SELECT ${cols} FROM ${d.table(ROLLUP_TABLE)} WHERE ${w.join(' AND ')}`;
}

class Acc {
  count = 0;
  errors = 0;
  sumUs = 0;
  maxUs = 0;
  readonly hist = new LatencyHistogram();
  add(r: Record<string, unknown>): void {
    this.count += toNum(r.requests);
    this.errors += toNum(r.errors);
    this.sumUs += toNum(r.duration_sum_us);
    this.maxUs = Math.max(this.maxUs, toNum(r.duration_max_us));
    mergeHistText(this.hist, String(r.hist ?? ''));
  }
  merge(o: Acc): void {
    this.count += o.count;
    this.errors += o.errors;
    this.sumUs += o.sumUs;
    this.maxUs = Math.max(this.maxUs, o.maxUs);
    const a = this.hist.counts;
    const b = o.hist.counts;
    for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
  }
  point(tsNs: bigint): RollupPoint {
    const h = this.hist;
    // quantileUs clamps to min/max: set them from what the rows know
    h.count = this.count;
    h.maxUs = this.maxUs;
    h.minUs = 0;
    return {
      tsNs,
      count: this.count,
      errors: this.errors,
      p50Ms: h.quantileUs(0.5) / 1000,
      p90Ms: h.quantileUs(0.9) / 1000,
      p99Ms: h.quantileUs(0.99) / 1000,
      meanMs: this.count ? this.sumUs / this.count / 1000 : 0,
      maxMs: this.maxUs / 1000,
    };
  }
}

/** Stored rows -> one series per key (server view preferred), with points per step; busiest first. */
export function mergeRollupRows(rows: Record<string, unknown>[], q: RollupQuery): RollupSeries[] {
  const keys = new Map<string, { labels: Omit<RollupSeries, keyof RollupPoint | 'points' | 'side'>; sides: Map<string, { steps: Map<bigint, Acc> }> }>();
  const step = q.stepNs && q.stepNs > 0n ? q.stepNs : undefined;
  for (const r of rows) {
    const labels = { service: String(r.service), peer: String(r.peer), protocol: String(r.protocol), method: String(r.method), endpoint: String(r.endpoint) };
    const key = [labels.service, labels.peer, labels.protocol, labels.method, labels.endpoint].join('\0');
    let k = keys.get(key);
    if (!k) keys.set(key, (k = { labels, sides: new Map() }));
    const sideName = String(r.side);
    let s = k.sides.get(sideName);
    if (!s) k.sides.set(sideName, (s = { steps: new Map() }));
    const ts = toBig(r.ts_ns);
    const at = step ? q.fromNs + ((ts - q.fromNs) / step) * step : q.fromNs;
    let a = s.steps.get(at);
    if (!a) s.steps.set(at, (a = new Acc()));
    a.add(r);
  }
  const out: RollupSeries[] = [];
  for (const { labels, sides } of keys.values()) {
    const side = sides.has('server') ? 'server' : 'client';
    const s = sides.get(side)!;
    const total = new Acc(); // from the steps: each stored row is parsed once
    for (const a of s.steps.values()) total.merge(a);
    const points = [...s.steps].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([ts, a]) => a.point(ts));
    out.push({ ...labels, side, ...total.point(q.fromNs), points });
  }
  return out.sort((a, b) => b.count - a.count);
}
