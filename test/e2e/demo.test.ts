// The demo shop for real: namespaces, nginx (HTTP + TLS), node services, redis, postgres, the native
// payment service; an order end to end; one scenario measured by the load generator; then nothing left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Own runtime dir, so the test never reads or clobbers the records of a demo a person started.
const ownDir = !process.env.FAULTLENS_DEMO_DIR;
process.env.FAULTLENS_DEMO_DIR ??= mkdtempSync(join(tmpdir(), 'fl-demo-test-'));

const { up, down, status } = await import('../../demo/lifecycle.js');
const { runScenario, groundTruthFile } = await import('../../demo/scenarios/runner.js');
const { HOSTS, BRIDGE, vethName, GATEWAY_HTTP, serviceIp } = await import('../../demo/topology.js');
const { loadState } = await import('../../demo/state.js');
const { isAlive, cgroup2Root, DEMO_CGROUP } = await import('../../demo/procs.js');
const { pgBinDir } = await import('../../demo/postgres.js');
const { loadRecordsFile } = await import('../../demo/load.js');

function missingPrereq(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const cmd of ['nginx', 'redis-server', 'openssl', 'gcc', 'ip', 'psql']) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`]);
    } catch {
      return `${cmd} is not installed (scripts/bootstrap.sh --test installs nginx-light redis-server postgresql)`;
    }
  }
  return pgBinDir() ? undefined : 'postgresql is not installed';
}
const skip = missingPrereq();

interface Reply {
  status: number;
  body: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function call(url: string, method = 'GET', body?: unknown): Promise<Reply> {
  const u = new URL(url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(
      {
        host: u.hostname, port: u.port || (u.protocol === 'https:' ? 443 : 80), path: u.pathname + u.search, method,
        rejectUnauthorized: false, timeout: 10_000,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) });
        });
      },
    );
    r.on('timeout', () => r.destroy(new Error(`timeout ${method} ${url}`)));
    r.on('error', reject);
    r.end(payload);
  });
}

const psql = (db: string, sql: string): string =>
  execFileSync('psql', ['-X', '-At', '-h', serviceIp('postgres'), '-U', 'postgres', '-d', db, '-c', sql], { encoding: 'utf8' }).trim();

let upMs = 0;
let trackedBeforeDown: ReturnType<typeof loadState>;

before(async () => {
  if (skip) return;
  const t0 = Date.now();
  await up(() => {});
  upMs = Date.now() - t0;
});

after(async () => {
  if (!skip) await down(() => {}); // idempotent: the last test already tore down on success
  if (ownDir) rmSync(process.env.FAULTLENS_DEMO_DIR!, { recursive: true, force: true });
});

test('demo up starts every service within 60 s and status reports them healthy', { skip }, async (t) => {
  assert.ok(upMs < 60_000, `demo up took ${upMs} ms`);
  t.diagnostic(`demo up took ${upMs} ms`);
  const s = await status();
  assert.equal(s.ready, true);
  const unhealthy = s.services.filter((x) => !x.healthy).map((x) => `${x.name}: ${x.detail}`);
  assert.deepEqual(unhealthy, []);
  assert.ok(s.hosts.every((h) => h.present), 'every host namespace exists');
  // The payment binary exports its business functions as real symbols (uprobes attach to them).
  const payment = loadState()!.procs.find((p) => p.name === 'payment')!;
  const exe = readFileSync(`/proc/${payment.pid}/cmdline`, 'utf8').split('\0')[0]!;
  const syms = execFileSync('nm', ['-D', '--defined-only', exe], { encoding: 'utf8' }) + execFileSync('nm', [exe], { encoding: 'utf8' });
  for (const fn of ['charge', 'record_order', 'refund']) assert.match(syms, new RegExp(` T ${fn}$`, 'm'), `${fn} is a global text symbol`);
});

test('the next demo up after a crash (owner gone, everything left running) replaces the old demo', { skip }, async () => {
  // `demo up` without --foreground leaves exactly what a crashed owner leaves: state file + running processes.
  const old = loadState()!.procs;
  await up(() => {});
  for (const p of old) assert.equal(isAlive(p), false, `old ${p.name} (pid ${p.pid}) was stopped`);
  const s = await status();
  assert.deepEqual(s.services.filter((x) => !x.healthy).map((x) => x.name), []);
  assert.equal(loadState()!.procs.length, old.length);
});

test('every service answers through the gateway over HTTP and HTTPS, and names resolve inside the namespaces', { skip }, async () => {
  const home = await call(`${GATEWAY_HTTP}/`);
  assert.equal(home.status, 200);
  assert.match(home.body, /<li>.+€<\/li>/); // rendered from catalog -> postgres
  const tls = await call(`https://${HOSTS[0]!.ip}/api/products?category=coffee&limit=5`);
  assert.equal(tls.status, 200);
  const products = tls.json() as { category: string }[];
  assert.equal(products.length, 5);
  assert.ok(products.every((p) => p.category === 'coffee'));
  const one = await call(`${GATEWAY_HTTP}/api/products/42`);
  assert.equal(one.json().id, 42);
  const missing = await call(`${GATEWAY_HTTP}/api/products/9999`);
  assert.equal(missing.status, 404);
  // /etc/netns/fl-*/hosts gives each host a name (bind-mounted by ip netns exec).
  const resolved = execFileSync('ip', ['netns', 'exec', 'fl-ord', 'getent', 'hosts', 'payment'], { encoding: 'utf8' });
  assert.match(resolved, new RegExp(`^${serviceIp('payment').replace(/\./g, '\\.')}\\s`));
});

