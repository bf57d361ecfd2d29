// The window latency estimator the RED series use (live, bench, store path): no single second and no two
// requests decide the figure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { windowLatency } from '../../src/rca/red-series.js';

const sec = (...ms: number[]) => ms;

test('one slow request in a sparse window does not move the figure (a plain p90 would be its maximum)', () => {
  const w = [sec(5, 6), sec(5), sec(900, 6), sec(5, 7), sec(6)];
  assert.ok(windowLatency(w)! <= 7, String(windowLatency(w)));
});

test('a one-second stall slowing every request of that second (plus a GC-slow request nearby) does not either', () => {
  const w = [sec(5, 6, 5), sec(200, 210, 205, 220), sec(5, 800), sec(6, 5), sec(5, 6)];
  assert.ok(windowLatency(w)! <= 7, String(windowLatency(w)));
});

test('a persistent shift shows once three slow requests lie outside any single second', () => {
  assert.ok(windowLatency([sec(5, 6), sec(5, 6), sec(6, 5), sec(305, 306, 301), sec(310, 300, 302)])! >= 300);
  assert.ok(windowLatency([sec(5, 6), sec(5, 6), sec(305, 306), sec(310, 300), sec(320, 330)])! >= 300);
  assert.ok(windowLatency([sec(5, 6), sec(5, 6), sec(6, 5), sec(305, 306), sec(310, 300)])! < 300, 'two seconds of two: not yet');
  assert.ok(windowLatency([sec(305, 306, 300), sec(310, 300), sec(320), sec(305, 306), sec(310, 300)])! >= 300);
});

test('too little evidence gives no figure: one second holding (nearly) every request', () => {
  assert.equal(windowLatency([sec(5, 6, 7, 8, 9)]), undefined);
  assert.equal(windowLatency([sec(5, 6, 7, 8, 9), sec(5)]), undefined);
  assert.equal(windowLatency([]), undefined);
});

test('errors are failures of the server (5xx, protocol errors), not refusals of the request (4xx)', async () => {
  const { isFailure } = await import('../../src/rca/red-series.js');
  assert.equal(isFailure({ error: true, httpStatus: 502 }), true);
  assert.equal(isFailure({ error: true, httpStatus: 402 }), false, 'a declined payment is a business outcome');
  assert.equal(isFailure({ error: true, httpStatus: 404 }), false);
  assert.equal(isFailure({ error: true }), true, 'a redis/postgres error reply or a reset');
  assert.equal(isFailure({ error: false, httpStatus: 200 }), false);
});
