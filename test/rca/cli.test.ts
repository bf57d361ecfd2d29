import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { seriesFromRequests, normaliseEndpoint } from '../../src/rca/red-series.js';
import { loadSeries } from '../../src/cli/commands/rca.js';
import type { RequestRecord } from '../../src/model/request.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/demo-slow-endpoint.jsonl', import.meta.url));
const cli = (...args: string[]) => execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });

test('faultlens rca --series --json names the slow endpoint with its call chains', () => {
  const out = JSON.parse(cli('rca', '--series', fixture, '--json'));
  const withCatalog = out.incidents.find((x: { rca: { candidates: { entity: string }[] } }) => x.rca.candidates.some((c) => c.entity === 'endpoint:catalog|GET /products/:id'));
  assert.ok(withCatalog, 'an incident involves the slow endpoint');
  assert.ok(withCatalog.report.timeline.length > 0);
  assert.ok(withCatalog.rca.chains.some((c: string[]) => c.join('>') === 'gateway>frontend>catalog'));
});

test('faultlens alerts --series prints the tenses; a missing file is a clear error', async () => {
  const txt = cli('alerts', '--series', fixture);
  assert.match(txt, /\[in-progress\]|\[resolved\]/);
  await assert.rejects(loadSeries({ series: '/nonexistent.jsonl', since: 15 }), /ENOENT|no such file/);
});

const rec = (over: Partial<RequestRecord>): RequestRecord => ({
  id: 'x', protocol: 'http1', side: 'server', startNs: 0n, endNs: 0n, durationNs: 5_000_000n, method: 'GET', endpoint: '/items/:id',
  status: 'ok', error: false, reqBytes: 1, respBytes: 1, flowId: 'f', sockId: 1n, proto: 'tcp', netns: 1, pid: 1, tid: 1, comm: 'x',
  cgroupId: 1n, client: { ip: '1.1.1.1', port: 1 }, server: { ip: '2.2.2.2', port: 80 }, clientService: 'web', serverService: 'api', ...over,
});

test('request records become windowed RED series per endpoint and edge, with zero rates when idle', () => {
  const rs: RequestRecord[] = [];
  const at = new Map<RequestRecord, number>();
  for (let s = 0; s < 10; s++) for (let k = 0; k < 4; k++) {
    if (s >= 6) continue; // the endpoint goes quiet
    const r = rec({ durationNs: BigInt((k + 1) * 1_000_000), error: k === 0 });
    const c = rec({ side: 'client', durationNs: BigInt((k + 2) * 1_000_000) });
    at.set(r, 1_000_000 + s * 1000 + k);
    at.set(c, 1_000_000 + s * 1000 + k);
    rs.push(r, c);
  }
  rs.push(rec({ endpoint: '/tick' }));
  at.set(rs.at(-1)!, 1_012_500);
  const { points, edges } = seriesFromRequests(rs, (r) => at.get(r)!, { windowS: 5 });
  assert.deepEqual(edges, [['web', 'api']]);
  const ep = points.filter((p) => p.entity === 'endpoint:api|GET /items/:id');
  const lat = ep.filter((p) => p.signal === 'latency');
  assert.equal(lat[0]!.t, 1_002_000, 'the first latency figure needs requests of two seconds');
  assert.equal(lat[0]!.value, 2); // 1..4 ms in each of two seconds: one second left out, three requests reach 2 ms
  assert.equal(ep.filter((p) => p.signal === 'errors')[5]!.value, 0.25);
  const rate = ep.filter((p) => p.signal === 'rate');
  assert.equal(rate.length, 13, 'a rate point every second from first sight');
  assert.equal(rate.at(-1)!.value, 0, 'idle seconds carry a zero rate');
  assert.ok(points.some((p) => p.entity === 'edge:web>api' && p.signal === 'latency'));
  assert.equal(normaliseEndpoint('GET /cart/user-13/items'), 'GET /cart/:id/items');
});

test('the store path: request rows written to a DuckDB store come back as RED series', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { openStore } = await import('../../src/store/index.js');
  const { requestToRow } = await import('../../src/correlate/apm.js');
  const dir = mkdtempSync(join(tmpdir(), 'fl-rca-'));
  try {
    const url = `duckdb://${join(dir, 'x.duckdb')}`;
    const store = await openStore(url);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const rows = [];
    for (let s = 0; s < 30; s++) for (let k = 0; k < 3; k++) {
      const startNs = BigInt(s) * 1_000_000_000n + BigInt(k) * 1_000_000n;
      rows.push(requestToRow(rec({ startNs, endNs: startNs + 5_000_000n, durationNs: 5_000_000n }), nowNs - 40_000_000_000n));
    }
    await store.write('requests', rows);
    await store.flush();
    await store.close();
    const { points, graph, source } = await loadSeries({ store: url, since: 5 });
    assert.match(source, /90 request rows/);
    assert.ok(points.some((p) => p.entity === 'endpoint:api|GET /items/:id' && p.signal === 'latency' && p.value === 5));
    assert.deepEqual(graph.edges, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('faultlens alerts lists the alerts the live agent stored (newest row per alert wins)', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { openStore } = await import('../../src/store/index.js');
  const { alertToRow } = await import('../../src/cli/alert-rows.js');
  const dir = mkdtempSync(join(tmpdir(), 'fl-rca-'));
  try {
    const url = `duckdb://${join(dir, 'x.duckdb')}`;
    const store = await openStore(url);
    const now = Date.now();
    const alert = { id: 'alert|endpoint:api|GET /x|latency|1', tense: 'in-progress' as const, entity: 'endpoint:api|GET /x', signal: 'latency' as const, severity: 'critical' as const, title: 'api GET /x: latency up 5 -> 300', onsetT: now - 9000, raisedT: now - 6000, value: 300, incidentId: 'inc-1' };
    await store.write('alerts', [
      { ...alertToRow({ alert }, now - 5000), host: 'h1' },
      { ...alertToRow({ alert: { ...alert, tense: 'resolved', endT: now - 2000, title: 'api GET /x: latency up 5 -> 6' } }, now - 1000), host: 'h1' },
    ]);
    await store.flush();
    await store.close();
    const out = JSON.parse(cli('alerts', '--store', url, '--json'));
    assert.equal(out.source, 'store (live alerts)');
    assert.equal(out.alerts.length, 1);
    assert.equal(out.alerts[0].tense, 'resolved');
    assert.equal(out.alerts[0].host, 'h1');
    assert.match(cli('alerts', '--store', url), /\[resolved\].*api GET \/x/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
