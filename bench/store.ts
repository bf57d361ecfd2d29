// Store bench (issue 6): ingest rate into DuckDB and ClickHouse (rows/s through the Store, rollup folding
// included), then the queries the UI runs — service map (/api/map: edge totals) and RED (per-minute
// rollups) — over a day of synthetic data at --rps requests/s. Both engines get the same data in one run.
//
//   npm run bench -- store [--ingest-rows 100000] [--rps 1000] [--hours 24] [--flow-rows 2000000]
//                          [--engines duckdb,clickhouse] [--reps 5]
//
// A day at 1k req/s is 86.4 M requests: the raw rows of that day are not written (the ingest rate says how
// long that takes); what the day leaves for the map/RED queries is written instead, built from every one of
// those requests: the per-minute rollups (each minute's latency histogram holds all its requests) and the
// flow snapshots the agent ships (--flow-rows: one row per changed flow per agent tick).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatencyHistogram } from '../src/correlate/red.js';
import { openStore, type FlowSnapshot, type Row, type Store } from '../src/store/index.js';
import { openDuckDBEngine } from '../src/store/duckdb.js';
import { openClickHouseEngine } from '../src/store/clickhouse.js';
import type { Engine } from '../src/store/engine.js';
import { MINUTE_NS, ROLLUP_SPEC, rollupCells } from '../src/store/rollup.js';
import type { Cell } from '../src/store/codec.js';
import { startClickHouse, CLICKHOUSE_SKIP, type RunningClickHouse } from '../test/store/clickhouse-server.js';
import { seededRandom } from '../src/util/random.js';
import { numArg, strArg } from './lib/args.js';
import { fixed, int, machineHeader, median, table } from './lib/report.js';

const INGEST_ROWS = numArg('ingest-rows', 100_000);
const RPS = numArg('rps', 1000);
const HOURS = numArg('hours', 24);
const FLOW_ROWS = numArg('flow-rows', 2_000_000);
const REPS = Math.max(1, numArg('reps', 5));
const ENGINES = strArg('engines', 'duckdb,clickhouse').split(',').filter(Boolean);

// ---- a synthetic shop: services, endpoints with a request share and a latency profile, edges -------

interface Endpoint { service: string; method: string; route: string; share: number; medianUs: number; errorRate: number; caller: string }
const SERVICES = ['gateway', 'frontend', 'catalog', 'cart', 'orders', 'payment', 'users', 'search', 'reviews', 'shipping', 'inventory', 'email'];

const rand = seededRandom(42);

function makeEndpoints(): Endpoint[] {
  const out: Endpoint[] = [];
  const methods = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
  SERVICES.forEach((svc, i) => {
    for (let e = 0; e < 5; e++) {
      out.push({
        service: svc,
        method: methods[e % methods.length]!,
        route: `/api/${svc}/${['items', 'items/{id}', 'search', 'stats', 'batch'][e]}`,
        share: 1 / (1 + out.length) ** 0.8, // Zipf-like
        medianUs: 500 + rand() * 20_000,
        errorRate: rand() < 0.2 ? 0.02 : 0.001,
        caller: i === 0 ? 'client' : SERVICES[Math.floor(rand() * i)]!,
      });
    }
  });
  const total = out.reduce((s, e) => s + e.share, 0);
  for (const e of out) e.share /= total;
  return out;
}
const ENDPOINTS = makeEndpoints();

/** Log-normal latency around the endpoint's median (σ 0.6), µs. */
function latencyUs(e: Endpoint): number {
  const u1 = rand() || 1e-9;
  const u2 = rand();
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return e.medianUs * Math.exp(0.6 * z);
}

function pick(): Endpoint {
  let r = rand();
  for (const e of ENDPOINTS) if ((r -= e.share) <= 0) return e;
  return ENDPOINTS[ENDPOINTS.length - 1]!;
}

