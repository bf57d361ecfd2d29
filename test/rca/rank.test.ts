import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultPipeline } from '../../src/rca/pipeline.js';
import { baroRank } from '../../src/rca/baseline.js';
import { incidentSeries, shopGraph, T0 } from './synthetic.js';

const only = (p: FaultPipeline) => {
  assert.equal(p.incidents.length, 1, p.incidents.map((i) => i.alerts.map((a) => a.entity).join(',')).join(' | '));
  return p.rca(p.incidents[0]!);
};

test('a leaf fault propagating up the call chain ranks the callee, not its callers', () => {
  for (const seed of [1, 2, 3]) {
    const add = 300;
    const pts = incidentSeries({ latencyMs: {
      'endpoint:catalog|GET /products/:id': add, 'edge:frontend>catalog': add, 'endpoint:frontend|GET /api/products/:id': add,
      'edge:gateway>frontend': add, 'endpoint:gateway|GET /api/products/:id': add,
    } }, { seed });
    const r = only(new FaultPipeline(shopGraph()).replay(pts));
    assert.equal(r.candidates[0]!.entity, 'endpoint:catalog|GET /products/:id', `seed ${seed}: ${r.candidates.map((c) => `${c.entity}=${c.score}`).join(' ')}`);
    const gw = r.candidates.find((c) => c.entity === 'endpoint:gateway|GET /api/products/:id')!;
    assert.equal(gw.origin, false);
    assert.ok(gw.explainedBy.includes('endpoint:catalog|GET /products/:id'));
    assert.deepEqual(r.chains, [['gateway', 'frontend', 'catalog'], ['gateway', 'frontend', 'orders', 'catalog']]);
    assert.ok(r.confidence > 0.5);
  }
});

test('packet loss on an edge: retransmits and a callee that is fast on its own side rank the edge first', () => {
  for (const seed of [1, 2, 3]) {
    const add = 220; // one RTO per lost segment
    const pts = incidentSeries({
      latencyMs: { 'edge:orders>payment': add, 'endpoint:orders|POST /orders': add, 'edge:frontend>orders': add, 'endpoint:frontend|POST /api/orders': add, 'endpoint:gateway|POST /api/orders': add },
      extra: (i, on) => [{ t: 0, entity: 'edge:orders>payment', signal: 'retransmits', value: on ? 4 + (i % 3) : i % 17 === 0 ? 1 : 0 }],
    }, { seed });
    const r = only(new FaultPipeline(shopGraph()).replay(pts));
    assert.equal(r.candidates[0]!.entity, 'edge:orders>payment', `seed ${seed}: ${r.candidates.map((c) => `${c.entity}=${c.score}`).join(' ')}`);
    assert.ok(r.candidates[0]!.evidence.some((e) => /retransmits/.test(e)));
    assert.ok(!r.candidates.some((c) => c.entity.startsWith('host:')), 'one caller\'s edge: no host is blamed');
    // the BARO-style baseline (largest latency z) is fooled by the caller with the biggest relative jump or not: just computed side by side
    assert.ok(baroRank(pts, T0 + 150_000).length > 5);
  }
});

test('two simultaneous faults in one incident: both roots take the first two places', () => {
  const pts = incidentSeries({
    latencyMs: { 'endpoint:catalog|GET /products/:id': 300, 'edge:frontend>catalog': 300, 'endpoint:frontend|GET /api/products/:id': 300, 'endpoint:gateway|GET /api/products/:id': 300 },
    errors: { 'edge:cart>redis': 0.95, 'endpoint:cart|GET /cart/:user': 0.95, 'edge:frontend>cart': 0.95, 'endpoint:frontend|GET /api/cart/:user': 0.95 },
  }, { seed: 8 });
  const r = only(new FaultPipeline(shopGraph()).replay(pts));
  const top2 = new Set(r.candidates.slice(0, 2).map((c) => c.entity));
  assert.deepEqual(top2, new Set(['endpoint:catalog|GET /products/:id', 'edge:cart>redis']), r.candidates.map((c) => `${c.entity}=${c.score}`).join(' '));
});