test('an order fans out to cart, catalog, payment and postgres and lands in the orders table', { skip }, async () => {
  const user = 'e2e-buyer'; // fixed: fraud_score() is deterministic, and this user + total is never declined
  const before = (await call(`http://${serviceIp('payment')}:8084/stats`)).json();
  assert.equal((await call(`${GATEWAY_HTTP}/api/cart/${user}/items`, 'POST', { productId: 7, qty: 2 })).status, 200);
  assert.equal((await call(`${GATEWAY_HTTP}/api/cart/${user}/items`, 'POST', { productId: 11, qty: 1 })).status, 200);
  const cart = (await call(`${GATEWAY_HTTP}/api/cart/${user}`)).json();
  assert.equal(cart.items.length, 2);
  const price = (id: number): number => Number(psql('catalog', `SELECT price_cents FROM products WHERE id = ${id}`));
  const expectedTotal = 2 * price(7) + price(11);
  const order = await call(`${GATEWAY_HTTP}/api/orders`, 'POST', { user, currency: 'EUR' });
  assert.equal(order.status, 201, order.body);
  const o = order.json();
  assert.equal(o.total_cents, expectedTotal);
  assert.equal(psql('orders', `SELECT user_id || '|' || total_cents || '|' || status FROM orders WHERE id = ${o.orderId}`), `${user}|${expectedTotal}|paid`);
  assert.equal(psql('orders', `SELECT sum(qty) FROM order_items WHERE order_id = ${o.orderId}`), '3');
  const afterStats = (await call(`http://${serviceIp('payment')}:8084/stats`)).json();
  assert.equal(afterStats.charges - before.charges, 1, 'charge() ran once');
  assert.equal(afterStats.orders_recorded - before.orders_recorded, 1, 'record_order() ran once');
  assert.equal(afterStats.total_cents - before.total_cents, expectedTotal);
  assert.equal((await call(`${GATEWAY_HTTP}/api/cart/${user}`)).json().items.length, 0, 'cart cleared after the order');
});

