import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetectorBank, SeriesDetector, type DetectorEvent } from '../../../src/detect/anomaly/detector.js';
import { fitLine, predictCrossing } from '../../../src/detect/anomaly/trend.js';
import { entityId, parseEntity } from '../../../src/detect/anomaly/entity.js';
import { latencySeries, normal, rng } from './series-gen.js';

const starts = (evs: DetectorEvent[]) => evs.filter((e) => e.type === 'anomaly-start');

test('entity ids round-trip', () => {
  for (const e of [
    { kind: 'endpoint', service: 'catalog', endpoint: 'GET /products/:id' },
    { kind: 'edge', from: 'orders', to: 'payment' },
    { kind: 'resource', resource: 'listen-queue', service: 'payment' },
    { kind: 'host', host: 'fl-db' },
  ] as const) assert.deepEqual(parseEntity(entityId(e)), e);
  assert.throws(() => parseEntity('edge:nope'), /bad entity id/);
});

test('noisy but stable latency (20 rps, lognormal) does not alarm over 30 minutes', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const bank = new DetectorBank();
    const pts = latencySeries({ entity: 'endpoint:catalog|GET /products/:id', n: 1800, rps: 20, medMs: 4, sigma: 0.6, seed });
    const evs = bank.push(pts);
    assert.equal(starts(evs).length, 0, `seed ${seed}: ${JSON.stringify(starts(evs)[0])}`);
  }
});

test('a quiet endpoint with 2 requests a second never alarms, however wild its latency', () => {
  const r = rng(7);
  const d = new SeriesDetector('endpoint:cart|GET /health', 'latency');
  const evs: DetectorEvent[] = [];
  for (let i = 0; i < 600; i++) evs.push(...d.push({ t: i * 1000, entity: d.entity, signal: 'latency', value: i > 300 ? 500 * r() + 200 : 3 + r(), count: 2 }));
  assert.equal(starts(evs).length, 0);
  assert.equal(d.judged, 0, 'samples with too few requests are not judged');
});

test('a flat series (MAD 0) does not alarm on a change below the floors', () => {
  const d = new SeriesDetector('edge:a>b', 'latency');
  const evs: DetectorEvent[] = [];
  for (let i = 0; i < 100; i++) evs.push(...d.push({ t: i * 1000, entity: d.entity, signal: 'latency', value: i < 50 ? 3 : 3.6, count: 50 }));
  assert.equal(starts(evs).length, 0);
});

test('a +300 ms step is detected within 3 samples, with the onset at the step', () => {
  for (const seed of [11, 12, 13]) {
    const step = 120;
    const pts = latencySeries({ entity: 'endpoint:catalog|GET /products/:id', n: 200, rps: 15, medMs: 4, seed, extraMs: (i) => (i >= step ? 300 : 0) });
    const d = new SeriesDetector(pts[0]!.entity, 'latency');
    let found: DetectorEvent | undefined;
    for (const p of pts) found ??= starts(d.push(p))[0];
    assert.ok(found && found.type === 'anomaly-start', `seed ${seed}: detected`);
    const k = (found.state.detectT - pts[step]!.t) / 1000;
    assert.ok(k >= 0 && k <= 2, `seed ${seed}: detected ${k} samples after the step`);
    assert.equal(found.state.onsetT, pts[step]!.t, 'onset estimate is the step');
  }
});

test('an error-rate step alarms, and the anomaly ends after recovery', () => {
  const r = rng(5);
  const d = new SeriesDetector('endpoint:payment|POST /charge', 'errors');
  const evs: DetectorEvent[] = [];
  for (let i = 0; i < 200; i++) {
    const n = 10;
    let errs = 0;
    for (let k = 0; k < n; k++) if (r() < (i >= 100 && i < 140 ? 0.5 : 0.005)) errs++;
    evs.push(...d.push({ t: i * 1000, entity: d.entity, signal: 'errors', value: errs / n, count: n }));
  }
  const s = starts(evs);
  assert.equal(s.length, 1);
  assert.ok(s[0]!.type === 'anomaly-start' && s[0].state.detectT <= 103_000);
  const end = evs.find((e) => e.type === 'anomaly-end');
  assert.ok(end && end.type === 'anomaly-end' && end.state.endT! >= 135_000 && end.state.endT! < 150_000);
});

