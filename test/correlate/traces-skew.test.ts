// Both ends of one call stamped at syscall exit: the callee's recv may return before the caller's send does
// (its first byte stamped earlier), and the caller may read the last response byte before the callee's
// send returns (its end stamped earlier). Seen on loopback in test/e2e/threaded-trace.test.ts; the exchange
// link must survive it without pairing a neighbouring exchange of the same keep-alive connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkRecords } from '../../src/correlate/traces.js';
import type { RequestRecord } from '../../src/model/request.js';

let seq = 0;
function rec(side: 'client' | 'server', startUs: number, endUs: number, path: string, over: Partial<RequestRecord> = {}): RequestRecord {
  const id = (++seq).toString(16).padStart(16, '0');
  return {
    id, protocol: 'http1', side, startNs: BigInt(startUs * 1000), endNs: BigInt(endUs * 1000), durationNs: BigInt((endUs - startUs) * 1000),
    method: 'GET', endpoint: path, path, status: '200', httpStatus: 200, error: false, reqBytes: 80, respBytes: 120,
    flowId: '1:tcp:127.0.0.1:40000-127.0.0.1:8080', sockId: BigInt(seq), proto: 'tcp', netns: 1,
    pid: side === 'client' ? 100 : 200, tid: side === 'client' ? 100 : 201, comm: side === 'client' ? 'client' : 'server', cgroupId: 0n,
    client: { ip: '127.0.0.1', port: 40000 }, server: { ip: '127.0.0.1', port: 8080 }, clientService: 'client', serverService: 'server',
    ...over,
  };
}

test('an exchange whose callee view starts before and ends after the caller view is still one call', () => {
  // three keep-alive exchanges on one connection; the middle one has both stamps inverted by microseconds
  const c1 = rec('client', 0, 500, '/a');
  const s1 = rec('server', 20, 480, '/a');
  const c2 = rec('client', 1000, 1300, '/b');
  const s2 = rec('server', 990, 1301, '/b'); // recv returned 10 us before the caller's send; send 1 us after its recv
  const c3 = rec('client', 1400, 1900, '/c'); // the next exchange starts 410 us after s2 began
  const s3 = rec('server', 1420, 1880, '/c');
  const rs = [c1, s1, c2, s2, c3, s3];
  linkRecords(rs);
  for (const [c, s] of [[c1, s1], [c2, s2], [c3, s3]] as const) {
    assert.equal(s.parentSpanId, c.spanId, `${s.path}: paired with its caller's view`);
    assert.equal(s.linkedBy, 'exchange');
    assert.equal(s.traceId, c.traceId);
  }
  assert.equal(new Set(rs.map((r) => r.traceId)).size, 3);
});

test('a fast exchange inside the skew is not paired with the next one on the connection', () => {
  // a 50 us exchange: the next request starts within the start skew of it; closest start wins
  const c1 = rec('client', 0, 60, '/fast');
  const s1 = rec('server', -5, 61, '/fast');
  const c2 = rec('client', 100, 400, '/next');
  const s2 = rec('server', 110, 390, '/next');
  const rs = [c1, s1, c2, s2];
  linkRecords(rs);
  assert.equal(s1.parentSpanId, c1.spanId);
  assert.equal(s2.parentSpanId, c2.spanId);
});

test('back-to-back keep-alive exchanges: the callee view pairs with the caller view it overlaps, not the next one', () => {
  // curl -> an HTTP/1.1 server on loopback: the callee's view starts 50 us after the caller's, and the next
  // request starts 5 us after this response — closer in start to this callee view than its own caller view
  const c1 = rec('client', 0, 100, '/one');
  const s1 = rec('server', 50, 90, '/one');
  const c2 = rec('client', 95, 200, '/two');
  const s2 = rec('server', 145, 190, '/two');
  const c3 = rec('client', 195, 300, '/three');
  const s3 = rec('server', 245, 290, '/three');
  const rs = [c1, s1, c2, s2, c3, s3];
  linkRecords(rs);
  for (const [c, s] of [[c1, s1], [c2, s2], [c3, s3]] as const) assert.equal(s.parentSpanId, c.spanId, `${s.path}: paired with its own caller view`);
});
