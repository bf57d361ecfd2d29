// The web UI in a real browser (Debian chromium driven by playwright-core) against a live server:
// the overview lists the flows and updates live, the map draws the nodes and edges, placeholders say
// which issue brings them. Screenshots go to $FAULTLENS_ARTIFACTS (default: <tmp>/faultlens-artifacts).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../../src/store/index.js';
import { startServer } from '../../src/server/index.js';
import { EDGES, runDemoTraffic } from './ui-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : 'chromium not installed (apt-get install chromium; scripts/bootstrap.sh --test does it)';
const artifacts = join(process.env.FAULTLENS_ARTIFACTS ?? join(tmpdir(), 'faultlens-artifacts'), 'ui');

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
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
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

  it('map draws processes, external IPs and edges with errors marked', async () => {
    await page.goto(`${srv.url}/#/map`);
    await page.waitForSelector('svg.map g.node');
    const labels = await page.locator('svg.map g.node').evaluateAll((gs) => gs.map((g) => (g as HTMLElement).dataset.label));
    for (const l of ['frontend', 'gateway', 'orders', 'catalog', 'postgres', 'redis-server', '203.0.113.9']) assert.ok(labels.includes(l), l);
    assert.equal(await page.locator('svg.map g.edge').count(), EDGES.length);
    assert.equal(await page.locator('svg.map g.edge.err').count(), 1);
    assert.match((await page.locator('svg.map g.edge.err text').textContent())!, /tcp\/6379 .* 3 err/);
    await page.screenshot({ path: join(artifacts, 'map.png') });
    await page.click('svg.map g.node[data-label="postgres"]');
    await page.waitForFunction(() => location.hash.startsWith('#/overview'));
    await page.waitForSelector('#rows tr');
    assert.equal(await page.inputValue('#search'), 'comm:postgres');
  });

  it('marks the pages that later issues fill', async () => {
    for (const [hash, issue] of [['findings', 'issue 9'], ['rca', 'issue 9'], ['business', 'issue 5'], ['inject', 'issue 7']]) {
      await page.goto(`${srv.url}/#/${hash}`);
      assert.match((await page.textContent('main'))!, new RegExp(`coming with ${issue}`));
    }
  });
});
