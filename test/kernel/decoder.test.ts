// Record layouts come from the object's BTF; decoders get offsets only through fieldOffsets().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, fieldOffsets, readCString, type StructLayout } from '../../src/kernel/index.js';
import { FIXTURE, skipUnlessRoot } from './helpers.js';

test('structLayout flattens nested, anonymous, array and bitfield members as compiled', { skip: skipUnlessRoot }, () => {
  const obj = BpfObject.open(FIXTURE); // BTF is readable before load
  try {
    const l = obj.structLayout('fixture_layout');
    assert.equal(l.size, 40);
    assert.deepEqual(l.fields['peer.port'], { offset: 4, size: 2, signed: false, kind: 'int' });
    assert.deepEqual(l.fields['peer.addr'], { offset: 6, size: 16, arrayLen: 16, elemSize: 1, signed: false, kind: 'array' });
    assert.equal(l.fields.cookie.offset, 24); // anonymous union members sit in the parent
    assert.equal(l.fields.cookie_lo.offset, 24);
    assert.deepEqual([l.fields.flag_b.bitOffset, l.fields.flag_b.bitSize], [257, 3]);
    assert.equal(l.fields.delta.signed, true);
    const ev = obj.structLayout('fixture_event');
    assert.deepEqual(fieldOffsets(ev, ['seq', 'comm', 'tail']), { seq: 0, comm: 24, tail: 40 });
  } finally {
    obj.close();
  }
});

const layout: StructLayout = { name: 'rec', size: 16, fields: { ts: { offset: 0, size: 8 }, pid: { offset: 8, size: 4 }, comm: { offset: 12, size: 4 } } };

test('fieldOffsets names every missing field and every size mismatch', () => {
  assert.deepEqual(fieldOffsets(layout, { ts: 8, pid: 4 }), { ts: 0, pid: 8 });
  assert.throws(() => fieldOffsets(layout, ['ts', 'cookie', 'netns']),
    /struct rec does not match its decoder: missing fields cookie, netns \(struct has: ts, pid, comm\)/);
  assert.throws(() => fieldOffsets(layout, { ts: 4, pid: 4 }), /ts is 8 bytes, decoder expects 4/);
});

test('readCString stops at NUL or the array end', () => {
  const b = Buffer.from('nginx\0\0\0abcdefgh', 'latin1');
  assert.equal(readCString(b, 0, 8), 'nginx');
  assert.equal(readCString(b, 8, 8), 'abcdefgh');
});
