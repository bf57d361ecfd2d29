// The routes behind the incident pages, over a store holding known call chains (2 orders and 3 product
// views a second for 60 s, payment slow in the last 20 s) and one TCP finding: counts, RED, traces,
// connections, timeline, root cause, business, search, and the injection routes' guard.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../../src/store/index.js';
import { startServer } from '../../src/server/index.js';
import { demoFindingRow, demoRequestRows } from './ui-fixture.js';

describe('UI routes', () => {
  let store: Store;
  let srv: Awaited<ReturnType<typeof startServer>>;
  const get = async <T = any>(path: string): Promise<T> => {
    const res = await fetch(srv.url + path);
    assert.equal(res.status, 200, `${path}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };

  before(async () => {
    store = await openStore('duckdb::memory:', { retentionHours: 0, batch: { maxDelayMs: 50 } });
    srv = await startServer({ store, port: 0, token: 'sesame' });
    await srv.ingestor.ingest('node-a', [], { requests: demoRequestRows(60, 20), findings: [demoFindingRow()] }).durable;
  });
  after(async () => {
    await srv?.close();
    await store?.close();
  });

  it('service graph: every call counted once, from the caller\'s view', async () => {
    const g = await get('/api/services?from=now-5m');
    const edge = (a: string, b: string) => g.edges.find((e: { from: string; to: string }) => e.from === a && e.to === b);
    assert.equal(edge('load', 'gateway').count, 60 * 5);
    assert.equal(edge('frontend', 'orders').count, 60 * 2);
    assert.equal(edge('orders', 'payment').count, 60 * 2);
    assert.equal(edge('frontend', 'postgres').count, 60 * 3);
    assert.equal(edge('orders', 'payment').retransmits, 20 * 2, 'one retransmit per slow payment call');
    assert.ok(Math.abs(edge('orders', 'payment').srttMs - 0.9) < 1e-9);
    const node = (n: string) => g.nodes.find((x: { id: string }) => x.id === n);
    assert.equal(node('load').external, true);
    assert.equal(node('payment').count, 120);
    assert.equal(node('payment').endpoints, 1);
  });

  it('RED over time: buckets add up to the totals, latency rises in the slow part', async () => {
    const r = await get('/api/red?from=now-5m&service=payment&step=10');
    assert.equal(r.stepMs, 10_000);
    assert.equal(r.series.reduce((a: number, p: { count: number }) => a + p.count, 0), r.totals.count);
    assert.equal(r.totals.count, 120);
    const busy = r.series.filter((p: { count: number }) => p.count > 0);
    assert.ok(busy[0].p90 < 10, `early p90 ${busy[0].p90}`);
    assert.ok(busy[busy.length - 1].p90 > 150, `late p90 ${busy[busy.length - 1].p90}`);
    assert.deepEqual(r.endpoints.map((e: { endpoint: string }) => e.endpoint), ['POST /charge']);
    const ep = await get(`/api/red?from=now-5m&service=gateway&endpoint=${encodeURIComponent('POST /api/orders')}`);
    assert.equal(ep.totals.count, 120);
    const bad = await fetch(`${srv.url}/api/red?endpoint=x`);
    assert.equal(bad.status, 400, 'an endpoint without its service');
  });

  it('slowest requests lead to a trace whose call tree spans the chain', async () => {
    const { requests } = await get('/api/requests/slowest?from=now-5m&service=orders&limit=3');
    assert.equal(requests.length, 3);
    assert.ok(requests[0].durationMs >= requests[2].durationMs);
    const t = await get(`/api/traces/${requests[0].traceId}?from=now-5m`);
    assert.equal(t.roots.length, 1);
    const path: string[] = [];
    for (let n = t.roots[0]; n; n = n.children[n.children.length - 1]) path.push(`${n.span.client}>${n.span.server}`);
    assert.deepEqual(path, ['load>gateway', 'gateway>frontend', 'frontend>orders', 'orders>payment']);
    assert.equal(t.roots[0].server.server, 'gateway', 'the callee\'s own record of the call is attached');
    assert.equal((await fetch(`${srv.url}/api/traces/ffffffffffffffffffffffffffffffff?from=now-5m`)).status, 404);
  });

  it('connections: one per flow with the kernel\'s TCP snapshot; one connection\'s samples in time order', async () => {
    const { connections } = await get('/api/connections?from=now-5m&from_service=orders&to_service=payment&limit=500');
    assert.equal(connections.length, 120, 'the fixture opens one connection per call');
    assert.equal(connections[0].retransmits, 1, 'worst first');
    const c = await get(`/api/connections/${encodeURIComponent(connections[0].flowId)}?from=now-5m`);
    assert.equal(c.requests, 2, 'both ends recorded the call');
    assert.ok(c.samples.some((s: { srttMs?: number }) => s.srttMs === 0.9));
  });

  it('timeline: the finding with its evidence, and the latency alerts of the incident', async () => {
    const { events, incidents } = await get('/api/timeline?from=now-5m');
    const f = events.find((e: { type: string }) => e.type === 'finding');
    assert.equal(f.evidence.ackDelayMs, 40.2);
    assert.match(f.fix, /TCP_NODELAY/);
    assert.equal(incidents, 1);
    assert.ok(events.some((e: { type: string; subject: string; evidence?: { signal?: string } }) => e.type === 'alert' && e.subject === 'payment POST /charge' && e.evidence?.signal === 'latency'));
  });

  it('timeline: a finding stored a moment ago is already there ("now" rounds up to the second)', async () => {
    const row = { ...demoFindingRow(), id: 'tcp.nagle-delayed-ack:just-now' };
    await srv.ingestor.ingest('node-a', [], { findings: [row] }).durable;
    const { events } = await get('/api/timeline?from=now-5m');
    assert.ok(events.some((e: { id: string }) => e.id === row.id), 'the finding of this second is missing');
  });

  it('root cause: payment, with the chain from the entry point', async () => {
    const r = await get('/api/rca?from=now-5m');
    assert.equal(r.incidents.length, 1);
    const inc = r.incidents[0];
    assert.match(inc.rca.faultyInterface, /^payment/);
    assert.equal(inc.focus.service ?? inc.focus.to, 'payment');
    assert.ok(inc.rca.chains.some((c: string[]) => c.join('>') === 'load>gateway>frontend>orders>payment'), JSON.stringify(inc.rca.chains));
  });

  it('business: the entry point\'s transactions; search finds services, endpoints and flows', async () => {
    const b = await get('/api/business?from=now-5m');
    assert.deepEqual(b.transactions.map((t: { service: string; endpoint: string; count: number }) => `${t.service} ${t.endpoint} ${t.count}`).sort(),
      ['gateway GET /api/products/:id 180', 'gateway POST /api/orders 120']);
    const s = await get('/api/search?from=now-5m&q=pay');
    assert.deepEqual(s.results.slice(0, 2).map((x: { kind: string; label: string }) => `${x.kind} ${x.label}`), ['service payment', 'endpoint payment POST /charge']);
    const p = await get('/api/search?q=8084');
    assert.ok(p.results.some((x: { link: string }) => x.link === '#/overview?q=port%3A8084'));
  });

  it('injection routes need the token; a bad spec is refused before anything is loaded', async () => {
    const post = (path: string, body: unknown, token?: string) => fetch(srv.url + path, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body),
    });
    const spec = { kind: 'loss', percent: 10, ttlSec: 5, scope: { netns: 'fl-nonexistent-ns', remoteIp: '10.9.9.9' } };
    assert.equal((await post('/api/inject', spec)).status, 401);
    assert.equal((await post('/api/inject/f-000000/stop', {})).status, 401);
    const badPercent = await post('/api/inject', { ...spec, percent: 300 }, 'sesame');
    assert.equal(badPercent.status, 400, await badPercent.clone().text());
    const list = await get('/api/inject');
    assert.ok(Array.isArray(list.active));
  });
});
