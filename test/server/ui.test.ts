// The web UI in a real browser (Debian chromium driven by playwright-core) against a live server fed
// with fixture flows, request records (call chains with a slow payment at the end) and a TCP finding:
// the overview lists the flows and updates live, the maps draw nodes and edges, the service page shows
// RED and a trace, the timeline the finding's evidence, the root cause view payment. Screenshots go to
// test-artifacts/ui/ (or $FAULTLENS_ARTIFACTS/ui). The same pages against the live demo:
// test/e2e/ui-demo.test.ts.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../../src/store/index.js';
import { startServer } from '../../src/server/index.js';
import { demoFindingRow, demoRequestRows, EDGES, runDemoTraffic } from './ui-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : 'chromium not installed (apt-get install chromium; scripts/bootstrap.sh --test does it)';
const artifacts = join(process.env.FAULTLENS_ARTIFACTS ?? join(fileURLToPath(new URL('../..', import.meta.url)), 'test-artifacts'), 'ui');

describe('web UI', { skip }, () => {
  let store: Store;
  let srv: Awaited<ReturnType<typeof startServer>>;
  let stopTraffic: () => void;
  let browser: import('playwright-core').Browser;
  let page: import('playwright-core').Page;

  before(async () => {
    const { chromium } = await import('playwright-core');
    mkdirSync(artifacts, { recursive: true });
    store = await openStore('duckdb::memory:', { retentionHours: 0, batch: { maxDelayMs: 100 } });
    srv = await startServer({ store, port: 0 });
    stopTraffic = await runDemoTraffic(srv.ingestor, 300);
    await srv.ingestor.ingest('node-a', [], { requests: demoRequestRows(60, 20), findings: [demoFindingRow()] }).durable;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    after(() => assert.deepEqual(errors, [], 'no JavaScript errors in the page'));
  });
  after(async () => {
    stopTraffic?.();
    await browser?.close();
    await srv?.close();
    await store?.close();
  });

  it('overview lists the flows, sorted by bytes, updates live and filters by search', async () => {
    await page.goto(`${srv.url}/#/overview`);
    await page.waitForSelector('#rows tr');
    const total = EDGES.reduce((a, _e, i) => a + 2 + (i % 3), 0);
    await page.waitForFunction((n) => document.querySelector('#c-flows')?.textContent === String(n), total);
    assert.equal(await page.textContent('#c-hosts'), '2');
    assert.equal(await page.textContent('#c-errors'), '3');
    const firstBytes = async () => (await page.locator('#rows tr').first().locator('td').nth(3).textContent())!;
    const before = await firstBytes();
    await page.waitForFunction((b) => document.querySelector('#rows tr td:nth-child(4)')?.textContent !== b, before, { timeout: 5000 });
    await page.waitForSelector('.live.on');
    await page.waitForTimeout(2500); // let the live chart gather a few seconds
    await page.screenshot({ path: join(artifacts, 'overview.png') });
    await page.fill('#search', 'comm:redis-server port:6379');
    const flowsOf = (pred: (e: (typeof EDGES)[number]) => boolean) => EDGES.reduce((a, e, i) => a + (pred(e) ? 2 + (i % 3) : 0), 0);
    const rows = await page.locator('#rows tr').allTextContents();
    assert.equal(rows.length, flowsOf((e) => e[3] === 'redis-server'));
    for (const r of rows) assert.match(r, /redis-server/);
    await page.fill('#search', '203.0.113.9');
    assert.equal(await page.locator('#rows tr').count(), flowsOf((e) => e[5] === '203.0.113.9'));
  });

  it('host map draws processes, external IPs and edges with errors marked', async () => {
    await page.goto(`${srv.url}/#/map?view=hosts`);
    await page.waitForSelector('svg.map g.node');
    const labels = await page.locator('svg.map g.node').evaluateAll((gs) => gs.map((g) => (g as HTMLElement).dataset.label));
    for (const l of ['frontend', 'gateway', 'orders', 'catalog', 'postgres', 'redis-server', '203.0.113.9']) assert.ok(labels.includes(l), l);
    assert.equal(await page.locator('svg.map g.edge').count(), EDGES.length);
    assert.equal(await page.locator('svg.map g.edge.err').count(), 1);
    assert.match((await page.locator('svg.map g.edge.err text').textContent())!, /tcp\/6379 .* 3 err/);
    await page.screenshot({ path: join(artifacts, 'host-map.png') });
    await page.click('svg.map g.node[data-label="postgres"]');
    await page.waitForFunction(() => location.hash.startsWith('#/overview'));
    await page.waitForSelector('#rows tr');
    assert.equal(await page.inputValue('#search'), 'comm:postgres');
  });

  it('service map: services with RED, calls labelled as the API computes them; click-through to the service', async () => {
    await page.goto(`${srv.url}/#/map`);
    await page.waitForSelector('svg.map g.svcnode');
    const names = await page.locator('svg.map g.svcnode').evaluateAll((gs) => gs.map((g) => (g as HTMLElement).dataset.service));
    assert.deepEqual(names.sort(), ['frontend', 'gateway', 'load', 'orders', 'payment', 'postgres']);
    const api = (await (await fetch(`${srv.url}/api/services`)).json()) as { edges: { from: string; to: string; p90: number; retransmits: number }[] };
    const pay = api.edges.find((e) => e.from === 'orders' && e.to === 'payment')!;
    const label = (await page.locator('svg.map g.svcedge[data-from="orders"][data-to="payment"] text').allTextContents()).join(' ');
    assert.ok(label.includes(`p90 ${Math.round(pay.p90)} ms`), `${label} vs API p90 ${pay.p90}`);
    assert.ok(label.includes(`${pay.retransmits} retx`), label);
    await page.screenshot({ path: join(artifacts, 'service-map.png') });
    // an edge leads to the calls between the two services
    await page.locator('svg.map g.svcedge[data-from="orders"][data-to="payment"]').dispatchEvent('click');
    await page.waitForSelector('#slow table');
    assert.match((await page.textContent('h2.page-title'))!, /orders → payment/);
    assert.match((await page.textContent('#slow'))!, /orders → payment .*POST \/charge/);
    await page.goto(`${srv.url}/#/map`);
    await page.waitForSelector('svg.map g.svcnode');
    await page.click('svg.map g.svcnode[data-service="orders"]');
    await page.waitForSelector('#endpoints table');
    assert.match((await page.textContent('#endpoints'))!, /POST \/orders/);
    assert.equal(await page.locator('#ch-lat svg path[stroke]').count(), 3, 'p50, p90, p99 lines');
    await page.locator('#slow button.trace-btn').first().click();
    await page.waitForSelector('#trace table.trace');
    const calls = await page.locator('#trace table.trace tbody tr').allTextContents();
    assert.ok(calls.some((c) => /orders → payment/.test(c)), calls.join('\n'));
    assert.ok(calls.some((c) => /load → gateway/.test(c)), 'the trace starts at the caller of the gateway');
    await page.locator('#trace').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(artifacts, 'service.png') });
  });

  it('findings timeline shows the finding with its evidence, why and fix, and the detected alerts', async () => {
    await page.goto(`${srv.url}/#/findings`);
    await page.waitForSelector('article.event.finding');
    const card = page.locator('article.event.finding').first();
    assert.match((await card.textContent())!, /ackDelayMs\s*40\.2/);
    assert.match((await card.textContent())!, /set TCP_NODELAY/);
    assert.ok((await page.locator('article.event.alert').count()) > 0, 'latency alerts detected over the requests');
    await page.screenshot({ path: join(artifacts, 'findings.png') });
  });

  it('root cause names payment, highlights it on the map and draws the chain to it', async () => {
    await page.goto(`${srv.url}/#/rca`);
    await page.waitForSelector('.verdict');
    assert.match((await page.textContent('.verdict'))!, /payment/);
    assert.equal(await page.locator('svg.map g.svcnode.focus').getAttribute('data-service'), 'payment');
    assert.ok((await page.locator('svg.map g.svcedge.chain').count()) >= 3);
    await page.screenshot({ path: join(artifacts, 'rca.png') });
  });

  it('business, connection and injection pages load their data', async () => {
    await page.goto(`${srv.url}/#/business`);
    await page.waitForSelector('#tx table');
    assert.match((await page.textContent('#tx'))!, /POST \/api\/orders/);
    const flow = (await (await fetch(`${srv.url}/api/connections?service=payment`)).json()) as { connections: { flowId: string }[] };
    await page.goto(`${srv.url}/#/connection?id=${encodeURIComponent(flow.connections[0]!.flowId)}`);
    await page.waitForSelector('#ch-rtt svg');
    assert.match((await page.textContent('#facts'))!, /orders → payment|requests/);
    await page.goto(`${srv.url}/#/inject`);
    await page.waitForSelector('#active .empty, #active table');
  });
});
