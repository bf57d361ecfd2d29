// Probe: declared attachments start together; optional ones that fail are reported, required ones roll back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync, writeSync } from 'node:fs';
import { Probe, BpfError } from '../../src/kernel/index.js';
import { FIXTURE, fixtureKernelState, settledKernelState, kernelBaseline, skipUnlessRoot, u32 } from './helpers.js';

test('optional attachments that fail are skipped with the reason; the rest works', { skip: skipUnlessRoot }, () => {
  const baseline = kernelBaseline();
  const fd = openSync('/dev/null', 'w');
  const probe = Probe.start(FIXTURE, {
    maxEntries: { events: 8192 },
    beforeAttach: (obj) => {
      const c = Buffer.alloc(obj.structLayout('fixture_config').size);
      c.writeUInt32LE(process.pid, 0);
      c.writeUInt32LE(fd, 4);
      obj.map('fixture_config').update(u32(0), c);
    },
    attach: [
      { program: 'count_write', tracepoint: ['syscalls', 'sys_enter_write'] },
      { program: 'raw_sys_enter', rawTracepoint: 'fl_not_a_tracepoint', optional: true },
    ],
  });
  try {
    assert.equal(probe.links.length, 1);
    assert.equal(probe.skipped.length, 1);
    assert.equal(probe.skipped[0].target, 'raw_tracepoint fl_not_a_tracepoint');
    assert.match(probe.skipped[0].error, /no such raw tracepoint/);
    assert.equal(probe.object.map('events').maxEntries, 8192);
    for (let i = 0; i < 9; i++) writeSync(fd, 'z');
    assert.equal(probe.object.map('counts').lookup(u32(0))!.readBigUInt64LE(0), 9n);
  } finally {
    probe.close();
    closeSync(fd);
  }
  assert.deepEqual(settledKernelState(baseline), baseline);
});

test('a required attachment that fails undoes the whole probe', { skip: skipUnlessRoot }, () => {
  const baseline = kernelBaseline();
  assert.throws(() => Probe.start(FIXTURE, {
    attach: [
      { program: 'count_write', tracepoint: ['syscalls', 'sys_enter_write'] },
      { program: 'count_write', tracepoint: ['syscalls', 'sys_enter_doesnotexist'] },
    ],
  }), (e: unknown) => e instanceof BpfError && /sys_enter_doesnotexist does not exist/.test(e.message));
  assert.deepEqual(settledKernelState(baseline), baseline);
});
