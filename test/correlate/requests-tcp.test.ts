// The per-request TCP snapshot: counters read as of the request's start and end from the sampled history
// of the TCP collector's map (samples are plain records here; the collector itself is tested elsewhere).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpTableSource } from '../../src/correlate/request-tcp.js';
import { RequestTracker } from '../../src/correlate/requests.js';
import { ServiceResolver } from '../../src/correlate/services.js';
import type { SocketEvent } from '../../src/collect/sock-event.js';
import type { TcpConnSample } from '../../src/model/tcp.js';

test('retransmits counted inside the request window only; srtt as of its end', async () => {
  let samples: Partial<TcpConnSample>[] = [];
  const src = new TcpTableSource({ readConns: () => samples as TcpConnSample[] }, 0);
  const sample = (tsNs: bigint, totalRetrans: number, srttUs: number) => ({ tsNs, sockId: 7n, cookie: 7n, totalRetrans, srttUs, cwnd: 10, state: 'ESTABLISHED' as const });
  // the history the source builds over time: 2 retransmits before the request, 3 during it, 4 after
  for (const [ts, rt, srtt] of [[100n, 2, 50], [1_000n, 2, 60], [2_000n, 4, 900], [3_000n, 5, 1200], [9_000n, 9, 300]] as const) {
    samples = [sample(ts, rt, srtt)];
    src.refresh();
  }
  const tracker = new RequestTracker({ tcp: src, services: new ServiceResolver({ readProcess: (pid, comm) => ({ pid, comm, cgroup: '/svc/api' }) }) });
  const ev = (tsNs: bigint, dir: 'send' | 'recv', text: string): SocketEvent => ({
    tsNs, pid: 5, tid: 5, comm: 'api', cgroupId: 0n, netns: 1, sockId: 7n, kind: 'data', syscall: 'read', dir, role: 'server', proto: 'tcp',
    family: 4, local: { ip: '10.0.0.2', port: 80 }, remote: { ip: '10.0.0.1', port: 50000 }, ret: text.length, bytes: text.length, tcpState: 1, fd: 4,
    payload: Buffer.from(text),
  });
  tracker.push(ev(1_500n, 'recv', 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n'));
  const [rec] = tracker.push(ev(3_500n, 'send', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  assert.ok(rec);
  assert.deepEqual(rec.tcp, { srttUs: 1200, totalRetrans: 5, retransmits: 3, cwnd: 10, state: 'ESTABLISHED' });
  // a socket the TCP collector does not know: no snapshot, no error
  const other = new RequestTracker({ tcp: src });
  other.push({ ...ev(1_500n, 'recv', 'GET /b HTTP/1.1\r\n\r\n'), sockId: 99n });
  const [r2] = other.push({ ...ev(1_600n, 'send', 'HTTP/1.1 204 No Content\r\n\r\n'), sockId: 99n });
  assert.equal(r2!.tcp, undefined);
});
