import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultPipeline } from '../../../src/rca/pipeline.js';
import { incidentReport, formatReport } from '../../../src/detect/alerts/report.js';
import { incidentSeries, shopGraph, T0 } from '../../rca/synthetic.js';

test('three symptoms of one slow endpoint (callee, edge, caller) are one incident, raised within seconds', () => {
  const pts = incidentSeries({ latencyMs: { 'endpoint:catalog|GET /products/:id': 300, 'edge:frontend>catalog': 300, 'endpoint:frontend|GET /api/products/:id': 300 } }, { seed: 3 });
  const p = new FaultPipeline(shopGraph()).replay(pts);
  const during = p.raised.filter((a) => a.onsetT >= T0 + 150_000);
  assert.deepEqual(new Set(during.map((a) => a.entity)), new Set(['endpoint:catalog|GET /products/:id', 'edge:frontend>catalog', 'endpoint:frontend|GET /api/products/:id']));
  assert.equal(p.raised.length, during.length, `no alarm outside the fault: ${p.raised.filter((a) => !during.includes(a)).map((a) => a.title)}`);
  assert.equal(p.incidents.length, 1);
  const inc = p.incidents[0]!;
  assert.equal(inc.alerts.length, 3);
  assert.ok(inc.raisedT - (T0 + 150_000) <= 3000, 'in-progress within 3 s of onset');
  assert.ok(inc.endT !== undefined && inc.endT >= T0 + 195_000 && inc.endT < T0 + 210_000, 'ends when the fault ends');
  const rep = incidentReport(inc, p.graph);
  assert.equal(rep.symptoms, 3);
  assert.equal(rep.timeline.filter((e) => e.what.startsWith('onset')).length, 3);
  assert.ok(rep.durationS! >= 45 && rep.durationS! <= 60);
  assert.match(formatReport(rep), /catalog GET \/products\/:id: latency up/);
});

test('two simultaneous faults in unconnected parts of the graph stay two incidents', () => {
  const pts = incidentSeries({ latencyMs: { 'endpoint:postgres|SELECT products': 200, 'edge:catalog>postgres': 200 }, errors: { 'edge:cart>redis': 0.9 } }, { seed: 4 });
  // catalog-postgres and cart-redis share no service and no edge
  const p = new FaultPipeline(shopGraph()).replay(pts);
  assert.equal(p.incidents.length, 2, p.incidents.map((i) => i.services.join(',')).join(' | '));
  const svc = p.incidents.map((i) => i.services.sort().join(',')).sort();
  assert.deepEqual(svc, ['cart,redis', 'catalog,postgres']);
});

test('an alert that bridges two incidents merges them', () => {
  const pts = incidentSeries({ latencyMs: { 'edge:catalog>postgres': 200 }, errors: { 'edge:cart>redis': 0.9, 'endpoint:frontend|GET /api/cart/:user': 0.9 } }, { seed: 6 });
  const p = new FaultPipeline(shopGraph()).replay(pts);
  // frontend is adjacent to cart (and catalog): all in one
  assert.equal(p.incidents.length, 1);
});
