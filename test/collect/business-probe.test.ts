// Business probes against the real kernel: a small C target makes a known series of calls; the generic
// uprobe program must capture every argument, struct field (also through a pointer chain), stack argument
// and return value exactly. A libc function of a stock binary works too, and bad specs fail alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BusinessCollector } from '../../src/collect/business-collector.js';
import type { BusinessEvent } from '../../src/collect/business-decoder.js';
import { BusinessProbeSchema, type BusinessProbeInput } from '../../src/collect/business-spec.js';
import { findLibrary } from '../../src/collect/business-target.js';

const ROOT = join(import.meta.dirname, '..', '..');
const skip = process.getuid?.() !== 0 ? 'needs root (BPF)' : false;
let dir = '';
let target = '';

before(() => {
  if (skip) return;
  execFileSync('make', ['-s', '-C', join(ROOT, 'bpf'), '.output/uprobe.bpf.o'], { stdio: ['ignore', 'ignore', 'inherit'] });
  dir = mkdtempSync(join(tmpdir(), 'fl-biz-'));
  target = join(dir, 'biz-target');
  execFileSync('gcc', ['-O1', '-fno-inline', '-g', '-o', target, join(import.meta.dirname, 'business-target.c')]);
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const probe = (p: BusinessProbeInput) => BusinessProbeSchema.parse(p);

/** Runs the target (it waits for a line on stdin so every probe is attached before the first call). */
async function runTarget(n: number): Promise<number> {
  const child = spawn(target, [String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stdin.end('go\n');
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  assert.equal(code, 0, `target failed: ${out}`);
  return child.pid!;
}

const settle = () => new Promise((r) => setTimeout(r, 50));

test('captures every call exactly: strings, ints, struct fields, pointer chains, stack args, return values', { skip }, async () => {
  const events: BusinessEvent[] = [];
  const c = new BusinessCollector({ onEvents: (e) => events.push(...e) }).start();
  try {
    const statuses = [
      c.addProbe(probe({
        name: 'charge', target, symbol: 'charge',
        args: [
          { name: 'user', index: 0, type: 'string', maxLen: 32 },
          { name: 'amount_cents', index: 1, type: 'long' },
          { name: 'currency', index: 2, type: 'string', maxLen: 8 },
        ],
        return: { name: 'status', type: 'int' },
      })),
      c.addProbe(probe({
        name: 'order', target, symbol: 'record_order',
        args: [
          { name: 'user', index: 0, deref: [0], type: 'string' },
          { name: 'amount', index: 0, deref: [8], type: 'i64' },
          { name: 'items', index: 0, deref: [16], type: 'i32' },
          { name: 'sku', index: 0, deref: [20], type: 'chars', size: 12 },
          { name: 'meta_version', index: 0, deref: [32, 0], type: 'i32' },
          { name: 'region', index: 0, deref: [32, 8], type: 'string' },
          { name: 'weight', index: 0, deref: [40], type: 'double' },
        ],
        return: { name: 'rc', type: 'int' },
      })),
      c.addProbe(probe({
        name: 'eight', target, symbol: 'eight',
        args: [{ name: 'a', index: 0, type: 'long' }, { name: 'f', index: 5, type: 'long' },
          { name: 'g', index: 6, type: 'long' }, { name: 'h', index: 7, type: 'long' }],
        return: { name: 'sum', type: 'long' },
      })),
      c.addProbe(probe({ name: 'maybe', target, symbol: 'maybe', args: [{ name: 'p', index: 0, type: 'string' }] })),
    ];
    for (const s of statuses) assert.ok(s.ok, s.error);
    const n = 25;
    const pid = await runTarget(n);
    await settle();
    c.poll();
    const mine = events.filter((e) => e.pid === pid);

    const charges = mine.filter((e) => e.probe === 'charge');
    assert.equal(charges.length, n, 'one event per charge() call');
    const cur = ['EUR', 'USD', 'GBP'];
    charges.forEach((e, i) => {
      const amount = 1000 * (i + 1) + i;
      assert.deepEqual(e.values, { user: `user-${i}`, amount_cents: amount, currency: cur[i % 3], status: amount > 5000 ? 1 : 0 });
      assert.equal(e.tid, pid);
      assert.equal(e.comm, 'biz-target');
      assert.ok(e.durNs !== undefined && e.durNs > 0n && e.durNs < 50_000_000n, `duration ${e.durNs}`);
      assert.ok(e.cgroupId > 0n);
    });

    const orders = mine.filter((e) => e.probe === 'order');
    assert.equal(orders.length, 1);
    assert.deepEqual(orders[0]!.values, {
      user: 'alice', amount: 4242, items: 3, sku: 'SKU-123', meta_version: 7, region: 'eu-west', weight: 2.5, rc: 30,
    });

    const eights = mine.filter((e) => e.probe === 'eight');
    assert.equal(eights.length, 1);
    assert.deepEqual(eights[0]!.values, { a: 1, f: 6, g: 70, h: 80, sum: 171 });

    const maybes = mine.filter((e) => e.probe === 'maybe');
    assert.equal(maybes.length, 2);
    assert.deepEqual(maybes[0]!.values, { p: null }, 'a NULL char * is unreadable, not garbage');
    assert.deepEqual(maybes[0]!.unreadable, ['p']);
    assert.deepEqual(maybes[1]!.values, { p: 'x' });

    const st = c.stats();
    assert.equal(st.drops, 0n);
    assert.ok(st.events >= BigInt(n + 4));
  } finally {
    c.close();
  }
});

test('bad specs fail alone with the cause named; the good probe keeps capturing; removal is clean', { skip }, async () => {
  const events: BusinessEvent[] = [];
  const c = new BusinessCollector({ onEvents: (e) => events.push(...e) }).start();
  try {
    const good = c.addProbe(probe({ name: 'good', target, symbol: 'charge', args: [{ name: 'amount', index: 1, type: 'long' }] }));
    assert.ok(good.ok, good.error);
    const noSym = c.addProbe(probe({ name: 'nosym', target, symbol: 'no_such_function' }));
    assert.equal(noSym.ok, false);
    assert.match(noSym.error!, /business probe 'nosym'.*no_such_function.*(not found|No such file)/);
    const noFile = c.addProbe(probe({ name: 'nofile', target: '/nonexistent/bin', symbol: 'charge' }));
    assert.match(noFile.error!, /business probe 'nofile': target \/nonexistent\/bin does not exist/);
    const noLib = c.addProbe(probe({ name: 'nolib', target: 'libfl-nonexistent.so.9', symbol: 'x' }));
    assert.match(noLib.error!, /library 'libfl-nonexistent.so.9' is not known/);
    const noPid = c.addProbe(probe({ name: 'nopid', pid: 4194303, symbol: 'x' }));
    assert.match(noPid.error!, /process 4194303 does not exist/);
    const xmm = c.addProbe(BusinessProbeSchema.parse({ name: 'xmm', target, symbol: 'charge', args: [{ name: 'd', index: 0, type: 'double' }] }));
    assert.match(xmm.error!, /xmm registers, which uprobes cannot read/);
    assert.throws(() => BusinessProbeSchema.parse({ name: 'badtype', target, symbol: 'charge', args: [{ name: 'x', index: 0, type: 'int128' }] }),
      /must be one of/);
    assert.deepEqual(c.probes(), ['good']);

    const pid = await runTarget(7);
    await settle();
    c.poll();
    assert.equal(events.filter((e) => e.pid === pid && e.probe === 'good').length, 7);

    assert.ok(c.removeProbe('good'));
    const pid2 = await runTarget(3);
    await settle();
    c.poll();
    assert.equal(events.filter((e) => e.pid === pid2).length, 0, 'a removed probe captures nothing');
  } finally {
    c.close();
  }
});

test('a probe by pid alone attaches to that process executable and sees only that process', { skip }, async () => {
  const events: BusinessEvent[] = [];
  const c = new BusinessCollector({ onEvents: (e) => events.push(...e) }).start();
  const mine = spawn(target, ['4'], { stdio: ['pipe', 'ignore', 'inherit'] });
  try {
    const s = c.addProbe(probe({ name: 'bypid', pid: mine.pid, symbol: 'charge', args: [{ name: 'user', index: 0, type: 'string' }] }));
    assert.ok(s.ok, s.error);
    const other = runTarget(3); // same binary, another process: not traced
    mine.stdin!.end('go\n');
    await new Promise((res) => mine.on('exit', res));
    const otherPid = await other;
    await settle();
    c.poll();
    assert.deepEqual(events.filter((e) => e.pid === mine.pid).map((e) => e.values.user), ['user-0', 'user-1', 'user-2', 'user-3']);
    assert.equal(events.filter((e) => e.pid === otherPid).length, 0);
  } finally {
    mine.kill('SIGKILL');
    c.close();
  }
});

test('sampling: 1 call in N is recorded, every call is counted in the kernel', { skip }, async () => {
  const events: BusinessEvent[] = [];
  const c = new BusinessCollector({ onEvents: (e) => events.push(...e) }).start();
  try {
    const s = c.addProbe(probe({ name: 'sampled', target, symbol: 'charge', sample: 4, args: [{ name: 'amount', index: 1, type: 'long' }],
      return: { name: 'status', type: 'int' } }));
    assert.ok(s.ok, s.error);
    const all = c.addProbe(probe({ name: 'all', target, symbol: 'charge', args: [{ name: 'amount', index: 1, type: 'long' }] }));
    assert.ok(all.ok, all.error);
    const n = 400;
    const pid = await runTarget(n);
    await settle();
    c.poll();
    const counts = c.callCounts();
    assert.deepEqual(counts.get('all'), { calls: n, recorded: n });
    assert.equal(counts.get('sampled')!.calls, n, 'every call counted');
    const sampled = events.filter((e) => e.pid === pid && e.probe === 'sampled');
    assert.equal(sampled.length, counts.get('sampled')!.recorded, 'each recorded call arrives (with its return value)');
    assert.ok(sampled.length > n / 4 * 0.5 && sampled.length < n / 4 * 1.5, `${sampled.length} of ${n} recorded at 1/4`);
    for (const e of sampled) assert.equal(typeof e.values.status, 'number');
    assert.equal(c.stats().noEntry, 0n, 'sampled-out returns are not errors');
  } finally {
    c.close();
  }
});

test('a libc function of a stock binary: getaddrinfo name from getent', { skip }, async () => {
  const libc = findLibrary('libc.so.6');
  assert.ok(libc, 'libc.so.6 in ldconfig -p');
  const events: BusinessEvent[] = [];
  const c = new BusinessCollector({ onEvents: (e) => events.push(...e) }).start();
  try {
    const s = c.addProbe(probe({ name: 'gai', target: 'libc.so.6', symbol: 'getaddrinfo',
      args: [{ name: 'node', index: 0, type: 'string', maxLen: 128 }], return: { name: 'rc', type: 'int' } }));
    assert.ok(s.ok, s.error);
    const name = `fl-test-${process.pid}.invalid`;
    const child = spawn('getent', ['ahosts', name], { stdio: 'ignore' });
    await new Promise((res) => child.on('exit', res));
    await settle();
    c.poll();
    const mine = events.filter((e) => e.pid === child.pid && e.probe === 'gai');
    assert.ok(mine.length >= 1, `getaddrinfo of getent seen (${events.length} events in all)`);
    assert.equal(mine[0]!.values.node, name);
    assert.notEqual(mine[0]!.values.rc, 0, 'an .invalid name does not resolve');
  } finally {
    c.close();
  }
});
