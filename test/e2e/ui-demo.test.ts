// The web UI against the live demo shop, in a real browser (Debian chromium driven by playwright-core):
// `faultlens up --demo` captures the shop under load; the service map shows its services with the call
// counts the API computes, the service page RED charts and an order's call tree, the connection view the
// kernel's RTT of one connection; a packet-loss fault created from the injection panel between orders and
// payment raises latency alerts and an incident: the root-cause page shows its ranking (highlight, chain),
// the timeline the alerts' evidence and the TCP findings; the panel stops the fault. Screenshots: test-artifacts/ui/ (or $FAULTLENS_ARTIFACTS/ui).
// Demo-using test: run it under `flock /tmp/fl-demo.lock`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const artifacts = join(process.env.FAULTLENS_ARTIFACTS ?? join(ROOT, 'test-artifacts'), 'ui');

const { pgBinDir } = await import('../../demo/postgres.js');

function missingPrereq(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(CHROMIUM)) return 'chromium is not installed (scripts/bootstrap.sh --test installs it)';
  if (!pgBinDir()) return 'postgresql is not installed';
  for (const cmd of ['nginx', 'redis-server', 'openssl', 'gcc', 'ip', 'curl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`]);
    } catch {
      return `${cmd} is not installed (scripts/bootstrap.sh --test installs the demo servers)`;
    }
  }
  if (!existsSync(join(ROOT, 'bpf', '.output', 'inject.bpf.o')) || !existsSync(join(ROOT, 'bpf', '.output', 'sock.bpf.o'))) return 'bpf objects not built (make -C bpf)';
  return undefined;
}
const skip = missingPrereq() ?? false;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const v = await fn().catch((e) => ((last = e), undefined));
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface SvcEdge { from: string; to: string; count: number; p90: number }

