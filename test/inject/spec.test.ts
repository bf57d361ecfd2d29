// Fault specs: validation messages, scope rules and overlap detection (pure, no kernel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { faultsOverlap, parseCidr, parseFaultSpec, FaultSpecError, describeSpec } from '../../src/inject/index.js';
import { burstBytes } from '../../src/inject/spec.js';

const ok = (s: unknown) => parseFaultSpec(s);
const bad = (s: unknown, re: RegExp) => assert.throws(() => parseFaultSpec(s), (e: unknown) => e instanceof FaultSpecError && re.test((e as Error).message));

test('valid specs of every kind parse, with defaults filled in', () => {
  const loss = ok({ kind: 'loss', percent: 5, ttlSec: 10, scope: { netns: 'fl-x' } });
  assert.equal(loss.kind === 'loss' && loss.segments, true);
  const refuse = ok({ kind: 'refuse', ttlSec: 1, scope: { netns: 'fl-x', remotePort: 80 } });
  assert.equal(refuse.kind === 'refuse' && refuse.errno, 'ECONNREFUSED');
  const req = ok({ kind: 'request', method: 'GET', path: '/api/cart', ttlSec: 1, scope: { netns: 'fl-x', localPort: 8080 } });
  assert.equal(describeSpec(req), 'request GET /api/cart -> timeout [netns=fl-x lport=8080]');
  ok({ kind: 'tcp', nagle: true, ttlSec: 1, scope: { cgroup: 'system.slice/x.service' } });
  ok({ kind: 'blackhole', ttlSec: 1, scope: { ifname: ['eth9'], remoteIp: '10.0.0.0/8' } });
  const bw = ok({ kind: 'bandwidth', rate: 4_000_000, ttlSec: 1, scope: { netns: 'fl-x' } });
  assert.equal(bw.kind === 'bandwidth' && burstBytes(bw), 1_000_000); // 250 ms of rate
  const slow = ok({ kind: 'bandwidth', rate: 10_000, ttlSec: 1, scope: { netns: 'fl-x' } });
  assert.equal(slow.kind === 'bandwidth' && burstBytes(slow), 65_536); // at least 64 KiB
  assert.equal(describeSpec(bw), 'bandwidth 4000000 B/s (32.00 Mbit/s) [netns=fl-x]');
});

test('bad specs give clear errors', () => {
  bad({ kind: 'jitter', ttlSec: 1, scope: {} }, /unknown fault kind "jitter"/);
  bad({ kind: 'loss', percent: 5, ttlSec: -1, scope: { netns: 'a' } }, /ttlSec must be positive/);
  bad({ kind: 'loss', percent: 5, ttlSec: 0, scope: { netns: 'a' } }, /ttlSec must be positive/);
  bad({ kind: 'loss', percent: 5, scope: { netns: 'a' } }, /ttlSec: Required/);
  bad({ kind: 'loss', percent: 0, ttlSec: 1, scope: { netns: 'a' } }, /percent must be > 0/);
  bad({ kind: 'loss', percent: 101, ttlSec: 1, scope: { netns: 'a' } }, /percent must be <= 100/);
  bad({ kind: 'loss', percent: 5, ttlSec: 1, scope: { netns: 'a', remoteIp: '10.0.0.300' } }, /not an IP address or CIDR/);
  bad({ kind: 'loss', percent: 5, ttlSec: 1, scope: { netns: 'a', bogus: 1 } }, /Unrecognized key/);
  bad({ kind: 'tcp', ttlSec: 1, scope: { netns: 'a' } }, /needs at least one knob/);
  bad({ kind: 'tcp', rtoMinMs: 500, ttlSec: 1, scope: { netns: 'a' } }, /at most 200 ms/);
  bad({ kind: 'request', method: 'get', path: '/x', ttlSec: 1, scope: { netns: 'a' } }, /HTTP method in capitals/);
  bad({ kind: 'request', method: 'GET', path: 'x', ttlSec: 1, scope: { netns: 'a' } }, /path must start with/);
  bad({ kind: 'bandwidth', rate: 10, ttlSec: 1, scope: { netns: 'a' } }, /rate must be at least 1000/);
  bad({ kind: 'request', method: 'GET', path: '/x', action: 'explode', ttlSec: 1, scope: { netns: 'a' } }, /action/);
});

