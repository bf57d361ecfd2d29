// The engine against the real kernel: bad specs fail before anything is attached, overlapping faults are
// refused (also across engines sharing a registry), stop from another engine reaches the owner, and after
// a normal stop nothing remains attached (bpftool link / cgroup tree, tc filter show, gso setting restored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BpfObject } from '../../src/kernel/index.js';
import { InjectEngine, INJECT_OBJECT, FaultSpecError, monotonicNs } from '../../src/inject/index.js';
import { encodeFault } from '../../src/inject/encode.js';
import { parseFaultSpec } from '../../src/inject/spec.js';
import { gsoMaxSegs } from '../../src/inject/segments.js';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { cgroupTreeProgs, injectKernelState, newInjectState, stillThere, injectSkipReason, peer, sleep, startHttpServer, tcFilters, tempRegistry, type ConnectResult, type HttpServer } from './helpers.js';

const skip = injectSkipReason();
let pair: NetnsPair;
let http: HttpServer;
const registry = skip ? '' : tempRegistry();

before(async () => {
  if (skip) return;
  pair = createNetnsPair();
  http = await startHttpServer(pair.b);
});

after(() => {
  http?.stop();
  pair?.destroy();
});

const specErr = (re: RegExp) => (e: unknown) => e instanceof FaultSpecError && re.test((e as Error).message);

test('bad specs are refused with clear errors and attach nothing', { skip }, () => {
  const engine = new InjectEngine({ registry });
  const before = injectKernelState();
  try {
    assert.throws(() => engine.inject({ kind: 'blackhole', ttlSec: 5, scope: { netns: 'fl-does-not-exist' } }), specErr(/network namespace 'fl-does-not-exist' does not exist/));
    assert.throws(() => engine.inject({ kind: 'blackhole', ttlSec: 5, scope: { netns: pair.a.name, ifname: ['eth9'] } }), specErr(/unknown interface eth9 in network namespace/));
    assert.throws(() => engine.inject({ kind: 'refuse', ttlSec: 5, scope: { cgroup: 'fl-no-such-cgroup' } }), specErr(/cgroup 'fl-no-such-cgroup' does not exist/));
    assert.throws(() => engine.inject({ kind: 'refuse', ttlSec: 5, scope: { pid: 999_999_999 } }), specErr(/process 999999999 does not exist/));
    assert.throws(() => engine.inject({ kind: 'loss', percent: 5, ttlSec: -5, scope: { netns: pair.a.name } }), specErr(/ttlSec must be positive/));
    assert.throws(() => engine.inject({ kind: 'refuse', ttlSec: 5, scope: {} }), specErr(/host-wide/));
    assert.equal(engine.size, 0);
    assert.deepEqual(newInjectState(before), { progIds: [], linkIds: [] });
  } finally {
    engine.close();
  }
});

test('overlapping faults are refused, also when another engine (process) holds the first', { skip }, () => {
  const a = new InjectEngine({ registry });
  const b = new InjectEngine({ registry });
  try {
    const f = a.inject({ kind: 'blackhole', ttlSec: 10, scope: { netns: pair.b.name, localPort: http.port } });
    assert.throws(() => a.inject({ kind: 'loss', percent: 5, ttlSec: 10, scope: { netns: pair.b.name } }), specErr(new RegExp(`overlaps fault ${f.id}`)));
    assert.throws(() => b.inject({ kind: 'blackhole', ttlSec: 10, scope: { netns: pair.b.name, localPort: http.port } }), specErr(new RegExp(`overlaps fault ${f.id}.*owner pid ${process.pid}`)));
    const other = b.inject({ kind: 'blackhole', ttlSec: 10, scope: { netns: pair.b.name, localPort: http.port + 1 === 65536 ? 1 : http.port + 1 } });
    assert.deepEqual(b.list().map((x) => [x.id, x.local]).sort(), [[f.id, false], [other.id, true]].sort());
    b.stop('all');
  } finally {
    a.close();
    b.close();
  }
});

