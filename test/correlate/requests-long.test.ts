// A request longer than the per-connection chunk memory (32 chunks) still carries its thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestTracker } from '../../src/correlate/requests.js';
import { ServiceResolver } from '../../src/correlate/services.js';
import type { SocketEvent } from '../../src/collect/sock-event.js';

test('a 40-chunk upload: the record keeps the serving thread', () => {
  const tracker = new RequestTracker({ services: new ServiceResolver({ readProcess: (pid, comm) => ({ pid, comm, cgroup: '/svc/up' }) }) });
  const ev = (tsNs: bigint, dir: 'send' | 'recv', data: Buffer): SocketEvent => ({
    tsNs, pid: 5, tid: 9, comm: 'up', cgroupId: 0n, netns: 1, sockId: 3n, kind: 'data', syscall: 'read', dir, role: 'server', proto: 'tcp',
    family: 4, local: { ip: '10.0.0.2', port: 80 }, remote: { ip: '10.0.0.1', port: 50000 }, ret: data.length, bytes: data.length, tcpState: 1, fd: 4,
    payload: data,
  });
  const chunk = 1000;
  const head = Buffer.from(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${chunk * 40}\r\n\r\n`);
  tracker.push(ev(1_000n, 'recv', head));
  for (let i = 0; i < 40; i++) assert.deepEqual(tracker.push(ev(2_000n + BigInt(i) * 100n, 'recv', Buffer.alloc(chunk, 0x61))), []);
  const [rec] = tracker.push(ev(9_000n, 'send', Buffer.from('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n')));
  assert.ok(rec);
  assert.equal(rec.endpoint, '/upload');
  assert.equal(rec.httpStatus, 201);
  assert.equal(rec.tid, 9);
});