test('scope is required: no host-wide fault without allTraffic', () => {
  bad({ kind: 'refuse', ttlSec: 1, scope: {} }, /refusing a host-wide refuse fault/);
  bad({ kind: 'tcp', nagle: true, ttlSec: 1, scope: {} }, /refusing a host-wide tcp fault/);
  bad({ kind: 'blackhole', ttlSec: 1, scope: {} }, /needs interfaces/);
  bad({ kind: 'blackhole', ttlSec: 1, scope: { ifname: ['eth0'] } }, /refusing a host-wide blackhole/);
  ok({ kind: 'blackhole', ttlSec: 1, scope: { ifname: ['eth0'] }, allTraffic: true });
  ok({ kind: 'refuse', ttlSec: 1, scope: {}, allTraffic: true });
  bad({ kind: 'loss', percent: 1, ttlSec: 1, scope: { netns: 'a', pid: 5 } }, /scope.pid does not apply/);
  bad({ kind: 'refuse', ttlSec: 1, scope: { netns: 'a', ifname: ['x'] } }, /scope.ifname does not apply/);
  bad({ kind: 'refuse', ttlSec: 1, scope: { netns: 'a', localIp: '10.0.0.1', remoteIp: 'fd00::1' } }, /different address families/);
});

test('CIDRs parse to 16 address bytes and a prefix', () => {
  assert.deepEqual(parseCidr('10.1.2.3'), { family: 4, prefix: 32, bytes: Buffer.from([10, 1, 2, 3, ...Array(12).fill(0)]) });
  assert.equal(parseCidr('10.1.0.0/16')!.prefix, 16);
  assert.equal(parseCidr('fd00:f1::2')!.bytes.toString('hex'), 'fd0000f1000000000000000000000002');
  assert.equal(parseCidr('::ffff:1.2.3.4')!.bytes.toString('hex'), '00000000000000000000ffff01020304');
  assert.equal(parseCidr('::1')!.bytes.toString('hex'), '00000000000000000000000000000001');
  assert.equal(parseCidr('10.0.0.1/33'), undefined);
  assert.equal(parseCidr('nonsense'), undefined);
});

test('overlapping faults are detected; disjoint scopes and different hook kinds are not', () => {
  const f = (kind: string, scope: object, extra: object = {}) => ok({ kind, ttlSec: 1, scope, ...(kind === 'loss' ? { percent: 1 } : {}), ...extra });
  assert.equal(faultsOverlap(f('loss', { netns: 'a' }), f('blackhole', { netns: 'a', remotePort: 80 })), true);
  assert.equal(faultsOverlap(f('loss', { netns: 'a' }), f('blackhole', { netns: 'b' })), false);
  assert.equal(faultsOverlap(f('loss', { netns: 'a', remotePort: 80 }), f('loss', { netns: 'a', remotePort: 81 })), false);
  assert.equal(faultsOverlap(f('loss', { netns: 'a', direction: 'ingress' }), f('loss', { netns: 'a', direction: 'egress' })), false);
  assert.equal(faultsOverlap(f('loss', { netns: 'a', remoteIp: '10.0.0.0/8' }), f('loss', { netns: 'a', remoteIp: '10.1.2.3' })), true);
  assert.equal(faultsOverlap(f('loss', { netns: 'a', remoteIp: '10.0.0.0/16' }), f('loss', { netns: 'a', remoteIp: '10.1.2.3' })), false);
  assert.equal(faultsOverlap(f('loss', { netns: 'a' }), f('refuse', { netns: 'a' })), false);
  assert.equal(faultsOverlap(f('loss', { netns: 'a' }), f('bandwidth', { netns: 'a' }, { rate: 5000 })), false);
  assert.equal(faultsOverlap(f('refuse', { cgroup: 'x' }), f('refuse', { cgroup: 'x/y' })), true);
  assert.equal(faultsOverlap(f('refuse', { cgroup: 'x' }), f('refuse', { cgroup: 'xy' })), false);
  assert.equal(faultsOverlap(f('tcp', { netns: 'a' }, { nagle: true }), f('tcp', { netns: 'a', pid: 3 }, { cwndClamp: 4 })), true);
});