describe('web UI on the live demo', { skip, timeout: 280_000 }, () => {
  let up: ChildProcess | undefined;
  let out = '';
  let api = '';
  let dataDir = '';
  let browser: import('playwright-core').Browser | undefined;
  let page: import('playwright-core').Page;
  const errors: string[] = [];
  const json = async <T>(path: string): Promise<T> => {
    const res = await fetch(api + path);
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`) });

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'fl-ui-demo-'));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    up = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'up', '--demo', '--rps', '15', '--port', String(port), '--data-dir', dataDir, '--interval', '300'], {
      cwd: ROOT,
      // the demo's default runtime dir: a demo another user of the lock left up is taken down properly
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    up.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    up.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const t0 = Date.now();
    await waitFor('faultlens up --demo', async () => (out.includes('faultlens is up') ? true : up!.exitCode !== null ? Promise.reject(new Error(out)) : undefined), 90_000)
      .catch((e) => { throw new Error(`${(e as Error).message}; its output:\n${out.slice(-2000)}`); });
    const tUp = Date.now();
    // the shop's calls through the agent into the store
    await waitFor('the demo calls in the store', async () => {
      // old enough to be inside the fixed range the first test picks (ending 6 s ago)
      const s = await json<{ edges: SvcEdge[] }>('/api/services?from=now-2m&to=now-7s');
      const has = (a: string, b: string) => s.edges.some((e) => e.from === a && e.to === b && e.count > 0);
      return has('gateway', 'frontend') && has('frontend', 'orders') && has('orders', 'payment') ? true : undefined;
    }, 30_000);
    console.log(`# faultlens up --demo: ${((tUp - t0) / 1000).toFixed(1)} s; first calls stored after ${((Date.now() - tUp) / 1000).toFixed(1)} s more`);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'UTC' });
    page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (e) => errors.push(e.message));
  });

  after(async () => {
    const t0 = Date.now();
    await browser?.close();
    if (up && up.exitCode === null) {
      const exited = new Promise((r) => up!.once('exit', r));
      up.kill('SIGINT'); // stops the agent, the faults it holds, the demo, flushes the store
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    }
    console.log(`# teardown (demo down, probes detached): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    assert.deepEqual(errors, [], 'no JavaScript errors in the pages');
  });

  it('service map: the shop\'s services, and call counts equal to the API over a fixed range', async () => {
    // a fixed range ending a few seconds ago: its rows are all written, the UI and the API see the same
    const toS = Math.floor(Date.now() / 1000) - 6;
    const fromS = toS - 120;
    const iso = (s: number) => new Date(s * 1000).toISOString();
    const local = (s: number) => iso(s).slice(0, 19); // datetime-local in the page's UTC zone
    await page.goto(`${api}/#/map?focus=gateway`);
    await page.selectOption('#range-select', 'custom');
    await page.fill('#range-from', local(fromS));
    await page.fill('#range-to', local(toS));
    // the map reloads for the new range: wait for that answer, then for its drawing
    const reloaded = page.waitForResponse((r) => r.url().includes('/api/services') && r.url().includes(encodeURIComponent(iso(fromS)).slice(0, 10)));
    await page.click('#range-apply');
    await reloaded;
    await page.waitForFunction(() => document.querySelector('#live-text')?.textContent?.startsWith('paused'));
    assert.equal(await page.isHidden('#range-custom'), true, 'the range editor closes on apply');
    await page.waitForTimeout(200);
    await page.waitForSelector('svg.map g.svcedge[data-from="frontend"][data-to="orders"]');
    const names = await page.locator('svg.map g.svcnode').evaluateAll((gs) => gs.map((g) => (g as HTMLElement).dataset.service));
    for (const s of ['gateway', 'frontend', 'orders', 'cart', 'catalog', 'payment', 'redis', 'postgres']) assert.ok(names.includes(s), `${s} in ${names.join(', ')}`);
    const s = await json<{ edges: SvcEdge[] }>(`/api/services?from=${iso(fromS)}&to=${iso(toS)}`);
    for (const [a, b] of [['gateway', 'frontend'], ['frontend', 'orders'], ['orders', 'payment']]) {
      const e = s.edges.find((x) => x.from === a && x.to === b)!;
      const title = (await page.locator(`svg.map g.svcedge[data-from="${a}"][data-to="${b}"] title`).textContent())!;
      assert.match(title, new RegExp(`^${a} → ${b} \\(http1\\)\\n${e.count} requests`), `${a} -> ${b}: ${title} vs API ${e.count}`);
      // the demo has run for a few seconds of the range; never more calls than the load sent
      assert.ok(e.count >= 1 && e.count <= 15 * 130 * 3, `${a} -> ${b}: ${e.count} calls in 120 s`);
    }
    await shot('demo-service-map');
  });

  it('service page: RED charts, endpoints, slowest requests with an order\'s call tree, TCP health', async () => {
    await page.selectOption('#range-select', '15m'); // back to a live range for the other pages
    await page.goto(`${api}/#/map?focus=gateway`);
    await page.click('svg.map g.svcnode[data-service="orders"]');
    await page.waitForSelector('#endpoints table');
    assert.match((await page.textContent('#endpoints'))!, /POST \/orders/);
    assert.equal(await page.locator('#ch-lat svg path[stroke]').count(), 3, 'p50, p90, p99 lines');
    assert.match((await page.textContent('#totals'))!, /rate \(\d+ requests\)/);
    const orderRow = page.locator('#slow tr', { hasText: 'POST /orders' }).first();
    await orderRow.locator('button.trace-btn').click();
    await page.waitForSelector('#trace table.trace');
    const calls = (await page.locator('#trace table.trace tbody tr').allTextContents()).join('\n');
    for (const c of [/frontend → orders .*POST \/orders/, /orders → payment .*POST \/charge/, /orders → cart/]) assert.match(calls, c);
    await page.waitForSelector('#conns table');
    assert.match((await page.textContent('#conns'))!, /orders → payment/);
    await page.locator('#trace').scrollIntoViewIfNeeded();
    await shot('demo-service');
    // the connection view of one orders -> payment connection: RTT from the kernel at each request
    await page.locator('#conns tr', { hasText: 'orders → payment' }).first().locator('a').first().click();
    await page.waitForSelector('#ch-rtt svg');
    assert.match((await page.textContent('#facts'))!, /:8084/);
    assert.ok((await page.locator('#ch-rtt svg path[stroke]').first().getAttribute('d'))!.length > 3, 'an RTT curve');
    // and from the agent's periodic TCP samples: srtt and rtt-var, windows, cwnd of both ends over time
    await page.waitForSelector('#ch-p-rtt svg path[stroke]');
    const curves = await page.locator('#ch-p-rtt svg path[stroke]').evaluateAll((ps) => ps.filter((p) => (p.getAttribute('d') ?? '').length > 3).length);
    assert.ok(curves >= 2, `srtt and rtt-var curves from the periodic samples: ${curves}`);
    assert.ok((await page.locator('#ch-p-wnd svg path[stroke]').first().getAttribute('d'))!.length > 3, 'a receive-window curve');
    assert.match((await page.textContent('#gaps'))!, /[1-9]\d* stored periodic TCP samples/);
    await shot('demo-connection');
  });

  it('injection panel: loss between orders and payment raises an incident; root cause page and timeline show it; stop', async () => {
    // the anomaly detectors learn a baseline first: 20 judged one-second samples, each a 5-s window of at
    // least 5 calls. At ~1 order a second (a slow CI machine) 25 s of calls were not enough (a CI run saw
    // latency go from 0.2 ms to 0.5-6.6 s and no alert: the baseline was still learning), so wait for
    // 45 s of calls and 45 calls
    await waitFor('45 s and 45 orders -> payment calls before the fault', async () => {
      const r = await json<{ series: { t: number; count: number }[] }>('/api/red?from=now-3m&from_service=orders&to_service=payment&step=1');
      const first = r.series.find((p) => p.count > 0);
      const calls = r.series.reduce((a, p) => a + p.count, 0);
      return first && Date.now() - first.t >= 45_000 && calls >= 45 ? true : undefined;
    }, 90_000);
    await page.goto(`${api}/#/inject`);
    await page.waitForSelector('#active .empty, #active table');
    await page.selectOption('select[name=kind]', 'loss');
    await page.fill('input[name=percent]', '30');
    await page.fill('input[name=netns]', 'fl-pay');
    await page.fill('input[name=remoteIp]', '10.213.0.13');
    await page.fill('input[name=localPort]', '8084');
    await page.fill('input[name=ttl]', '60');
    await page.fill('input[name=label]', 'ui-test loss');
    await page.click('#inject-btn');
    await page.waitForSelector('#form-msg.ok');
    await page.waitForSelector('#active tr:has-text("ui-test loss")');
    await shot('demo-inject');

    // orders -> payment latency jumps (each lost segment costs >= one 200 ms RTO): the detectors running
    // over the stored requests raise it; the root-cause page shows the ranking of its incident
    interface Inc { report: { id: string; start: number; detectedAfterS: number; timeline: { t: number; what: string }[] }; rca: { faultyInterface: string; chains: string[][] }; focus?: { service?: string; from?: string; to?: string } }
    let seen: Inc[] = [];
    let source = '';
    const injectedAt = Date.now();
    const inc = await waitFor('an incident with a latency alert on orders -> payment', async () => {
      const r = await json<{ incidents: Inc[]; source: string }>('/api/rca?from=now-5m');
      seen = r.incidents;
      source = r.source;
      return seen.find((i) => i.report.timeline.some((e) => /orders -> payment: latency up/.test(e.what)));
    }, 60_000).catch(async (e) => {
      // what the detectors had to judge: the edge's calls per 5 s since before the fault, and the fault itself
      const red = await json<{ series: { t: number; count: number; errors?: number; p90?: number }[] }>('/api/red?from=now-3m&from_service=orders&to_service=payment&step=5').catch((x) => ({ series: [], error: String(x) }));
      const series = red.series.map((p) => `${Math.round((p.t - injectedAt) / 1000)}s:${p.count}/${p.errors ?? 0}/${p.p90 ?? '-'}`).join(' ');
      const faults = await json<unknown>('/api/inject').catch((x) => String(x));
      throw new Error(`${(e as Error).message}; ${source}; incidents: ${JSON.stringify(seen.map((i) => [i.rca.faultyInterface, i.report.timeline.map((x) => x.what).slice(0, 6)]))}; orders -> payment (t from injection: calls/errors/p90 ms): ${series}; faults: ${JSON.stringify(faults)}; agent output (tail): ${out.slice(-1500)}`);
    });
    const onset = inc.report.timeline.find((e) => /orders -> payment: latency up/.test(e.what))!.t;
    console.log(`# incident ${inc.report.id} served ${((Date.now() - injectedAt) / 1000).toFixed(1)} s after the injection (latency onset at +${((onset - injectedAt) / 1000).toFixed(1)} s, raised ${inc.report.detectedAfterS.toFixed(1)} s after the incident's start at +${((inc.report.start - injectedAt) / 1000).toFixed(1)} s): root cause ${inc.rca.faultyInterface}; chains ${JSON.stringify(inc.rca.chains)}`);
    await page.goto(`${api}/#/rca`);
    await page.locator('.incident', { hasText: inc.report.id }).click();
    await page.waitForSelector(`.incident.sel:has-text("${inc.report.id}")`);
    const verdict = (await page.textContent('.verdict'))!;
    assert.ok(verdict.includes(`Root cause: ${inc.rca.faultyInterface}`), `${verdict} vs API ${inc.rca.faultyInterface}`);
    const focus = page.locator('svg.map g.svcnode.focus, svg.map g.svcedge.focus');
    if (inc.focus?.service || inc.focus?.from) {
      assert.equal(await focus.count(), 1, 'the faulty interface is highlighted');
      const shown = await focus.evaluate((g) => (g as HTMLElement).dataset.service ?? `${(g as HTMLElement).dataset.from}>${(g as HTMLElement).dataset.to}`);
      assert.equal(shown, inc.focus.service ?? `${inc.focus.from}>${inc.focus.to}`);
    }
    if (inc.rca.chains.length) assert.ok((await page.locator('svg.map g.svcedge.chain').count()) >= 1, 'the affected call chain is drawn');
    // with a clean baseline the ranking names the payment path (not a requirement of the UI: logged above)
    if (!/payment/.test(inc.rca.faultyInterface)) console.log(`# note: root cause ${inc.rca.faultyInterface} is not on the payment path`);
    await shot('demo-rca');

    // the timeline: the fault event and the latency alerts with their evidence
    await page.goto(`${api}/#/findings`);
    await page.waitForSelector('article.event.alert');
    // the edge's latency alert (the live agent may also have raised others on it first: retransmits, errors)
    const card = page.locator('article.event.alert', { hasText: 'orders -> payment' }).filter({ has: page.locator('.evidence', { hasText: /signal\s*latency.*baseline/s }) }).first();
    const text = (await card.textContent())!;
    assert.match(text, /signal\s*latency/);
    const [, base, peak] = /baseline\s*([\d.]+).*peak\s*([\d.]+)/s.exec(text) ?? [];
    assert.ok(Number(peak) > Number(base) * 3, `latency evidence baseline ${base} -> peak ${peak}`);
    assert.ok((await page.locator('article.event.fault', { hasText: 'injected' }).count()) >= 1, 'the injected fault is on the timeline');
    // the kernel saw the loss too: TCP findings (retransmissions, RTO stalls) on the fl-pay connections
    const tcp = page.locator('article.event.finding', { hasText: '10.213.0.14:8084' });
    console.log(`# timeline: ${await page.locator('article.event').count()} events, ${await tcp.count()} TCP findings on payment's port`);
    if (await tcp.count()) assert.match((await tcp.first().locator('.evidence').textContent())!, /\d/, 'a TCP finding shows its figures');
    await shot('demo-findings');

    await page.goto(`${api}/#/inject`);
    await page.locator('#active tr', { hasText: 'ui-test loss' }).locator('button.stop').click();
    await page.waitForSelector('#active .empty');
    const faults = await json<{ active: unknown[] }>('/api/inject');
    assert.equal(faults.active.length, 0);
    await page.waitForSelector('#history tr:has-text("fault stopped: loss")'); // recorded in the store
  });

  it('business page and header search', async () => {
    await page.goto(`${api}/#/business`);
    await page.waitForSelector('#tx table');
    assert.match((await page.textContent('#tx'))!, /gateway/);
    await shot('demo-business');
    await page.fill('#gsearch', 'paym');
    await page.waitForSelector('#gsearch-results a');
    await page.press('#gsearch', 'Enter');
    await page.waitForFunction(() => location.hash.startsWith('#/service?name=payment'));
    await page.waitForSelector('#endpoints table');
    assert.match((await page.textContent('#endpoints'))!, /POST \/charge/);
  });
});
