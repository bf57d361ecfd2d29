// Pure parts of the demo: load profiles, per-route summaries, the hosts file and the scenario registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rateAt, summarize, parseProfile, type LoadRecord } from '../../demo/load.js';
import { hostsFile } from '../../demo/netns.js';
import { HOSTS, SERVICES, vethName } from '../../demo/topology.js';
import { SCENARIOS, scenarioByName } from '../../demo/scenarios/registry.js';

test('load profiles: steady is flat, diurnal swings 0.2..1.0 x rps, bursty spikes 3x for 3 s of every 15', () => {
  assert.equal(rateAt('steady', 20, 0), 20);
  assert.equal(rateAt('steady', 20, 77), 20);
  const diurnal = Array.from({ length: 120 }, (_, t) => rateAt('diurnal', 10, t));
  assert.ok(Math.max(...diurnal) <= 10 + 1e-9 && Math.max(...diurnal) > 9.9);
  assert.ok(Math.min(...diurnal) >= 2 - 1e-9 && Math.min(...diurnal) < 2.1);
  assert.equal(rateAt('bursty', 10, 1), 30);
  assert.equal(rateAt('bursty', 10, 5), 6);
  assert.equal(rateAt('bursty', 10, 16), 30);
  assert.throws(() => parseProfile('spiky'), /unknown load profile 'spiky'/);
});

test('summarize computes per-route percentiles and counts 5xx and transport errors only', () => {
  const rec = (route: string, ms: number, status: number): LoadRecord => ({ t: 0, route, method: 'GET', path: '/', status, ms });
  const rs = [
    ...Array.from({ length: 100 }, (_, i) => rec('product', i + 1, 200)),
    rec('order', 10, 201), rec('order', 20, 402), rec('order', 30, 502), rec('order', 40, 0),
  ];
  const s = summarize(rs);
  assert.equal(s.product!.count, 100);
  assert.equal(s.product!.p50, 51);
  assert.equal(s.product!.p90, 91);
  assert.equal(s.product!.p99, 100);
  assert.equal(s.product!.errors, 0);
  assert.equal(s.order!.errors, 2, '402 is a business answer, 502 and no-response are errors');
  assert.equal(s.order!.mean, 25);
});

test('hosts file names every host and alias; veth names fit IFNAMSIZ', () => {
  const text = hostsFile();
  for (const h of HOSTS) {
    assert.match(text, new RegExp(`^${h.ip.replace(/\./g, '\\.')}\\t${h.ns} `, 'm'));
    for (const a of h.aliases) assert.match(text, new RegExp(`\\s${a}(\\s|$)`, 'm'));
    assert.ok(vethName(h.ns).length <= 15);
  }
  for (const s of SERVICES) assert.ok(HOSTS.some((h) => h.ns === s.ns), `${s.name} runs on a known host`);
});

test('the scenario registry covers the issue\'s list, each with a description and a ground-truth target', () => {
  // the list, plus the request-level timeout of one interface (through the eBPF injection engine)
  const wanted = ['packet-loss', 'blackhole', 'request-fault', 'slow-endpoint', 'nagle-delayed-ack', 'ineffective-rcvbuf', 'listen-queue-overflow', 'cpu-saturation', 'io-neighbour', 'redis-down', 'payment-errors'];
  assert.deepEqual(SCENARIOS.map((s) => s.name).sort(), [...wanted].sort());
  for (const s of SCENARIOS) {
    assert.ok(s.description.length > 20, `${s.name} has a description`);
    assert.ok(SERVICES.some((x) => x.name === s.target.service), `${s.name} targets a demo service`);
  }
  // eBPF scenarios say why they cannot run (not root, object not built) instead of failing half-way
  const why = scenarioByName('packet-loss').unavailable?.();
  if (process.geteuid?.() === 0) assert.equal(why, undefined);
  else assert.match(why ?? '', /needs root/);
  assert.equal(scenarioByName('slow-endpoint').unavailable?.(), undefined);
  assert.throws(() => scenarioByName('nope'), /unknown scenario 'nope'/);
});