test('CUSUM catches a sustained shift too small for the z rule in one sample', () => {
  const r = rng(9);
  const d = new SeriesDetector('resource:disk@postgres', 'io_latency');
  const evs: DetectorEvent[] = [];
  // baseline 2 ms +- 0.5, then +2.7 ms (about 3.6 sigma of the floor-limited scale: below the z threshold of 4)
  for (let i = 0; i < 200; i++) evs.push(...d.push({ t: i * 1000, entity: d.entity, signal: 'io_latency', value: 2 + 0.5 * normal(r) + (i >= 100 ? 5.5 : 0) }));
  const s = starts(evs);
  assert.equal(s.length, 1);
  assert.ok(s[0]!.type === 'anomaly-start' && s[0].state.onsetT >= 100_000 && s[0].state.detectT <= 115_000);
});

test('a linear ramp towards a limit gives an early warning with the predicted time', () => {
  const pts = Array.from({ length: 20 }, (_, i) => ({ t: i * 1000, v: 0.1 + 0.04 * i }));
  const w = predictCrossing(pts, 1, 'up', 120_000);
  assert.ok(w);
  assert.ok(Math.abs(w.predictedCrossT - 22_500) < 300, `predicted ${w.predictedCrossT}`);
  const flat = Array.from({ length: 20 }, (_, i) => ({ t: i * 1000, v: 0.3 + 0.01 * Math.sin(i * 7) }));
  assert.equal(predictCrossing(flat, 1, 'up', 120_000), undefined);
  assert.ok(fitLine(pts)!.r2 > 0.99);
  const d = new SeriesDetector('resource:listen-queue@payment', 'listen_queue');
  const trend = [];
  for (let i = 0; i < 30; i++) trend.push(...d.push({ t: i * 1000, entity: d.entity, signal: 'listen_queue', value: i < 10 ? 0 : Math.min(1, (i - 10) * 0.05) }));
  const first = trend.find((e) => e.type === 'trend');
  assert.ok(first && first.type === 'trend', 'a warning while the queue fills');
  assert.ok(first.t < 30_000 && first.warning.predictedCrossT > first.t, 'before the queue is full');
  assert.ok(first.t <= 15_000, `warned at ${first.t}, 5 s into a 20 s fill`);
  // once the fit window lies on the ramp, the predicted time is the true crossing (30 s)
  const onRamp = trend.filter((e) => e.type === 'trend' && e.t >= 20_000);
  assert.ok(onRamp.length >= 5);
  for (const e of onRamp) assert.ok(e.type === 'trend' && Math.abs(e.warning.predictedCrossT - 30_000) < 1500, `predicted ${JSON.stringify(e)}`);
});

test('a series that reports only while active (IO latency) is judged after 3 samples, on its floors', () => {
  const d = new SeriesDetector('resource:disk@db', 'io_latency');
  const t0 = 1_700_000_000_000;
  const evs: DetectorEvent[] = [];
  // a handful of sub-ms IOs spread over minutes, then a neighbour makes every IO slow
  [0.5, 0.6, 0.12, 0.8].forEach((v, i) => evs.push(...d.push({ t: t0 + i * 20_000, entity: d.entity, signal: 'io_latency', value: v, count: 2 })));
  assert.equal(starts(evs).length, 0);
  [3.0, 4.1].forEach((v, i) => evs.push(...d.push({ t: t0 + 100_000 + i * 1000, entity: d.entity, signal: 'io_latency', value: v, count: 50 })));
  assert.equal(starts(evs).length, 0, 'below the +5 ms floor: not an anomaly');
  [27, 28].forEach((v, i) => evs.push(...d.push({ t: t0 + 110_000 + i * 1000, entity: d.entity, signal: 'io_latency', value: v, count: 400 })));
  assert.equal(starts(evs).length, 1, 'IO latency 0.5 -> 27 ms is');
});
