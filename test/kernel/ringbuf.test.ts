// Ring buffer records reach JS in batches from the event loop: exactly N records, fewer than N calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync, writeSync, readFileSync } from 'node:fs';
import { BpfObject, RingBuffer, fieldOffsets, readCString, type RecordBatch } from '../../src/kernel/index.js';
import { FIXTURE, skipUnlessRoot, u32, waitFor } from './helpers.js';

function setup(): { obj: BpfObject; fd: number } {
  const obj = BpfObject.load(FIXTURE);
  const fd = openSync('/dev/null', 'w');
  const c = Buffer.alloc(obj.structLayout('fixture_config').size);
  c.writeUInt32LE(process.pid, 0);
  c.writeUInt32LE(fd, 4);
  c.writeUInt32LE(1, 8); // emit records
  obj.map('fixture_config').update(u32(0), c);
  obj.program('count_write').attachTracepoint('syscalls', 'sys_enter_write');
  return { obj, fd };
}

test('N writes produce exactly N decoded records, delivered in batches', { skip: skipUnlessRoot }, async () => {
  const { obj, fd } = setup();
  try {
    const layout = obj.structLayout('fixture_event');
    const off = fieldOffsets(layout, { seq: 8, tgid: 4, fd: 4, count: 8, comm: 16, tail: 3 });
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    const seqs: bigint[] = [];
    const sizes: number[] = [];
    const rb = new RingBuffer(obj.map('events'), (b: RecordBatch) => {
      sizes.push(b.count);
      for (let i = 0; i < b.count; i++) {
        const o = b.offsets[i];
        assert.equal(o % 8, 0);
        assert.equal(b.lengths[i], layout.size);
        seqs.push(b.buf.readBigUInt64LE(o + off.seq));
        assert.equal(b.buf.readUInt32LE(o + off.tgid), process.pid);
        assert.equal(b.buf.readUInt32LE(o + off.fd), fd);
        assert.equal(b.buf.readBigInt64LE(o + off.count), 3n);
        assert.equal(readCString(b.buf, o + off.comm, 16), comm);
        assert.deepEqual([...b.buf.subarray(o + off.tail, o + off.tail + 3)], [0xab, 0xcd, 0xef]);
      }
    });
    // phase 1: one synchronous burst -> the loop wakes once for all of it
    const N = 5000;
    for (let i = 0; i < N; i++) writeSync(fd, 'abc');
    await waitFor(() => seqs.length >= N);
    assert.equal(seqs.length, N);
    assert.ok(sizes.length > 0 && sizes.length < N, `batches=${sizes.length}`);
    // phase 2: bursts separated by loop turns -> several batches, still exactly N records in order
    for (let burst = 0; burst < 10; burst++) {
      for (let i = 0; i < N / 10; i++) writeSync(fd, 'abc');
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => seqs.length >= 2 * N);
    assert.equal(seqs.length, 2 * N);
    assert.deepEqual(seqs, Array.from({ length: 2 * N }, (_, i) => BigInt(i + 1)));
    assert.ok(sizes.length > 1 && sizes.length < 2 * N, `batches=${sizes.length}`);
    assert.deepEqual(rb.stats(), { batches: sizes.length, records: 2 * N });
    rb.close();
    rb.close(); // idempotent
  } finally {
    obj.close();
    closeSync(fd);
  }
});

test('maxBatchBytes splits a large backlog across loop turns; consume() drains synchronously', { skip: skipUnlessRoot }, async () => {
  const { obj, fd } = setup();
  try {
    const recSize = 48;
    const batches: number[] = [];
    const rb = new RingBuffer(obj.map('events'), (b) => batches.push(b.count), { maxBatchBytes: 4096 });
    const N = 2000;
    for (let i = 0; i < N; i++) writeSync(fd, 'abc');
    assert.equal(rb.consume(), N); // synchronous drain, several batches of <= 4096 bytes
    assert.equal(batches.reduce((a, b) => a + b, 0), N);
    assert.ok(batches.every((n) => n * recSize <= 4096 + recSize), `batch sizes ${batches.slice(0, 5)}`);
    assert.ok(batches.length >= Math.floor((N * recSize) / (4096 + recSize)));
    for (let i = 0; i < N; i++) writeSync(fd, 'abc');
    await waitFor(() => batches.reduce((a, b) => a + b, 0) >= 2 * N);
    assert.equal(batches.reduce((a, b) => a + b, 0), 2 * N);
    // closing the object closes its ring buffers too
    obj.close();
    assert.equal(rb.consume(), 0);
  } finally {
    obj.close();
    closeSync(fd);
  }
});

test('a full ring buffer counts drops; dropped() + received == produced', { skip: skipUnlessRoot }, async () => {
  const obj = BpfObject.open(FIXTURE);
  obj.setMaxEntries('events', 4096); // one page: room for ~80 records
  obj.load();
  const fd = openSync('/dev/null', 'w');
  try {
    const c = Buffer.alloc(obj.structLayout('fixture_config').size);
    c.writeUInt32LE(process.pid, 0);
    c.writeUInt32LE(fd, 4);
    c.writeUInt32LE(1, 8);
    obj.map('fixture_config').update(u32(0), c);
    obj.program('count_write').attachTracepoint('syscalls', 'sys_enter_write');
    let received = 0;
    const rb = new RingBuffer(obj.map('events'), (b) => { received += b.count; }, { dropCounter: { map: obj.map('counts'), index: 5 } });
    const N = 1000;
    for (let i = 0; i < N; i++) writeSync(fd, 'abc'); // nobody drains meanwhile: the ring fills up
    rb.consume();
    const dropped = rb.dropped()!;
    assert.ok(dropped > 0n && received > 0, `dropped=${dropped} received=${received}`);
    assert.equal(BigInt(received) + dropped, BigInt(N));
  } finally {
    obj.close();
    closeSync(fd);
  }
});

test('a ring buffer that is not a ringbuf map is refused', { skip: skipUnlessRoot }, () => {
  const obj = BpfObject.load(FIXTURE);
  try {
    assert.throws(() => new RingBuffer(obj.map('counts'), () => {}), /'counts' is a array map, not a ringbuf/);
  } finally {
    obj.close();
  }
});