/** A `requests` row as the agent writes it (src/correlate/apm.ts requestToRow), server side. */
function requestRow(tsNs: bigint, i: number): Row {
  const e = pick();
  const dur = latencyUs(e);
  const error = rand() < e.errorRate;
  return {
    ts_ns: tsNs,
    host: 'bench-1',
    flow_id: `0:tcp:10.0.0.${i % 200}:${40000 + (i % 20000)}-10.0.1.${SERVICES.indexOf(e.service)}:8080`,
    pid: 1000 + SERVICES.indexOf(e.service),
    tid: 1000 + (i % 8),
    service: e.service,
    protocol: 'http1',
    method: e.method,
    endpoint: e.route,
    status: error ? 500 : 200,
    duration_ns: BigInt(Math.round(dur * 1000)),
    error,
    trace_id: i.toString(16).padStart(32, '0'),
    span_id: i.toString(16).padStart(16, '0'),
    data: { side: 'server', clientService: e.caller, serverService: e.service, reqBytes: 200, respBytes: 1500, path: e.route.replace('{id}', String(i)) },
  };
}

function flowSnapshot(tsNs: bigint, i: number, conns: number): FlowSnapshot {
  const c = i % conns;
  const e = ENDPOINTS[c % ENDPOINTS.length]!;
  const server = SERVICES.indexOf(e.service);
  return {
    id: `0:tcp:10.0.0.${c % 250}:${30000 + c}-10.0.1.${server}:8080`,
    tsNs,
    host: 'bench-1',
    netns: 0,
    proto: 'tcp',
    client: { ip: `10.0.0.${c % 250}`, port: 30000 + c },
    server: { ip: `10.0.1.${server}`, port: 8080 },
    clientProc: { pid: 1000 + (c % 12), comm: e.caller.slice(0, 15), cgroupId: 1n },
    serverProc: { pid: 2000 + server, comm: e.service, cgroupId: 2n },
    socketCookies: [BigInt(c * 2 + 1), BigInt(c * 2 + 2)],
    firstSeenNs: tsNs - 1_000_000_000n,
    lastSeenNs: tsNs,
    bytesClientToServer: 200 * (1 + Math.floor(i / conns)),
    bytesServerToClient: 1500 * (1 + Math.floor(i / conns)),
    callsClientToServer: 1 + Math.floor(i / conns),
    callsServerToClient: 1 + Math.floor(i / conns),
    errors: {},
  };
}

// ---- the day's rollups, from every request of the day ---------------------------------------------

const KEY = { host: 'bench-1', side: 'server', protocol: 'http1' };

/** Rollup rows (ROLLUP_SPEC cells) of `hours` at `rps`: each minute's histograms hold all its requests. */
function dayOfRollups(endNs: bigint): { cells: Cell[][]; requests: number } {
  const minutes = Math.round(HOURS * 60);
  const perMinute = Math.round(RPS * 60);
  const cells: Cell[][] = [];
  let requests = 0;
  const start = endNs - BigInt(minutes) * MINUTE_NS;
  for (let m = 0; m < minutes; m++) {
    const ts = start + BigInt(m) * MINUTE_NS;
    const ep = new Map<Endpoint, { h: LatencyHistogram; errors: number }>();
    for (let i = 0; i < perMinute; i++) {
      const e = pick();
      let b = ep.get(e);
      if (!b) ep.set(e, (b = { h: new LatencyHistogram(), errors: 0 }));
      b.h.add(latencyUs(e));
      if (rand() < e.errorRate) b.errors++;
    }
    requests += perMinute;
    const edges = new Map<string, { h: LatencyHistogram; errors: number; caller: string; callee: string }>();
    for (const [e, b] of ep) {
      cells.push(rollupCells({ ...KEY, tsNs: ts, kind: 'endpoint', service: e.service, peer: '', method: e.method, endpoint: e.route, hist: b.h, errors: b.errors }));
      const k = `${e.caller}>${e.service}`;
      let ed = edges.get(k);
      if (!ed) edges.set(k, (ed = { h: new LatencyHistogram(), errors: 0, caller: e.caller, callee: e.service }));
      b.h.counts.forEach((n, i) => (ed!.h.counts[i]! += n));
      ed.h.count += b.h.count;
      ed.h.sumUs += b.h.sumUs;
      ed.h.maxUs = Math.max(ed.h.maxUs, b.h.maxUs);
      ed.errors += b.errors;
    }
    for (const ed of edges.values()) cells.push(rollupCells({ ...KEY, tsNs: ts, kind: 'edge', service: ed.caller, peer: ed.callee, method: '', endpoint: '', hist: ed.h, errors: ed.errors }));
  }
  return { cells, requests };
}

