// Zero-code APM on the demo shop, real kernel: orders sent with curl through the nginx gateway (HTTP and
// HTTPS) show every service edge with its routes and statuses, and one order's call chain spans all the
// services it touched. Brings the demo up in its own runtime dir and tears it down after.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApmCapture } from '../../src/correlate/apm-live.js';
import { buildTraceTree, formatTraceTree, tracePaths } from '../../src/correlate/traces.js';
import type { RequestRecord } from '../../src/model/request.js';

process.env.FAULTLENS_DEMO_DIR ??= mkdtempSync(join(tmpdir(), 'fl-apm-demo-'));
const { up, down } = await import('../../demo/lifecycle.js');
const { pgBinDir } = await import('../../demo/postgres.js');
const { startApmCapture } = await import('../../src/correlate/apm-live.js');
const { runLoad } = await import('../../demo/load.js');
const { linkRecords } = await import('../../src/correlate/traces.js');

const REPO = join(import.meta.dirname, '..', '..');
function missingPrereq(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const cmd of ['nginx', 'redis-server', 'openssl', 'gcc', 'ip', 'curl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`]);
    } catch {
      return `${cmd} is not installed (scripts/bootstrap.sh --test installs nginx-light redis-server postgresql curl)`;
    }
  }
  if (!pgBinDir()) return 'postgresql is not installed';
  try {
    execFileSync('make', ['-s', '-C', join(REPO, 'bpf'), '.output/sock.bpf.o', '.output/tls.bpf.o'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    return `bpf objects do not build: ${(e as Error).message}`;
  }
  return undefined;
}
const skip = missingPrereq();

let cap: ApmCapture | undefined;
const records: RequestRecord[] = [];

before(async () => {
  if (skip) return;
  await up();
  cap = startApmCapture({ onRecords: (rs) => records.push(...rs), onWarning: () => {}, settleMs: 300, includeSelf: true });
});

after(async () => {
  cap?.stop();
  if (!skip) await down();
});

const GW = 'http://10.213.0.10';
const GWS = 'https://10.213.0.10';
function curl(method: string, url: string, body?: string): number {
  const args = ['-sk', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', '-X', method];
  if (body) args.push('-H', 'content-type: application/json', '-d', body);
  return Number(execFileSync('curl', [...args, url], { encoding: 'utf8' }));
}

async function until<T>(fn: () => T | undefined, ms = 10_000): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    cap!.tick();
    const v = fn();
    if (v !== undefined || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('orders through the gateway: every edge, route and status, and a call chain across the services', { skip }, async () => {
  // fixed: payment's fraud_score() is deterministic, and these users + totals are never declined (a
  // per-run name was declined about once in 50 runs)
  const user = 'apm-buyer';
  assert.equal(curl('POST', `${GW}/api/cart/${user}/items`, '{"productId":4,"qty":2}'), 200);
  assert.equal(curl('POST', `${GW}/api/orders`, `{"user":"${user}","currency":"EUR"}`), 201);
  assert.equal(curl('GET', `${GW}/api/products/999999`), 404);
  // HTTPS through nginx :443: decoded from OpenSSL's plaintext
  assert.equal(curl('POST', `${GWS}/api/cart/${user}-tls/items`, '{"productId":6,"qty":1}'), 200);
  assert.equal(curl('POST', `${GWS}/api/orders`, `{"user":"${user}-tls","currency":"EUR"}`), 201);
  assert.equal(curl('GET', `${GWS}/api/products/12`), 200);

  const curlRecs = await until<RequestRecord[]>(() => {
    const got = records.filter((r) => r.clientService === 'curl' && r.serverService === 'gateway' && r.side === 'server');
    const deletes = records.filter((r) => r.method === 'DELETE' && r.serverService === 'cart' && r.side === 'server');
    return got.length >= 6 && deletes.length >= 2 ? got : undefined;
  });
  assert.ok(curlRecs, `gateway saw ${records.filter((r) => r.serverService === 'gateway').length} requests`);
  const seen = curlRecs.sort((a, b) => (a.startNs < b.startNs ? -1 : 1)).map((r) => `${r.tls ? 'https' : 'http'} ${r.method} ${r.path} ${r.httpStatus}`);
  assert.deepEqual(seen, [
    `http POST /api/cart/${user}/items 200`,
    'http POST /api/orders 201',
    'http GET /api/products/999999 404',
    `https POST /api/cart/${user}-tls/items 200`,
    'https POST /api/orders 201',
    'https GET /api/products/12 200',
  ]);

  const edges = new Map<string, Set<string>>();
  for (const r of records) {
    const k = `${r.clientService}->${r.serverService}`;
    edges.set(k, (edges.get(k) ?? new Set()).add(`${r.protocol} ${r.method} ${r.endpoint.slice(0, 30)} ${r.httpStatus ?? r.status}`));
  }
  const has = (edge: string, what: string | RegExp) => {
    const vals = [...(edges.get(edge) ?? [])];
    assert.ok(vals.some((v) => (typeof what === 'string' ? v === what : what.test(v))), `${edge}: ${what} in [${vals.join(' | ')}]`);
  };
  has('gateway->frontend', 'http1 POST /api/orders 201');
  has('gateway->frontend', 'http1 GET /api/products/{id} 404');
  has('gateway->frontend', 'http1 GET /api/products/{id} 200');
  has('frontend->orders', 'http1 POST /orders 201');
  has('frontend->cart', `http1 POST /cart/${user}/items 200`);
  has('orders->cart', `http1 GET /cart/${user} 200`);
  has('orders->cart', `http1 DELETE /cart/${user} 200`);
  has('orders->catalog', 'http1 GET /prices 200');
  has('orders->payment', 'http1 POST /charge 200');
  has('cart->redis', /^redis HGETALL cart:apm-buyer OK$/);
  has('catalog->postgres', /^postgres SELECT SELECT id, price_cents FROM pr.* SELECT$/);
  has('orders->postgres', /^postgres WITH /);

  // the call chain of each order (HTTP and HTTPS) spans gateway, frontend, orders, cart, catalog, payment, redis, postgres
  for (const tls of [false, true]) {
    const root: RequestRecord = curlRecs.find((r) => r.path === '/api/orders' && !!r.tls === tls)!;
    const trace: RequestRecord[] = records.filter((r) => r.traceId === root.traceId);
    const roots = buildTraceTree(trace);
    const paths = new Set(tracePaths(roots));
    const text = formatTraceTree(roots);
    console.log(`# ${tls ? 'https' : 'http'} order trace ${root.traceId}:\n${text.split('\n').map((l) => `#   ${l}`).join('\n')}`);
    for (const p of [
      'curl > gateway > frontend > orders > cart > redis',
      'curl > gateway > frontend > orders > catalog > postgres',
      'curl > gateway > frontend > orders > payment',
      'curl > gateway > frontend > orders > postgres',
    ]) assert.ok(paths.has(p), `${tls ? 'https' : 'http'} order: ${p} in\n${text}`);
    assert.equal(roots.length, 1, text);
    // nginx's X-Request-Id names the trace
    assert.equal(root.traceId, trace.find((r) => r.requestIdHeader)?.requestIdHeader);
  }
  // every request carries its connection's flow id and the TCP snapshot when the TCP collector runs
  const bad = records.filter((r) => !(/^\d+:(tcp|udp):/.test(r.flowId) && r.pid > 0 && r.tid > 0));
  assert.deepEqual(bad.map((r) => `${r.side} ${r.clientService}->${r.serverService} ${r.protocol} ${r.flowId} pid=${r.pid} tid=${r.tid}`), []);
  if (cap!.tcp) {
    const withTcp = records.filter((r) => r.tcp && r.tcp.srttUs > 0);
    console.log(`# ${withTcp.length}/${records.length} requests carry a TCP snapshot`);
    assert.ok(withTcp.length > records.length / 2, `${withTcp.length}/${records.length} with a TCP snapshot`);
  }
});

test('load at 40 rps: exact request counts at the gateway, latencies as the client saw them, call-chain accuracy', { skip }, async () => {
  const t0 = process.hrtime.bigint();
  const drops0 = cap!.sock.stats().drops;
  const sent: { method: string; path: string; status: number; ms: number }[] = [];
  await runLoad({ rps: 40, profile: 'steady', durationS: 4, recordsFile: join(process.env.FAULTLENS_DEMO_DIR!, 'apm-load.jsonl'), onRecord: (r) => sent.push(r) });
  const t1 = process.hrtime.bigint();
  const inWindow = (r: RequestRecord) => r.startNs >= t0 && r.startNs <= t1;
  // only the requests this process sent (its own client sockets are captured too): other traffic to the
  // gateway (another test, a person) must not count
  const mine = (r: RequestRecord) => r.side === 'client' && r.pid === process.pid && r.serverService === 'gateway';
  const gwOf = () => {
    const flows = new Set(records.filter(mine).map((r) => r.flowId));
    return records.filter((r) => r.serverService === 'gateway' && r.side === 'server' && inWindow(r) && flows.has(r.flowId));
  };
  const gw = await until(() => {
    const g = gwOf();
    return g.length >= sent.length ? g : undefined;
  });
  const got = gwOf();
  if (!gw) { // diagnostics for a failure below
    const own = records.filter((r) => r.pid === process.pid);
    console.log(`# debug: ${own.length} records of this process (${[...new Set(own.map((r) => `${r.side} ${r.clientService}->${r.serverService}`))].join(', ')}); drops ${cap!.sock.stats().drops}; gateway server records in window ${records.filter((r) => r.serverService === 'gateway' && r.side === 'server' && inWindow(r)).length}`);
  }
  const key = (m: string, p: string, s: number) => `${m} ${p.split('?')[0]} ${s}`;
  const count = (xs: string[]) => xs.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>());
  const theirs = count(sent.map((r) => key(r.method, r.path, r.status)));
  const ours = count(got.map((r) => key(r.method, r.path ?? '', r.httpStatus ?? 0)));
  const dropped = cap!.sock.stats().drops - drops0;
  if (dropped === 0n) {
    assert.ok(gw, `gateway saw ${got.length} of ${sent.length} requests`);
    assert.deepEqual([...ours].sort(), [...theirs].sort());
  } else {
    // the socket ring buffer overflowed (a saturated machine): what we saw must still be what was sent
    console.log(`# ${dropped} socket records dropped during the load: ${got.length}/${sent.length} requests seen`);
    for (const [k, n] of ours) assert.ok(n <= (theirs.get(k) ?? 0), `${k}: seen ${n} > sent ${theirs.get(k) ?? 0}`);
    assert.ok(got.length >= sent.length * 0.5, `only ${got.length}/${sent.length} seen`);
  }
  const gwSeen = got;

  // per route, the gateway's median latency is the client's minus the wire and the client's own overhead
  const byRoute = new Map<string, { ours: number[]; theirs: number[]; client: number[] }>();
  for (const r of gwSeen) {
    const k = `${r.method} ${r.endpoint}`;
    const e = byRoute.get(k) ?? { ours: [], theirs: [], client: [] };
    e.ours.push(Number(r.durationNs) / 1e6);
    byRoute.set(k, e);
  }
  for (const r of records.filter((x) => mine(x) && inWindow(x))) byRoute.get(`${r.method} ${r.endpoint}`)?.client.push(Number(r.durationNs) / 1e6);
  const routeOf = new Map(gwSeen.map((r) => [`${r.method} ${r.path}`, `${r.method} ${r.endpoint}`]));
  for (const s of sent) byRoute.get(routeOf.get(`${s.method} ${s.path.split('?')[0]}`) ?? '')?.theirs.push(s.ms);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [route, { ours, theirs, client }] of byRoute) {
    if (ours.length < 5) continue;
    const a = median(ours);
    const b = median(theirs);
    const c = median(client);
    console.log(`# ${route}: ${ours.length} requests, p50: load generator ${b.toFixed(2)} ms, its socket (faultlens) ${c.toFixed(2)} ms, gateway (faultlens) ${a.toFixed(2)} ms`);
    if (dropped === 0n) assert.equal(client.length, ours.length, `${route}: both ends seen`);
    // the load generator's figure adds its own event-loop delays (large on a busy machine): ours may be
    // lower by that, never higher; the strict 1 ms / 10 % check against curl is in tls-nginx.test.ts
    assert.ok(c <= b + 1 && c >= 0.7 * b - 1, `${route}: client-socket p50 ${c} ms vs load generator ${b} ms`);
    assert.ok(a <= c + 0.05, `${route}: the gateway's view ${a} ms fits inside the client's ${c} ms`);
  }

  // call chains without headers vs the X-Request-Id truth, on overlapping requests (Node event loops)
  const win = records.filter(inWindow).map((r) => ({ ...r }));
  const truth = new Map<string, string | undefined>();
  const t = win.map((r) => ({ ...r }));
  linkRecords(t);
  for (const r of t) truth.set(r.id, r.parentSpanId);
  linkRecords(win, { useHeaders: false });
  let links = 0, right = 0, ambiguous = 0, wrongSure = 0;
  for (const r of win) {
    if (r.side !== 'client' || r.linkedBy === 'exchange' || !truth.get(r.id)) continue;
    links++;
    const ok = truth.get(r.id) === r.parentSpanId;
    if (ok) right++;
    if ((r.linkScore ?? 1) < 1) ambiguous++;
    else if (!ok) wrongSure++;
  }
  console.log(`# call-chain accuracy without headers under load: ${right}/${links} (${((100 * right) / links).toFixed(1)} %), ${ambiguous} links scored ambiguous, ${wrongSure} wrong but scored certain`);
  assert.ok(links > 100, `${links} links`);
  assert.ok(right / links >= 0.85, `accuracy ${right}/${links}`);
  assert.ok(wrongSure <= links * 0.02, `${wrongSure} certain links were wrong`);
});