test('stop from another engine reaches the owner (registry + SIGUSR2)', { skip }, async () => {
  const owner = new InjectEngine({ registry });
  const other = new InjectEngine({ registry });
  try {
    const f = owner.inject({ kind: 'refuse', errno: 'EPERM', ttlSec: 30, scope: { netns: pair.a.name, remotePort: http.port } });
    assert.equal((await peer<ConnectResult>(pair.a, ['connect', pair.b.ip4, String(http.port), '500'])).error, 'EPERM');
    assert.deepEqual(other.stop(f.id), [f.id]);
    for (let i = 0; i < 40 && owner.size; i++) await sleep(25);
    assert.equal(owner.size, 0, 'the owner detached it');
    assert.deepEqual(other.list(), []);
    assert.equal((await peer<ConnectResult>(pair.a, ['connect', pair.b.ip4, String(http.port), '500'])).ok, true);
    assert.throws(() => other.stop('f-000000'), specErr(/no active fault 'f-000000'/));
  } finally {
    owner.close();
    other.close();
  }
});

test('after a normal stop nothing remains attached (bpftool link/cgroup tree/net, tc filter show, gso restored)', { skip }, () => {
  const engine = new InjectEngine({ registry });
  const gsoBefore = gsoMaxSegs(pair.a.ifname, pair.a.name);
  const before = injectKernelState();
  let ours = { progIds: [] as number[], linkIds: [] as number[] };
  try {
    engine.inject({ kind: 'loss', percent: 1, ttlSec: 30, scope: { netns: pair.a.name } });
    engine.inject({ kind: 'request', method: 'GET', path: '/x', ttlSec: 30, scope: { netns: pair.b.name } });
    engine.inject({ kind: 'refuse', ttlSec: 30, scope: { netns: pair.a.name, remotePort: 9 } });
    engine.inject({ kind: 'tcp', nagle: true, cwndClamp: 4, ttlSec: 30, scope: { netns: pair.a.name } });
    ours = newInjectState(before);
    assert.equal(ours.linkIds.length, 2 + 2 + 2 + 2, `links: ${JSON.stringify(ours)}`);
    assert.equal(gsoMaxSegs(pair.a.ifname, pair.a.name), 1, 'loss caps GSO at one segment');
    const cg = cgroupTreeProgs().filter((p) => ours.progIds.includes(p.id)).map((p) => p.name);
    assert.deepEqual(cg.sort(), ['inject_connect4', 'inject_connect6', 'inject_setsockopt', 'inject_sockops']);
  } finally {
    engine.stop('all');
    engine.close();
  }
  assert.deepEqual(stillThere(ours), { progs: [], links: [], cgroup: [] });
  assert.equal(tcFilters(pair.a.name, pair.a.ifname), '');
  assert.equal(tcFilters(pair.b.name, pair.b.ifname), '');
  for (const ns of [pair.a.name, pair.b.name]) {
    assert.doesNotMatch(execFileSync('ip', ['netns', 'exec', ns, 'bpftool', 'net'], { encoding: 'utf8' }), /inject/);
  }
  assert.equal(gsoMaxSegs(pair.a.ifname, pair.a.name), gsoBefore, 'gso_max_segs restored');
});

test('the kernel enforces the deadline by itself: programs still attached after it are no-ops', { skip }, async () => {
  // no engine (whose timer would detach at the TTL): load, configure and attach by hand, keep it attached
  const obj = BpfObject.load(INJECT_OBJECT);
  try {
    const spec = parseFaultSpec({ kind: 'blackhole', ttlSec: 1, scope: { netns: pair.b.name, localPort: http.port } });
    const deadlineNs = monotonicNs() + 1_000_000_000n;
    obj.map('inject_fault').update(Buffer.alloc(4), encodeFault(obj.structLayout('inject_fault'), spec, { deadlineNs, netnsIno: 0 }));
    obj.program('inject_tc_ingress').attachTc({ ifname: pair.b.ifname, netns: pair.b.name, direction: 'ingress', mode: 'tcx' });
    const during = await peer<ConnectResult>(pair.a, ['connect', pair.b.ip4, String(http.port), '300']);
    while (monotonicNs() < deadlineNs) await sleep(20);
    const after = await peer<ConnectResult>(pair.a, ['connect', pair.b.ip4, String(http.port), '300']);
    const expired = obj.map('inject_stats').lookup(Buffer.from([2, 0, 0, 0]))!.readBigUInt64LE(0);
    assert.equal(during.error, 'TIMEOUT');
    assert.equal(after.ok, true, 'the still-attached program let traffic through after the deadline');
    assert.equal(obj.attachments().length, 1);
    assert.ok(expired > 0n, 'packets after the deadline were counted as expired no-ops');
  } finally {
    obj.close();
  }
});
