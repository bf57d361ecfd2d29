import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnoseNagleDelayedAck, NAGLE_KIND } from '../../../src/detect/tcp/nagle.js';
import { conn, connWindow, SEC } from './samples.js';

// 20 exchanges in 1 s, each with one held 100-byte write and one ~41 ms delayed ACK
const before = conn({ tsNs: 9n * SEC });
const stalled = conn({
  tsNs: 10n * SEC, smallWrites: 140, smallWriteBytes: 14000, smallWritesUnacked: 20, smallWritesNagle: 20,
  delackSamples: 20, delackSumUs: 20 * 41_000, delackMaxUs: 43_000, srttUs: 21_000, bytesAcked: 14000,
});

test('reports the delayed-ACK stall with its figures', () => {
  const [f, ...rest] = diagnoseNagleDelayedAck(connWindow(before, stalled));
  assert.equal(rest.length, 0);
  assert.ok(f);
  assert.equal(f.kind, NAGLE_KIND);
  assert.equal(f.evidence.ackDelayMs, 41);
  assert.equal(f.evidence.pathMinRttMs, 0.05);
  assert.equal(f.evidence.delayedAcks, 20);
  assert.equal(f.evidence.heldSmallWrites, 20);
  assert.equal(f.evidence.avgSmallWriteBytes, 100);
  assert.equal(f.evidence.mssBytes, 1448);
  assert.equal(f.evidence.nodelay, false);
  assert.equal(f.evidence.timeLostMs, 819); // 20 × (41 - 0.05) ms
  assert.equal(f.evidence.throughputCapBytesPerSec, Math.round(1448 / 0.041));
  assert.equal(f.severity, 'critical'); // 82 % of the window spent waiting
  assert.equal(f.subject.process?.pid, 1234);
  assert.match(f.fix, /TCP_NODELAY/);
  assert.match(f.fix, /TCP_QUICKACK/);
});

test('silent when TCP_NODELAY is set', () => {
  assert.deepEqual(diagnoseNagleDelayedAck(connWindow(before, { ...stalled, nodelay: true })), []);
});

test('silent without held small writes (bulk sender with a few slow ACKs)', () => {
  assert.deepEqual(diagnoseNagleDelayedAck(connWindow(before, { ...stalled, smallWritesNagle: 1, smallWritesUnacked: 1 })), []);
});

test('silent when ACKs are not delayed', () => {
  assert.deepEqual(diagnoseNagleDelayedAck(connWindow(before, { ...stalled, delackSamples: 0, delackSumUs: 0 })), []);
});

test('silent when only a few of many held writes met a slow ACK', () => {
  const w = connWindow(before, { ...stalled, smallWritesNagle: 400, delackSamples: 5, delackSumUs: 5 * 41_000 });
  assert.deepEqual(diagnoseNagleDelayedAck(w), []);
});

test('a connection first seen in the window counts from zero', () => {
  const w = { startNs: 9n * SEC, endNs: 10n * SEC, conns: [{ after: stalled }], listeners: [], events: [] };
  assert.equal(diagnoseNagleDelayedAck(w).length, 1);
});
