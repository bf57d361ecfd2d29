// Tracepoint, raw tracepoint and BTF-typed raw tracepoint (tp_btf) programs count this process's own syscalls exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync, writeSync } from 'node:fs';
import { BpfObject } from '../../src/kernel/index.js';
import { FIXTURE, fixtureKernelState, settledKernelState, kernelBaseline, ownBpfFds, skipUnlessRoot, u32 } from './helpers.js';

function config(obj: BpfObject, fd: number, emit = 0): void {
  const c = Buffer.alloc(obj.structLayout('fixture_config').size);
  c.writeUInt32LE(process.pid, 0);
  c.writeUInt32LE(fd, 4);
  c.writeUInt32LE(emit, 8);
  obj.map('fixture_config').update(u32(0), c);
}

const count = (obj: BpfObject, idx: number) => obj.map('counts').lookup(u32(idx))!.readBigUInt64LE(0);

test('tracepoint + raw tracepoint + tp_btf count exactly our writes; close() leaves nothing behind', { skip: skipUnlessRoot }, () => {
  const before = kernelBaseline();
  const obj = BpfObject.load(FIXTURE);
  const fd = openSync('/dev/null', 'w');
  try {
    config(obj, fd);
    const tp = obj.program('count_write').attachTracepoint('syscalls', 'sys_enter_write');
    const raw = obj.program('raw_sys_enter').attachRawTracepoint('sys_enter');
    const btf = obj.program('btf_sys_enter').attachRawTracepoint('sys_enter'); // attached by its BTF id
    assert.equal(tp.description, 'tracepoint syscalls/sys_enter_write -> count_write');
    assert.match(raw.description, /raw_tracepoint sys_enter -> raw_sys_enter/);
    assert.equal(btf.description, 'tp_btf sys_enter -> btf_sys_enter');
    assert.deepEqual(obj.attachments().sort(), [tp.description, raw.description, btf.description].sort());
    assert.deepEqual(fixtureKernelState(), { progs: before.progs + obj.programNames().length, links: before.links + 3 });

    const N = 137;
    for (let i = 0; i < N; i++) writeSync(fd, 'x');
    assert.equal(count(obj, 0), BigInt(N));
    assert.equal(count(obj, 1), BigInt(N));
    assert.equal(count(obj, 8), BigInt(N));
    btf.detach();
    const pc = obj.map('percpu_writes');
    assert.equal(pc.lookup(u32(0))!.length, pc.valueBufferSize);
    assert.equal(pc.sumPerCpuU64(pc.lookup(u32(0))!), BigInt(N));

    // a detached link stops counting, the other keeps going
    raw.detach();
    raw.detach(); // idempotent
    for (let i = 0; i < 10; i++) writeSync(fd, 'y');
    assert.equal(count(obj, 0), BigInt(N + 10));
    assert.equal(count(obj, 1), BigInt(N));
    assert.equal(count(obj, 8), BigInt(N));
    assert.equal(fixtureKernelState().links, before.links + 1);
  } finally {
    obj.close();
    closeSync(fd);
  }
  obj.close(); // idempotent
  assert.deepEqual(settledKernelState(before), before);
  assert.deepEqual(ownBpfFds(), { prog: 0, link: 0, map: 0 });
  assert.throws(() => obj.map('counts'), /is closed/);
});
