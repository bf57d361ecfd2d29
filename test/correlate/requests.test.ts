// Request matching on recorded real traffic: the demo shop serving cart adds and orders (captured with the
// SockCollector by test/fixtures/apm/capture-demo.ts), replayed through the RequestTracker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SockRecordView } from '../../src/collect/sock-decoder.js';
import { encodeSockBatch, type SyntheticSockRecord } from '../../src/collect/sock-encoder.js';
import { FlowTable } from '../../src/correlate/flows.js';
import { flowIdOf, propagationHeaders, RequestTracker } from '../../src/correlate/requests.js';
import { ServiceResolver } from '../../src/correlate/services.js';
import { RouteNormaliser, OTHER_ROUTE } from '../../src/protocols/index.js';
import type { SocketEvent } from '../../src/collect/sock-event.js';
import { loadFixture, trackFixture } from '../fixtures/apm/load-fixture.js';
import { sockLayoutFromBtf } from '../helpers/sock-layout.js';

const fx = loadFixture('demo-order');
const { records, tracker } = trackFixture(fx);
// what the capture script sent through the gateway, in order
const ISSUED = [
  ['GET', '/api/products/7'],
  ['POST', '/api/cart/fix-user-1/items'],
  ['POST', '/api/orders'],
  ['POST', '/api/cart/fix-user-2/items'],
  ['POST', '/api/orders'],
  ['GET', '/api/products/999999'],
];

test('every request curl issued is seen once from each end, with its method, path and status', () => {
  for (const side of ['client', 'server'] as const) {
    const seen = records.filter((r) => r.side === side && r.clientService === 'curl' && r.serverService === 'gateway');
    seen.sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
    assert.deepEqual(seen.map((r) => [r.method, r.path]), ISSUED, side);
    assert.deepEqual(seen.map((r) => String(r.httpStatus)), fx.statuses, side);
    assert.deepEqual(seen.map((r) => r.error), fx.statuses.map((s) => Number(s) >= 400), side);
  }
  const st = tracker.stats();
  assert.equal(st.parser.exceptions, 0);
  assert.equal(st.parser.parseErrors, 0);
});

test('the two orders produce every expected edge with protocol, route and status', () => {
  const edges = new Map<string, Set<string>>();
  for (const r of records) {
    const k = `${r.clientService} -> ${r.serverService}`;
    const v = `${r.protocol} ${r.method} ${r.endpoint.split(' ').slice(0, 3).join(' ')} ${r.httpStatus ?? r.status}`;
    edges.set(k, (edges.get(k) ?? new Set()).add(v));
  }
  const has = (edge: string, what: string) => assert.ok([...(edges.get(edge) ?? [])].some((v) => v.startsWith(what)), `${edge}: ${what} in ${[...(edges.get(edge) ?? [])].join(' | ')}`);
  has('gateway -> frontend', 'http1 POST /api/orders 201');
  has('gateway -> frontend', 'http1 GET /api/products/{id} 404');
  has('frontend -> orders', 'http1 POST /orders 201');
  has('frontend -> catalog', 'http1 GET /products/{id} 200');
  has('frontend -> cart', 'http1 POST /cart/fix-user-1/items 200');
  has('orders -> cart', 'http1 GET /cart/fix-user-1 200');
  has('orders -> cart', 'http1 DELETE /cart/fix-user-2 200');
  has('orders -> catalog', 'http1 GET /prices 200');
  has('orders -> payment', 'http1 POST /charge 200');
  has('orders -> postgres', 'postgres WITH');
  has('catalog -> postgres', 'postgres SELECT SELECT id, price_cents');
  has('cart -> redis', 'redis HGETALL cart:fix-user-1 OK');
  has('cart -> redis', 'redis DEL cart:fix-user-2 OK');
  // two orders: two charges seen by each end
  assert.equal(records.filter((r) => r.endpoint === '/charge' && r.side === 'server').length, 2);
  assert.equal(records.filter((r) => r.endpoint === '/charge' && r.side === 'client').length, 2);
});

test('each server-side record lies inside its caller\'s record of the same flow; joins are filled', () => {
  const servers = records.filter((r) => r.side === 'server');
  assert.ok(servers.length >= 40, `${servers.length} server-side records`);
  for (const s of servers) {
    const c = records.find((r) => r.side === 'client' && r.flowId === s.flowId && r.startNs <= s.startNs && r.endNs >= s.endNs);
    assert.ok(c, `no caller record for ${s.serverService} ${s.method} ${s.endpoint} on ${s.flowId}`);
    assert.equal(c.method, s.method);
    assert.equal(c.endpoint, s.endpoint);
    assert.equal(c.status, s.status);
  }
  for (const r of records) {
    assert.ok(r.pid > 0 && r.tid > 0, 'pid/tid');
    assert.ok(r.durationNs >= 0n && r.endNs >= r.startNs);
    assert.match(r.flowId, /^\d+:tcp:[\d.]+:\d+-[\d.]+:\d+$/);
    assert.ok(r.reqBytes > 0, `${r.method} ${r.endpoint} reqBytes`);
  }
  // payment is the threaded C server: its work happens on a thread other than the main one
  const pay = records.find((r) => r.serverService === 'payment' && r.side === 'server')!;
  assert.notEqual(pay.tid, pay.pid);
});