// ---- runs ------------------------------------------------------------------------------------------

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; v: T }> {
  const t = performance.now();
  const v = await fn();
  return { ms: performance.now() - t, v };
}

async function repeat(fn: () => Promise<unknown>): Promise<{ med: number; max: number }> {
  await fn(); // warm: first query pays for opening files / caches
  const ms: number[] = [];
  for (let i = 0; i < REPS; i++) ms.push((await timed(fn)).ms);
  return { med: median(ms), max: Math.max(...ms) };
}

interface EngineResult { engine: string; rows: [string, string, string][] }

async function benchEngine(name: string, url: string, openEngine: () => Promise<Engine>, dayCells: Cell[][]): Promise<EngineResult> {
  const rows: [string, string, string][] = [];
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  // 1. ingest through the Store: batching, encoding, rollup folding — what /api/ingest does per row
  {
    const store = await openStore(url, { batch: { maxRows: 5000, maxDelayMs: 1000 }, retentionHours: 0 });
    const reqs = Array.from({ length: INGEST_ROWS }, (_, i) => requestRow(nowNs - BigInt(INGEST_ROWS - i) * 1_000_000n, i));
    const r = await timed(async () => {
      for (let i = 0; i < reqs.length; i += 1000) void store.write('requests', reqs.slice(i, i + 1000));
      await store.flush();
    });
    rows.push(['ingest requests (rows/s, incl. rollups)', int(INGEST_ROWS / (r.ms / 1000)), `${int(INGEST_ROWS)} rows in ${fixed(r.ms / 1000)} s`]);
    const n = Math.min(INGEST_ROWS, 200_000);
    const flows = Array.from({ length: n }, (_, i) => flowSnapshot(nowNs - BigInt(n - i) * 1_000_000n, i, 400));
    const f = await timed(async () => {
      for (let i = 0; i < flows.length; i += 1000) void store.writeFlows(flows.slice(i, i + 1000));
      await store.flush();
    });
    rows.push(['ingest flow snapshots (rows/s)', int(n / (f.ms / 1000)), `${int(n)} rows in ${fixed(f.ms / 1000)} s`]);
    await store.close();
  }
  // 2. a day of data: rollups straight into their table, flow snapshots through the Store
  const dayEnd = nowNs;
  const dayStart = dayEnd - BigInt(Math.round(HOURS * 3600)) * 1_000_000_000n;
  {
    const db = await openEngine();
    const w = await timed(async () => {
      for (let i = 0; i < dayCells.length; i += 20_000) await db.insert(ROLLUP_SPEC, dayCells.slice(i, i + 20_000));
    });
    await db.close();
    rows.push(['day: rollup rows written', int(dayCells.length), `${fixed(w.ms / 1000)} s`]);
    const store = await openStore(url, { batch: { maxRows: 20_000, maxDelayMs: 5000 }, retentionHours: 0 });
    const conns = 400;
    const step = (dayEnd - dayStart) / BigInt(Math.max(1, FLOW_ROWS));
    const t = await timed(async () => {
      for (let i = 0; i < FLOW_ROWS; i += 5000) {
        const chunk: FlowSnapshot[] = [];
        for (let j = i; j < Math.min(FLOW_ROWS, i + 5000); j++) chunk.push(flowSnapshot(dayStart + BigInt(j) * step, j, conns));
        void store.writeFlows(chunk);
        if (i % 100_000 === 0) await store.flush(); // bounded memory, without waiting out the time bound per chunk
      }
      await store.flush();
    });
    rows.push(['day: flow snapshot rows written', int(FLOW_ROWS), `${fixed(t.ms / 1000)} s`]);
    // 3. the UI's queries over the whole day
    const day = { fromNs: dayStart, toNs: dayEnd };
    const q = async (label: string, fn: () => Promise<unknown[]>) => {
      let n = 0;
      const r = await repeat(async () => void (n = (await fn()).length));
      rows.push([label, `${fixed(r.med, 1)} ms`, `max ${fixed(r.max, 1)} ms, ${n} rows out`]);
    };
    await q('query: service map, whole day (edge totals)', () => store.edgeTotals(day));
    await q('query: RED per endpoint, whole day', () => store.redRollup({ ...day, kind: 'endpoint' }));
    await q('query: RED per edge, whole day', () => store.redRollup({ ...day, kind: 'edge' }));
    await q('query: one service, whole day in 5-min points', () => store.redRollup({ ...day, kind: 'endpoint', service: 'orders', stepNs: 5n * MINUTE_NS }));
    await q('query: RED per endpoint, last hour by minute', () => store.redRollup({ fromNs: dayEnd - 60n * MINUTE_NS, toNs: dayEnd, kind: 'endpoint', stepNs: MINUTE_NS }));
    await q('query: top 50 flows by bytes, last hour', () => store.topFlowsByBytes({ fromNs: dayEnd - 60n * MINUTE_NS, toNs: dayEnd }, 50));
    await store.close();
  }
  return { engine: name, rows };
}

