// The rollup's histogram text ("bucket:count,…") round-trips, and damaged text adds nothing it cannot read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram } from '../../src/correlate/red.js';
import { encodeHist, mergeHistText } from '../../src/store/rollup.js';

test('encodeHist -> mergeHistText gives back every bucket count', () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 5000; i++) h.add(Math.exp(Math.random() * 14)); // 1 µs .. 1.2 s
  const back = new LatencyHistogram();
  mergeHistText(back, encodeHist(h));
  mergeHistText(back, encodeHist(h)); // merging adds
  assert.deepEqual([...back.counts], [...h.counts].map((n) => n * 2));
});

test('damaged parts are skipped, the rest is read', () => {
  const h = new LatencyHistogram();
  mergeHistText(h, '3:5,x:1,10:2,:4,6:,7:-1,8:2:1,99999:3,12:1');
  const got = Object.fromEntries([...h.counts.entries()].filter(([, n]) => n > 0));
  assert.deepEqual(got, { 3: 5, 10: 2, 12: 1 });
  mergeHistText(h, '');
  assert.equal(h.counts.reduce((a, b) => a + b, 0), 8);
});
