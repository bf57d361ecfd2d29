// Replays series recorded from a real demo run (bench/rca/record.ts on `faultlens demo scenario slow-endpoint`:
// request records captured by the SockCollector -> ApmPipeline, run-queue by the SysioCollector), trimmed to
// the entities of the product path. Ground truth: catalog GET /products/:id +300 ms from truth.start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readRecording } from '../../bench/rca/series-file.js';
import { evaluateRecording } from '../../bench/rca/evaluate.js';
import { ServiceGraph } from '../../src/detect/alerts/graph.js';
import { FaultPipeline } from '../../src/rca/pipeline.js';

const file = fileURLToPath(new URL('./fixtures/demo-slow-endpoint.jsonl', import.meta.url));

test('real demo series: the slow endpoint is detected within 10 s and ranked first', () => {
  const rec = readRecording(file);
  assert.equal(rec.truth?.kind, 'slow-endpoint');
  const r = evaluateRecording(rec);
  assert.ok(r.detected);
  assert.ok(r.detectionLatencyS! <= 10, `detected after ${r.detectionLatencyS} s`);
  assert.equal(r.top[0], 'endpoint:catalog|GET /products/:id');
  assert.equal(r.ourRank, 1);
});

test('real demo series: the callers on the product path are explained by catalog (propagation)', () => {
  const rec = readRecording(file);
  const p = new FaultPipeline(new ServiceGraph(rec.edges, rec.hosts)).replay(rec.points);
  // (this recording has a short stall of the whole shop ~7 s before the injection: the catalog alert opens
  // there and carries on into the fault)
  const inc = p.incidents.find((i) => i.alerts.some((a) => a.entity === 'endpoint:catalog|GET /products/:id' && a.signal === 'latency'));
  assert.ok(inc);
  const ranked = p.rca({ ...inc, alerts: inc.alerts.filter((a) => a.raisedT >= rec.truth!.start - 10_000) });
  assert.equal(ranked.candidates[0]!.entity, 'endpoint:catalog|GET /products/:id');
  const caller = ranked.candidates.find((c) => c.entity === 'endpoint:frontend|GET /api/products/:id');
  if (caller) assert.equal(caller.origin, false, 'frontend is a propagated symptom');
  assert.ok(ranked.chains.some((c) => c.join('>') === 'gateway>frontend>catalog'));
});