async function main(): Promise<void> {
  console.log(`# store bench  ${machineHeader()}`);
  console.log(`# ingest ${int(INGEST_ROWS)} request rows; a day = ${HOURS} h at ${int(RPS)} req/s over ${ENDPOINTS.length} endpoints of ${SERVICES.length} services, ${int(FLOW_ROWS)} flow snapshots; queries: median of ${REPS} after a warm-up`);
  const gen = await timed(async () => dayOfRollups(BigInt(Date.now()) * 1_000_000n));
  const { cells, requests } = gen.v;
  console.log(`# built the day's rollups from ${int(requests)} synthetic requests in ${fixed(gen.ms / 1000, 1)} s: ${int(cells.length)} rollup rows`);
  const results: EngineResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'fl-bench-store-'));
  let ch: RunningClickHouse | undefined;
  try {
    if (ENGINES.includes('duckdb')) {
      const path = join(dir, 'bench.duckdb');
      results.push(await benchEngine('duckdb', `duckdb://${path}`, () => openDuckDBEngine(path), cells));
    }
    if (ENGINES.includes('clickhouse')) {
      if (CLICKHOUSE_SKIP) console.log(`# clickhouse: skipped (${CLICKHOUSE_SKIP})`);
      else {
        ch = await startClickHouse();
        const url = ch.url('fl_bench');
        results.push(await benchEngine('clickhouse 18.16', url, () => openClickHouseEngine(url), cells));
      }
    }
  } finally {
    await ch?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const r of results) {
    console.log(`\n## ${r.engine}`);
    console.log(table([['', 'result', 'detail'], ...r.rows]));
  }
  if (results.length === 2) {
    const a = results[0]!.rows;
    const b = results[1]!.rows;
    console.log('\n## ratio clickhouse / duckdb (ingest: rows/s; queries: latency)');
    for (let i = 0; i < a.length; i++) {
      if (a[i]![0].startsWith('day:')) continue;
      const x = parseFloat(a[i]![1].replace(/,/g, ''));
      const y = parseFloat(b[i]![1].replace(/,/g, ''));
      console.log(`${a[i]![0].padEnd(48)} ${fixed(y / x, 2)}×`);
    }
  }
}

await main();
