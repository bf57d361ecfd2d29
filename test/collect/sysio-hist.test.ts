// The histogram helpers agree with the slot formula in bpf/sysio.bpf.c and give percentiles within a
// bucket's width of the true value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffHist, emptyHist, histSlot, percentile, slotRange, HIST_SLOTS } from '../../src/collect/sysio-hist.js';

/** The BPF formula, transcribed with integer ops. */
function bpfSlot(ns: bigint): number {
  if (ns < 4n) return Number(ns);
  const l = ns.toString(2).length - 1;
  return Math.min(4 * (l - 1) + Number((ns >> BigInt(l - 2)) & 3n), HIST_SLOTS - 1);
}

test('slots: formula matches the kernel side; every value falls inside its slot range; ranges tile', () => {
  for (const v of [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 1000, 4095, 4096, 123_456, 10_000_000, 2 ** 39 + 5]) {
    const s = histSlot(v);
    assert.equal(s, bpfSlot(BigInt(v)), `slot of ${v}`);
    const [lo, hi] = slotRange(s);
    assert.ok(v >= lo && v < hi, `${v} in [${lo}, ${hi})`);
  }
  for (let s = 0; s < HIST_SLOTS - 1; s++) assert.equal(slotRange(s)[1], slotRange(s + 1)[0], `slot ${s} meets ${s + 1}`);
});

test('percentiles of a known distribution are within 10 %', () => {
  const h = emptyHist();
  const values: number[] = [];
  for (let i = 1; i <= 1000; i++) values.push(50_000 + i * 200); // 50.2 µs .. 250 µs uniform
  for (const v of values) h[histSlot(v)]!++;
  for (const q of [0.5, 0.9, 0.99]) {
    const truth = values[Math.ceil(q * values.length) - 1]!;
    const p = percentile(h, q)!;
    assert.ok(Math.abs(p - truth) / truth < 0.1, `p${q * 100}: ${p} vs ${truth}`);
  }
  assert.equal(percentile(emptyHist(), 0.5), undefined);
});

test('interval diff subtracts per slot', () => {
  const a = emptyHist(); a[10] = 5; a[20] = 2;
  const b = emptyHist(); b[10] = 7; b[20] = 2; b[30] = 1;
  const d = diffHist(b, a);
  assert.equal(d[10], 2); assert.equal(d[20], 0); assert.equal(d[30], 1);
});
