// Map element operations and iteration (batched for hash/array maps) against real kernel maps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, possibleCpus, u32 as U32, u64 as U64 } from '../../src/kernel/index.js';
import { FIXTURE, skipUnlessRoot, u32 } from './helpers.js';

const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };

test('hash map: update/lookup/delete with flags, and batch iteration of 3000 entries', { skip: skipUnlessRoot }, () => {
  const obj = BpfObject.load(FIXTURE);
  try {
    const m = obj.map('table');
    assert.deepEqual([m.keySize, m.valueSize, m.maxEntries, m.type], [4, 8, 4096, 1]);
    assert.equal(m.lookup(u32(7)), undefined);
    m.update(u32(7), u64(70n), 'noexist');
    assert.equal(m.lookup(u32(7))!.readBigUInt64LE(0), 70n);
    assert.throws(() => m.update(u32(7), u64(1n), 'noexist'), (e: Error & { code?: string }) =>
      e.code === 'EEXIST' && /map 'table'.*exists/.test(e.message));
    assert.throws(() => m.update(u32(8), u64(1n), 'exist'), (e: Error & { code?: string }) => e.code === 'ENOENT');
    m.update(u32(7), u64(71n), 'exist');
    assert.equal(m.delete(u32(7)), true);
    assert.equal(m.delete(u32(7)), false);
    assert.throws(() => m.lookup(Buffer.alloc(2)), /key must be a 4-byte Buffer/);
    assert.throws(() => m.update(u32(1), Buffer.alloc(4)), /value is 4 bytes, expected 8/);

    const N = 3000;
    for (let i = 0; i < N; i++) m.update(u32(i), u64(BigInt(i) * 3n));
    const seen = new Map<number, bigint>();
    for (const [k, v] of m.entries()) seen.set(k.readUInt32LE(0), v.readBigUInt64LE(0));
    assert.equal(m.usesBatch, true);
    assert.equal(seen.size, N);
    for (let i = 0; i < N; i++) assert.equal(seen.get(i), BigInt(i) * 3n);
    assert.equal([...m.keys()].length, N);
    // the get_next_key fallback (kernels or map types without batch ops) sees the same entries
    const slow = new Map<number, bigint>();
    for (const [k, v] of m.entries({ batch: false })) slow.set(k.readUInt32LE(0), v.readBigUInt64LE(0));
    assert.deepEqual(slow, seen);
  } finally {
    obj.close();
  }
});

test('array and per-CPU array maps: every index iterates; per-CPU values span all CPUs', { skip: skipUnlessRoot }, () => {
  const obj = BpfObject.load(FIXTURE);
  try {
    const counts = obj.map('counts');
    counts.update(u32(5), u64(55n));
    const all = [...counts.entries()].map(([k, v]) => [k.readUInt32LE(0), v.readBigUInt64LE(0)]);
    assert.equal(all.length, 9); // CNT__MAX (kernel_fixture.h)
    assert.deepEqual(all[5], [5, 55n]);
    assert.throws(() => counts.delete(u32(0)), (e: Error & { code?: string }) => e.code === 'EINVAL' && /map 'counts'/.test(e.message));
  } finally {
    obj.close();
  }
  const obj2 = BpfObject.load(FIXTURE);
  try {
    const pc = obj2.map('percpu_writes');
    assert.equal(pc.perCpu, true);
    assert.equal(pc.valueBufferSize, possibleCpus() * 8);
    const v = Buffer.alloc(pc.valueBufferSize);
    for (let c = 0; c < possibleCpus(); c++) v.writeBigUInt64LE(BigInt(c + 1), c * 8);
    pc.update(u32(0), v);
    assert.equal(pc.sumPerCpuU64(pc.lookup(u32(0))!), BigInt((possibleCpus() * (possibleCpus() + 1)) / 2));
    const entries = [...pc.entries()];
    assert.equal(entries.length, 1);
    assert.equal(entries[0][1].length, pc.valueBufferSize);
  } finally {
    obj2.close();
  }
});

test('typed maps encode/decode keys and values and check codec sizes', { skip: skipUnlessRoot }, () => {
  const obj = BpfObject.load(FIXTURE);
  try {
    const t = obj.map('table').typed(U32, U64);
    t.set(1, 10n);
    t.set(2, 20n, 'noexist');
    assert.equal(t.get(1), 10n);
    assert.equal(t.get(3), undefined);
    assert.deepEqual(new Map(t.entries()), new Map([[1, 10n], [2, 20n]]));
    assert.equal(t.delete(1), true);
    assert.throws(() => obj.map('table').typed(U64, U64), /key codec is 8 bytes, map keys are 4/);
    if (possibleCpus() > 1) assert.throws(() => obj.map('percpu_writes').typed(U32, U64), /value codec is 8 bytes, map values are \d+/);
  } finally {
    obj.close();
  }
});