test('the flow ids of requests are the flow table\'s ids for the same connections', (t) => {
  let layout;
  try {
    layout = sockLayoutFromBtf();
  } catch (err) {
    t.skip(`bpf/sock.bpf.o unavailable: ${(err as Error).message}`);
    return;
  }
  const table = new FlowTable();
  const batch = encodeSockBatch(layout, fx.events.map((e): SyntheticSockRecord => ({ ...e, state: e.tcpState })));
  table.foldBatch(batch, new SockRecordView(layout));
  const ids = new Set(table.flows().map((f) => f.id));
  for (const r of records) assert.ok(ids.has(r.flowId), `${r.flowId} (${r.clientService} -> ${r.serverService}) not in the flow table`);
});

test('X-Request-Id from nginx reaches every hop of an order and is extracted from the head', () => {
  const order = records.filter((r) => r.endpoint === '/orders' && r.side === 'server');
  assert.equal(order.length, 2);
  for (const o of order) {
    assert.match(o.requestIdHeader ?? '', /^[0-9a-f]{32}$/);
    const hops = records.filter((r) => r.requestIdHeader === o.requestIdHeader);
    // gateway->frontend, frontend->orders, orders->cart x2, orders->catalog, orders->payment: both ends each
    assert.equal(hops.length, 12, hops.map((h) => `${h.side} ${h.clientService}->${h.serverService} ${h.endpoint}`).join('\n'));
  }
  const head = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc-1\r\ntraceparent: 00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01\r\n\r\nX-Request-Id: body');
  assert.deepEqual(propagationHeaders(head), { requestId: 'abc-1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
  assert.deepEqual(propagationHeaders(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), {});
});

test('capture starting mid-stream: later exchanges are still matched, nothing throws', () => {
  for (const cut of [0.1, 0.33, 0.5, 0.77]) {
    const from = Math.floor(fx.events.length * cut);
    const { records: recs, tracker: tr } = trackFixture(fx, fx.events.slice(from));
    assert.equal(tr.stats().parser.exceptions, 0);
    const last = recs.filter((r) => r.clientService === 'curl' && r.side === 'client');
    // the last curl request (a fresh connection) is always complete and right
    assert.ok(last.some((r) => r.path === '/api/products/999999' && r.httpStatus === 404), `cut ${cut}`);
    for (const r of recs) if (!r.incomplete && r.protocol === 'http1') assert.ok((r.httpStatus ?? 0) >= 100, `cut ${cut}: ${r.method} ${r.path}`);
  }
});

test('garbage on a connection leaves it unknown and yields no records', () => {
  const tr = new RequestTracker({ services: new ServiceResolver({ readProcess: () => undefined }) });
  const base: SocketEvent = {
    tsNs: 1n, pid: 10, tid: 10, comm: 'x', cgroupId: 0n, netns: 1, sockId: 77n, kind: 'data', syscall: 'write', dir: 'send',
    role: 'client', proto: 'tcp', family: 4, local: { ip: '10.0.0.1', port: 40000 }, remote: { ip: '10.0.0.2', port: 9999 },
    ret: 64, bytes: 64, tcpState: 1, fd: 3, payload: Buffer.alloc(0),
  };
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  const out = [];
  for (let i = 0; i < 300; i++) {
    const payload = Buffer.from(Array.from({ length: 64 }, rnd));
    out.push(...tr.push({ ...base, tsNs: BigInt(i + 1), dir: i % 2 ? 'recv' : 'send', payload }));
  }
  out.push(...tr.closeAll());
  assert.equal(out.length, 0);
  assert.equal(tr.stats().parser.exceptions, 0);
});

test('flowIdOf keeps the netns only for loopback tuples', () => {
  assert.equal(flowIdOf('tcp', 42, { ip: '10.0.0.1', port: 40000 }, { ip: '10.0.0.2', port: 80 }), '0:tcp:10.0.0.1:40000-10.0.0.2:80');
  assert.equal(flowIdOf('tcp', 42, { ip: '127.0.0.1', port: 40000 }, { ip: '127.0.0.1', port: 80 }), '42:tcp:127.0.0.1:40000-127.0.0.1:80');
});

test('route cardinality is capped per service', () => {
  const routes = new RouteNormaliser(3);
  const tr = new RequestTracker({ routes, services: new ServiceResolver({ readProcess: (pid, comm) => ({ pid, comm, cgroup: '/svc/api' }) }) });
  const mk = (i: number, dir: 'send' | 'recv', text: string): SocketEvent => ({
    tsNs: BigInt(i), pid: 5, tid: 5, comm: 'api', cgroupId: 0n, netns: 1, sockId: 9n, kind: 'data', syscall: 'read', dir, role: 'server',
    proto: 'tcp', family: 4, local: { ip: '10.0.0.2', port: 80 }, remote: { ip: '10.0.0.1', port: 50000 }, ret: text.length, bytes: text.length,
    tcpState: 1, fd: 4, payload: Buffer.from(text),
  });
  const got: string[] = [];
  ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'beta'].forEach((seg, i) => {
    got.push(...tr.push(mk(i * 2 + 1, 'recv', `GET /${seg}/1 HTTP/1.1\r\nHost: a\r\n\r\n`)).map((r) => r.endpoint));
    got.push(...tr.push(mk(i * 2 + 2, 'send', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')).map((r) => r.endpoint));
  });
  assert.deepEqual(got, ['/alpha/{id}', '/beta/{id}', '/gamma/{id}', OTHER_ROUTE, OTHER_ROUTE, '/beta/{id}']);
});