test('slow-endpoint scenario: the load generator sees the latency rise on the product route only', { skip }, async (t) => {
  const r = await runScenario('slow-endpoint', { baselineS: 3, faultS: 4, recoveryS: 3, rps: 30, profile: 'steady', log: () => {} });
  const { baseline, fault, recovery } = r.phases;
  for (const [route, b] of Object.entries(baseline)) t.diagnostic(`${route}: p50 ${b.p50} -> ${fault[route]?.p50} ms (n=${b.count}/${fault[route]?.count})`);
  assert.ok(baseline.product && fault.product, 'product requests in both phases');
  assert.ok(fault.product.p50 - baseline.product.p50 > 200, `product p50 ${baseline.product.p50} -> ${fault.product.p50} ms`);
  assert.ok(fault.product.p50 >= 300, 'at least the injected 300 ms');
  for (const route of ['browse', 'cart-add', 'cart-view', 'home']) {
    const b = baseline[route];
    const f = fault[route];
    if (!b || !f || f.count < 5) continue;
    // Well below the injected 300 ms even on a busy 2-core machine.
    assert.ok(f.p50 < b.p50 + 100, `${route} p50 stays flat: ${b.p50} -> ${f.p50} ms`);
  }
  // Relative to the fault, not the baseline: on a loaded 2-core box the first requests after the revert
  // still queue behind slow ones, but the median must fall well below the faulty one.
  if (recovery.product) assert.ok(recovery.product.p50 < fault.product.p50 / 2, `product recovers (${fault.product.p50} -> ${recovery.product.p50} ms)`);
  for (const phase of [baseline, fault]) for (const [route, s] of Object.entries(phase)) assert.equal(s.errors, 0, `no 5xx on ${route}`);
  // Ground truth on disk: what, where, when.
  const gt = readFileSync(groundTruthFile(), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).at(-1);
  assert.equal(gt.kind, 'slow-endpoint');
  assert.equal(gt.target.service, 'catalog');
  assert.equal(gt.target.endpoint, 'GET /products/:id');
  assert.ok(gt.start > 0 && gt.end - gt.start >= 4000, 'fault window recorded');
  // The load generator's own JSON lines agree: product requests sent inside the window were slow.
  const lines = readFileSync(loadRecordsFile(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const inWindow = lines.filter((l) => l.route === 'product' && l.t > gt.start + 100 && l.t + l.ms < gt.end);
  assert.ok(inWindow.length >= 10 && inWindow.every((l) => l.ms >= 290), 'every product request in the window took >= 290 ms');
});

test('nagle-delayed-ack knob: keep-alive cart reads from another host stall ~40 ms only while it is on', { skip }, async (t) => {
  const user = `nagle-${process.pid}`;
  for (const productId of [3, 4]) await call(`${GATEWAY_HTTP}/api/cart/${user}/items`, 'POST', { productId, qty: 1 });
  // 10 requests on one keep-alive connection from fl-ord (curl reuses it); the first is in quick-ACK mode.
  const timings = (): number[] => {
    const urls = Array.from({ length: 10 }, () => `http://cart:8082/cart/${user}`);
    const out = execFileSync('ip', ['netns', 'exec', 'fl-ord', 'curl', '-s', '-w', '%{time_total}\\n', ...urls.flatMap((u) => ['-o', '/dev/null', u])], { encoding: 'utf8' });
    return out.trim().split('\n').map((x) => Number(x) * 1000).slice(2).sort((a, b) => a - b);
  };
  const median = (xs: number[]): number => xs[Math.floor(xs.length / 2)]!;
  const healthy = median(timings());
  const { adminPost } = await import('../../demo/scenarios/admin.js');
  await adminPost('cart', '/admin/flags', { nagle: true });
  let stalled: number;
  try {
    stalled = median(timings());
  } finally {
    await adminPost('cart', '/admin/flags', { nagle: false });
  }
  const after = median(timings());
  t.diagnostic(`cart GET median over keep-alive: healthy ${healthy.toFixed(1)} ms, nagle ${stalled.toFixed(1)} ms, reverted ${after.toFixed(1)} ms`);
  // The stall is the delayed-ACK timer (40 ms min), so it shows as a fixed step over the healthy time.
  assert.ok(stalled - healthy >= 30, `nagle adds >= 30 ms: healthy ${healthy} ms, stalled ${stalled} ms`);
  assert.ok(stalled < 300, `stalled median ${stalled} ms is a few delayed ACKs, not a timeout`);
  assert.ok(after < stalled - 30, `after revert ${after} ms`);
});

test('demo down removes every namespace, link, hosts file, cgroup and process', { skip }, async () => {
  trackedBeforeDown = loadState();
  assert.ok(trackedBeforeDown && trackedBeforeDown.procs.length >= 8);
  await down(() => {});
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const h of HOSTS) {
    assert.doesNotMatch(netns, new RegExp(`^${h.ns}( |$)`, 'm'), `namespace ${h.ns} removed`);
    assert.ok(!existsSync(`/etc/netns/${h.ns}`), `/etc/netns/${h.ns} removed`);
  }
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  for (const l of [BRIDGE, ...HOSTS.map((h) => vethName(h.ns))]) assert.doesNotMatch(links, new RegExp(`: ${l}[@:]`), `link ${l} removed`);
  for (const p of trackedBeforeDown!.procs) assert.equal(isAlive(p), false, `${p.name} (pid ${p.pid}) stopped`);
  const strays = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(process.env.FAULTLENS_DEMO_DIR!);
    } catch {
      return false;
    }
  });
  assert.deepEqual(strays, [], 'no process still uses the runtime dir');
  const cg = cgroup2Root();
  if (cg) assert.ok(!existsSync(join(cg, DEMO_CGROUP)), 'demo cgroups removed');
  assert.ok(!existsSync(join(process.env.FAULTLENS_DEMO_DIR!, 'pgdata')), 'postgres data dir removed');
  assert.equal((await status()).up, false);
});
