// `faultlens trace ID` against a real faultlens server (records stored through POST /api/ingest, read
// back through GET /api/records/requests) and against a `requests --json` file; RED on /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requestToJson, requestToRow } from '../../src/correlate/apm.js';
import { RedAggregator } from '../../src/correlate/red.js';
import { redCollector } from '../../src/correlate/red-metrics.js';
import { linkRecords } from '../../src/correlate/traces.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { loadFixture, trackFixture } from '../fixtures/apm/load-fixture.js';

const REPO = join(import.meta.dirname, '..', '..');
const records = trackFixture(loadFixture('demo-order')).records;
const traces = linkRecords(records);
const orderTrace = [...traces.entries()].find(([, m]) => m.some((r) => r.endpoint === '/orders'))!;
let store: Store;
let server: RunningServer;
let dir: string;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], { cwd: REPO, encoding: 'utf8' });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fl-trace-cli-'));
  store = await openStore('duckdb::memory:', { batch: { maxRows: 10_000, maxDelayMs: 50 } });
  server = await startServer({ store, port: 0 });
  // the capture's monotonic times, placed just before now on the wall clock
  const last = records.reduce((m, r) => (r.endNs > m ? r.endNs : m), 0n);
  const offset = BigInt(Date.now()) * 1_000_000n - last - 1_000_000_000n;
  const body = JSON.stringify({ host: 'fixture', requests: records.map((r) => requestToRow(r, offset)) }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  const res = await fetch(`${server.url}/api/ingest`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 200, await res.text());
  writeFileSync(join(dir, 'requests.jsonl'), records.map((r) => requestToJson(r)).join('\n') + '\n{"torn');
});

after(async () => {
  await server?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('trace from the server: the order as a tree, by trace id, span id or X-Request-Id', async () => {
  const [traceId, members] = orderTrace;
  const r = await cli('trace', traceId, '--server', server.url);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^trace ${traceId}: ${members.length} records, 9 services`));
  assert.match(r.out, /\n {4}\+ *[\d.]+ ms {2}frontend -> orders {2}http1 POST \/orders {2}201/);
  assert.match(r.out, /\n {6}\+ *[\d.]+ ms {2}orders -> payment {2}http1 POST \/charge {2}200/);
  assert.match(r.out, /curl > gateway > frontend > orders > cart > redis/);
  const bySpan = await cli('trace', members.find((m) => m.serverService === 'payment')!.spanId!, '--server', server.url, '--json');
  assert.equal(bySpan.code, 0, bySpan.err);
  const lines = bySpan.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, members.length);
  assert.ok(lines.every((l) => l.traceId === traceId));
  const missing = await cli('trace', 'f'.repeat(32), '--server', server.url);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no trace f{32} among \d+ requests/);
});

test('trace from a requests --json file, and an unreachable server explained', async () => {
  const [traceId, members] = orderTrace;
  const rid = members.find((m) => m.requestIdHeader)!.requestIdHeader!;
  const r = await cli('trace', rid, '--from', join(dir, 'requests.jsonl'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^trace ${traceId}:`));
  // without an id: the most recent traces, newest first (the fixture's last request was the 404)
  const recent = await cli('trace', '--from', join(dir, 'requests.jsonl'), '--last', '2');
  assert.equal(recent.code, 0, recent.err);
  const heads = recent.out.split('\n').filter((l) => l.startsWith('trace '));
  assert.equal(heads.length, 2);
  assert.match(recent.out.split('\n')[1]!, /curl -> gateway {2}http1 GET \/api\/products\/\{id\} {2}404/);
  const down = await cli('trace', traceId, '--server', 'http://127.0.0.1:1');
  assert.notEqual(down.code, 0);
  assert.match(down.err, /unreachable.*--from FILE/);
});

test('RED series on the server\'s /metrics', async () => {
  const red = new RedAggregator();
  for (const r of records) red.add(r);
  server.metrics.add(redCollector(red));
  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(text, /faultlens_requests_total\{service="orders",protocol="http1",method="POST",endpoint="\/orders"\} 2\n/);
  assert.match(text, /faultlens_request_errors_total\{service="frontend",protocol="http1",method="GET",endpoint="\/api\/products\/\{id\}"\} 1\n/);
  assert.match(text, /faultlens_edge_requests_total\{client="orders",server="payment",protocol="http1"\} 2\n/);
  assert.match(text, /faultlens_request_duration_seconds\{service="orders",protocol="http1",method="POST",endpoint="\/orders",quantile="0.99"\} 0\.\d+/);
});
