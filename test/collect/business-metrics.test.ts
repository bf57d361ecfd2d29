// Business metrics from events: counts, sums and histograms per label set, as the spec declares them;
// spec validation names the probe and the problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BusinessMetrics } from '../../src/collect/business-metrics.js';
import type { BusinessEvent } from '../../src/collect/business-decoder.js';
import { BusinessProbeSchema, compileProbe, parseBusinessProbes } from '../../src/collect/business-spec.js';

const spec = BusinessProbeSchema.parse({
  name: 'charge', target: '/bin/true', symbol: 'charge',
  args: [{ name: 'user', index: 0, type: 'string' }, { name: 'amount', index: 1, type: 'long' }, { name: 'currency', index: 2, type: 'string' }],
  return: { name: 'status', type: 'int' },
  metrics: [
    { name: 'calls', kind: 'count', labels: ['status'] },
    { name: 'amount', kind: 'sum', value: 'amount', labels: ['currency'] },
    { name: 'latency', kind: 'histogram', value: 'duration' },
  ],
});

const ev = (user: string, amount: number | null, currency: string, status: number, durNs: bigint): BusinessEvent => ({
  probe: 'charge', tsNs: 1n, durNs, pid: 1, tid: 1, comm: 'payment', cgroupId: 1n, values: { user, amount, currency, status },
});

test('count / sum / histogram per label set', () => {
  const m = new BusinessMetrics([spec]);
  m.add([ev('a', 100, 'EUR', 0, 1000n), ev('b', 250, 'EUR', 0, 3000n), ev('c', 7, 'USD', 1, 2000n), ev('d', null, 'USD', 2, 100_000n)]);
  const s = m.snapshot();
  const find = (metric: string, labels: Record<string, string>) => s.find((x) => x.metric === metric && JSON.stringify(x.labels) === JSON.stringify(labels));
  assert.equal(find('calls', { status: '0' })?.count, 2);
  assert.equal(find('calls', { status: '1' })?.count, 1);
  assert.equal(find('calls', { status: '2' })?.count, 1);
  assert.equal(find('amount', { currency: 'EUR' })?.sum, 350);
  assert.equal(find('amount', { currency: 'USD' })?.sum, 7, 'an unreadable amount is skipped, not counted as 0');
  assert.equal(m.skipped, 1);
  const lat = find('latency', {})!;
  assert.equal(lat.count, 4);
  assert.equal(lat.max, 100_000);
  assert.ok(lat.p50! >= 1000 && lat.p50! <= 3500, `p50 ${lat.p50}`);
  assert.ok(lat.p99! > 80_000, `p99 ${lat.p99}`);
});

test('a sampled probe: each event stands for N calls in counts, sums and histograms', () => {
  const sampled = BusinessProbeSchema.parse({ ...spec, sample: 4 });
  const m = new BusinessMetrics([sampled]);
  m.add([ev('a', 100, 'EUR', 0, 1000n), ev('b', 50, 'EUR', 0, 1000n)]);
  const s = m.snapshot();
  assert.equal(s.find((x) => x.metric === 'calls')?.count, 8);
  assert.equal(s.find((x) => x.metric === 'amount')?.sum, 600);
  assert.equal(s.find((x) => x.metric === 'latency')?.count, 8);
});

test('spec validation: each bad probe is named with its problem, good ones pass', () => {
  const { probes, errors } = parseBusinessProbes([
    { name: 'ok', target: '/bin/true', symbol: 'main' },
    { name: 'nosym', target: '/bin/true' },
    { name: 'badtype', target: '/bin/true', symbol: 'x', args: [{ name: 'a', index: 0, type: 'int128' }] },
    { name: 'both', target: '/bin/true', symbol: 'x', args: [{ name: 'a', index: 0, stack: 8, type: 'int' }] },
    { name: 'nosize', target: '/bin/true', symbol: 'x', args: [{ name: 'a', index: 0, deref: [0], type: 'bytes' }] },
    { name: 'toobig', target: '/bin/true', symbol: 'x', args: [0, 1, 2, 3].map((i) => ({ name: `s${i}`, index: i, type: 'string', maxLen: 200 })) },
    { name: 'badmetric', target: '/bin/true', symbol: 'x', metrics: [{ name: 'm', kind: 'sum', value: 'nope' }] },
    { name: 'nodur', target: '/bin/true', symbol: 'x', metrics: [{ name: 'm', kind: 'histogram', value: 'duration' }] },
    { name: 'ok', target: '/bin/true', symbol: 'main' },
    { target: '/bin/true', symbol: 'x', extra: 1 },
  ]);
  assert.deepEqual(probes.map((p) => p.name), ['ok']);
  const msg = errors.map((e) => e.message);
  assert.match(msg[0]!, /'nosym': needs a symbol or an offset/);
  assert.match(msg[1]!, /'badtype': args\.0\.type: must be one of/);
  assert.match(msg[2]!, /'both': argument 'a': give exactly one of index .* or stack/);
  assert.match(msg[3]!, /'nosize': argument 'a': type bytes needs a size/);
  assert.match(msg[4]!, /'toobig': captures 800 bytes per call; at most 512/);
  assert.match(msg[5]!, /'badmetric': metric 'm': value 'nope' is not a captured value/);
  assert.match(msg[6]!, /'nodur': metric 'm': value 'duration' needs a return spec/);
  assert.match(msg[7]!, /'ok': duplicate probe name/);
  assert.match(msg[8]!, /'#10': .*(name|unknown setting)/);
});

test('layout: values are 8-byte aligned in the record, stack positions follow the ABI', () => {
  const c = compileProbe(BusinessProbeSchema.parse({
    name: 'p', target: '/bin/true', symbol: 'x',
    args: [{ name: 'a', index: 0, type: 'i8' }, { name: 's', index: 1, type: 'string', maxLen: 13 }, { name: 'g', index: 6, type: 'long' },
      { name: 'd', stack: 16, type: 'double' }],
    return: { name: 'r', type: 'pointer' },
  }));
  assert.deepEqual(c.args.map((a) => [a.outOff, a.outLen]), [[0, 8], [8, 16], [24, 8], [32, 8]]);
  assert.deepEqual(c.args.map((a) => [a.src, a.regOrOff]), [[0, 0], [0, 1], [1, 8], [1, 16]]);
  assert.equal(c.ret!.outOff, 40);
  assert.equal(c.dataLen, 48);
  assert.equal(c.flags, 1);
});
