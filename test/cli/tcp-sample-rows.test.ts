// Which connections get a periodic TCP sample row: at most one a period while a connection moves, none
// while it idles, at once on a state change, and — over the per-tick cap — troubled connections first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpSampleRows } from '../../src/cli/tcp-sample-rows.js';
import type { TcpConnSample } from '../../src/model/tcp.js';

const S = 1_000_000_000n;
function conn(id: number, over: Partial<TcpConnSample> = {}): TcpConnSample {
  // the fields the sampler and the row read; the rest of a real sample does not matter here
  return {
    tsNs: 0n, sockId: BigInt(id), cookie: BigInt(id), netns: 1, pid: 10, comm: 'x', role: 'client', state: 'ESTABLISHED',
    local: { ip: '10.0.0.1', port: 40000 + id }, remote: { ip: '10.0.0.2', port: 80 }, lastNs: 1n, totalRetrans: 0, drops: 0,
    srttUs: 100, mdevUs: 50, cwnd: 10, lostOut: 0, zeroWndPeerNs: 0, zeroWndLocalNs: 0, ...over,
  } as TcpConnSample;
}

test('one row a period while a connection moves, none while idle, at once on a state change', () => {
  const s = new TcpSampleRows(S, 100);
  const ids = (rows: ReturnType<TcpSampleRows['rows']>) => rows.map((r) => Number(r.cookie));
  assert.deepEqual(ids(s.rows([conn(1)], 10n * S, 0n)), [1], 'first sight');
  assert.deepEqual(ids(s.rows([conn(1, { lastNs: 2n })], 10n * S + S / 2n, 0n)), [], 'moved, but within the period');
  assert.deepEqual(ids(s.rows([conn(1, { lastNs: 3n })], 11n * S, 0n)), [1], 'moved, a period later');
  assert.deepEqual(ids(s.rows([conn(1, { lastNs: 3n })], 15n * S, 0n)), [], 'idle: nothing');
  assert.deepEqual(ids(s.rows([conn(1, { lastNs: 3n, state: 'FIN_WAIT1' })], 15n * S + 1n, 0n)), [1], 'state change: at once');
  const row = s.rows([conn(2, { tsNs: 5n })], 16n * S, 100n)[0]!;
  assert.equal(row.ts_ns, 105n, 'monotonic -> wall clock');
  assert.equal(row.flow_id, '0:tcp:10.0.0.1:40002-10.0.0.2:80');
  // a server end names the same flow: client = the remote end
  const srv = s.rows([conn(3, { role: 'server', local: { ip: '10.0.0.2', port: 80 }, remote: { ip: '10.0.0.1', port: 40002 } })], 16n * S, 0n)[0]!;
  assert.equal(srv.flow_id, row.flow_id);
});

test('over the cap, connections with new retransmits or drops go first, then new ones, then the longest unsampled', () => {
  const s = new TcpSampleRows(S, 2);
  const all = [1, 2, 3, 4].map((i) => conn(i));
  assert.equal(s.rows(all, 10n * S, 0n).length, 2); // 1, 2 sampled; 3, 4 wait
  const next = [conn(1, { lastNs: 5n }), conn(2, { lastNs: 5n, totalRetrans: 3 }), conn(3, { lastNs: 5n }), conn(4, { lastNs: 5n })];
  assert.deepEqual(s.rows(next, 12n * S, 0n).map((r) => Number(r.cookie)), [2, 3], 'the retransmitting one, then one never sampled');
  const later = [1, 2, 3, 4].map((i) => conn(i, { lastNs: 9n, totalRetrans: i === 2 ? 3 : 0 }));
  assert.deepEqual(s.rows(later, 14n * S, 0n).map((r) => Number(r.cookie)), [4, 1], 'the new one, then the longest unsampled');
});

test('drop reasons are read only when a row has drops to name, and summed per reason', () => {
  const s = new TcpSampleRows(S, 100);
  let reads = 0;
  const readDrops = () => {
    reads++;
    return [
      { sockId: 2n, reason: 1, reasonName: 'TCP_ZEROWINDOW', pid: 1, netns: 1, lport: 1, rport: 2, count: 3 },
      { sockId: 2n, reason: 1, reasonName: 'TCP_ZEROWINDOW', pid: 1, netns: 1, lport: 1, rport: 2, count: 2 },
      { sockId: 2n, reason: 2, reasonName: 'TCP_OFOMERGE', pid: 1, netns: 1, lport: 1, rport: 2, count: 1 },
    ];
  };
  s.rows([conn(1)], 10n * S, 0n, readDrops);
  assert.equal(reads, 0, 'no drops: the drop map is not read');
  const [row] = s.rows([conn(2, { drops: 6 })], 10n * S, 0n, readDrops);
  assert.equal(reads, 1);
  assert.deepEqual((row!.data as { dropReasons: unknown }).dropReasons, { TCP_ZEROWINDOW: 5, TCP_OFOMERGE: 1 });
});
