// RED: histogram accuracy against exact quantiles, and per-endpoint / per-edge figures on recorded traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram, RedAggregator } from '../../src/correlate/red.js';
import { buildTopology, formatEdges } from '../../src/correlate/topology.js';
import { loadFixture, trackFixture } from '../fixtures/apm/load-fixture.js';

function exact(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

test('log-linear histogram quantiles are within 7 % of the exact ones', () => {
  let seed = 1;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (const dist of ['uniform', 'lognormal', 'bimodal'] as const) {
    const h = new LatencyHistogram();
    const xs: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const u = rnd();
      const v = dist === 'uniform' ? 50 + u * 5000 : dist === 'lognormal' ? Math.exp(6 + 1.5 * Math.sqrt(-2 * Math.log(u + 1e-12)) * Math.cos(2 * Math.PI * rnd())) : u < 0.9 ? 200 + rnd() * 50 : 90_000 + rnd() * 10_000;
      xs.push(v);
      h.add(v);
    }
    xs.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99]) {
      const want = exact(xs, q);
      const got = h.quantileUs(q);
      assert.ok(Math.abs(got - want) / want <= 0.07, `${dist} p${q * 100}: ${got} vs ${want}`);
    }
    assert.equal(h.count, 20000);
    assert.equal(h.maxUs, xs[xs.length - 1]);
  }
  // bucket bounds are monotonic and cover exact powers of two
  for (let b = 1; b < 300; b++) assert.ok(LatencyHistogram.lowerOf(b) > LatencyHistogram.lowerOf(b - 1));
  for (let e = 3; e < 40; e++) assert.equal(LatencyHistogram.lowerOf(LatencyHistogram.bucketOf(2 ** e)), 2 ** e);
});

test('RED per endpoint and edge from the demo capture: counts, errors, server view preferred', () => {
  const fx = loadFixture('demo-order');
  const { records } = trackFixture(fx);
  const red = new RedAggregator();
  for (const r of records) red.add(r);
  const ep = red.endpointStats();
  const find = (service: string, method: string, endpoint: string) => ep.find((e) => e.service === service && e.method === method && e.endpoint === endpoint);
  const orders = find('orders', 'POST', '/orders')!;
  assert.equal(orders.count, 2);
  assert.equal(orders.side, 'server');
  assert.deepEqual(orders.statuses, { 201: 2 });
  const product = find('frontend', 'GET', '/api/products/{id}')!;
  assert.equal(product.count, 2);
  assert.equal(product.errors, 1); // the 404
  assert.equal(product.errorRate, 0.5);
  // the figures are the server's own durations
  const srv = records.filter((r) => r.side === 'server' && r.endpoint === '/orders').map((r) => Number(r.durationNs) / 1e6);
  assert.ok(Math.abs(orders.maxMs - Math.max(...srv)) < 1e-6);
  assert.ok(orders.p50Ms >= Math.min(...srv) && orders.p50Ms <= Math.max(...srv));

  const topo = buildTopology(red);
  const edge = (c: string, s: string, proto: string) => topo.edges.find((e) => e.client === c && e.server === s && e.protocol === proto);
  for (const [c, s, p] of [['gateway', 'frontend', 'http1'], ['frontend', 'orders', 'http1'], ['orders', 'cart', 'http1'], ['orders', 'catalog', 'http1'],
    ['orders', 'payment', 'http1'], ['cart', 'redis', 'redis'], ['catalog', 'postgres', 'postgres'], ['orders', 'postgres', 'postgres']]) {
    const e = edge(c!, s!, p!);
    assert.ok(e && e.count > 0, `edge ${c} -> ${s} (${p})`);
    assert.equal(e.side, 'server');
  }
  assert.equal(edge('orders', 'payment', 'http1')!.count, 2);
  assert.equal(edge('curl', 'gateway', 'http1')!.count, 6);
  assert.ok(topo.nodes.every((n) => n.kind === 'service'), 'every peer is an observed process here');
  assert.match(formatEdges(topo.edges), /orders -> payment +http1 +2 /);
  const svc = red.serviceStats().find((s) => s.service === 'cart')!;
  assert.equal(svc.endpoints, 6); // POST items, GET, DELETE for 2 users: 'fix-user-1' is a name, not an id, so it stays
});