test('CPU saturation evidence on a service ranks its resource above its slow endpoints', () => {
  const pts = incidentSeries({
    latencyMs: { 'endpoint:catalog|GET /products/:id': 80, 'endpoint:catalog|GET /products': 80, 'edge:frontend>catalog': 80, 'endpoint:frontend|GET /api/products/:id': 80 },
    extra: (i, on) => [{ t: 0, entity: 'resource:cpu@catalog', signal: 'runq', value: on ? 600 + (i % 7) * 20 : 5 + (i % 5) }],
  }, { seed: 5 });
  const r = only(new FaultPipeline(shopGraph()).replay(pts));
  assert.equal(r.candidates[0]!.entity, 'resource:cpu@catalog', r.candidates.map((c) => `${c.entity}=${c.score}`).join(' '));
});

test('a diagnoser finding on an edge adds to it', () => {
  const pts = incidentSeries({ latencyMs: { 'edge:frontend>cart': 40, 'endpoint:frontend|GET /api/cart/:user': 40, 'endpoint:cart|GET /cart/:user': 40 } }, { seed: 9 });
  const p = new FaultPipeline(shopGraph()).replay(pts);
  const r = p.rca(p.incidents[0]!, [{ entity: 'endpoint:cart|GET /cart/:user', kind: 'tcp.nagle-delayed-ack', title: 'small writes wait for the delayed ACK' }]);
  assert.equal(r.candidates[0]!.entity, 'endpoint:cart|GET /cart/:user');
  assert.ok(r.candidates[0]!.evidence.some((e) => e.includes('tcp.nagle-delayed-ack')));
});

test('a fault-free noisy system raises no incident: GC-slow single requests and one-second machine-wide stalls are not faults', () => {
  for (const seed of [11, 12, 13, 14]) {
    const pts = incidentSeries({}, { seed, n: 600, noise: { gcEvery: 300, stallEvery: 47, stallMs: 150 } });
    const p = new FaultPipeline(shopGraph()).replay(pts);
    assert.deepEqual(p.incidents.map((i) => i.alerts.map((a) => a.title).join(', ')), [], `seed ${seed}`);
  }
});

test('the same noise does not hide a real fault: a slow leaf under GC pauses and stalls is still found and ranked first', () => {
  const add = 120;
  const pts = incidentSeries({ latencyMs: {
    'endpoint:catalog|GET /products': add, 'edge:frontend>catalog': add, 'endpoint:frontend|GET /api/products/:id': add,
    'edge:gateway>frontend': add, 'endpoint:gateway|GET /api/products/:id': add,
  } }, { seed: 21, noise: { gcEvery: 300, stallEvery: 47, stallMs: 150 } });
  const p = new FaultPipeline(shopGraph()).replay(pts);
  const inc = only(p);
  assert.equal(inc.candidates[0]!.entity, 'endpoint:catalog|GET /products', inc.candidates.map((c) => `${c.entity}=${c.score}`).join(' '));
  const first = Math.min(...p.incidents[0]!.alerts.map((a) => a.raisedT));
  assert.ok(first - (T0 + 150_000) <= 5000, `detected ${(first - T0 - 150_000) / 1000} s after the onset`);
});

test('a host whose network path fails: retransmits on the edges of two callers into it rank the host first', () => {
  for (const seed of [1, 2]) {
    const add = 400; // SYN / data retransmission timeouts
    const pts = incidentSeries({
      latencyMs: { 'edge:frontend>catalog': add, 'endpoint:frontend|GET /api/products/:id': add, 'endpoint:gateway|GET /api/products/:id': add, 'edge:gateway>frontend': add },
      errors: { 'edge:frontend>catalog': 0.5, 'endpoint:frontend|GET /api/products/:id': 0.5, 'endpoint:gateway|GET /api/products/:id': 0.5 },
      extra: (i, on) => [
        { t: 0, entity: 'edge:frontend>catalog', signal: 'retransmits', value: on ? 20 + (i % 5) : 0 },
        { t: 0, entity: 'edge:orders>catalog', signal: 'retransmits', value: on ? 8 + (i % 3) : 0 },
      ],
    }, { seed });
    const r = only(new FaultPipeline(shopGraph()).replay(pts));
    assert.equal(r.candidates[0]!.entity, 'host:fl-cat', `seed ${seed}: ${r.candidates.map((c) => `${c.entity}=${c.score}`).join(' ')}`);
    assert.deepEqual(new Set(r.candidates[0]!.explains), new Set(['edge:frontend>catalog', 'edge:orders>catalog']));
  }
});
