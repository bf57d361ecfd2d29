import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowTable } from '../../src/correlate/flows.js';
import { SockRecordView } from '../../src/collect/sock-decoder.js';
import { encodeSockBatch, type SyntheticSockRecord } from '../../src/collect/sock-encoder.js';
import { sockLayoutFromBtf } from '../helpers/sock-layout.js';

const layout = sockLayoutFromBtf();

function fold(table: FlowTable, recs: SyntheticSockRecord[]): void {
  table.foldBatch(encodeSockBatch(layout, recs), new SockRecordView(layout));
}

const base = { tid: 0, cgroupId: 7n, state: 1, ret: 0 } as const;
const clientEnd = { ip: '10.0.0.1', port: 40001 };
const serverEnd = { ip: '10.0.0.2', port: 8080 };

function tcpPair(nsC: number, nsS: number, t0: bigint): SyntheticSockRecord[] {
  const c = { ...base, pid: 100, comm: 'client', netns: nsC, sockId: 1n, proto: 'tcp', family: 4, local: clientEnd, remote: serverEnd } as const;
  const s = { ...base, pid: 200, comm: 'server', netns: nsS, sockId: 2n, proto: 'tcp', family: 4, local: serverEnd, remote: clientEnd } as const;
  return [
    { ...c, tsNs: t0, kind: 'connect', syscall: 'connect', dir: 'none', role: 'client', ret: 0 },
    { ...s, tsNs: t0 + 1n, kind: 'accept', syscall: 'accept4', dir: 'none', role: 'server', ret: 5 },
    { ...c, tsNs: t0 + 2n, kind: 'data', syscall: 'write', dir: 'send', role: 'client', ret: 100, payload: Buffer.from('GET /') },
    { ...s, tsNs: t0 + 3n, kind: 'data', syscall: 'read', dir: 'recv', role: 'server', ret: 100 },
    { ...s, tsNs: t0 + 4n, kind: 'data', syscall: 'sendmsg', dir: 'send', role: 'server', ret: 2000 },
    { ...c, tsNs: t0 + 5n, kind: 'data', syscall: 'recvfrom', dir: 'recv', role: 'client', ret: 1500 },
    { ...c, tsNs: t0 + 6n, kind: 'data', syscall: 'recvfrom', dir: 'recv', role: 'client', ret: 500 },
    { ...c, tsNs: t0 + 7n, kind: 'close', syscall: 'close', dir: 'none', role: 'client', ret: 0 },
    { ...s, tsNs: t0 + 8n, kind: 'close', syscall: 'close', dir: 'none', role: 'server', ret: 0 },
  ];
}

test('both ends of a connection in two netns fold into one flow with each owner and exact bytes', () => {
  const table = new FlowTable();
  fold(table, tcpPair(11, 22, 1000n));
  const flows = table.flows();
  assert.equal(flows.length, 1);
  const f = flows[0];
  assert.deepEqual([f.client, f.server], [clientEnd, serverEnd]);
  assert.equal(f.proto, 'tcp');
  assert.deepEqual(f.clientProc, { pid: 100, comm: 'client', cgroupId: 7n });
  assert.deepEqual(f.serverProc, { pid: 200, comm: 'server', cgroupId: 7n });
  assert.equal(f.clientNetns, 11);
  assert.equal(f.serverNetns, 22);
  assert.equal(f.bytesClientToServer, 100);
  assert.equal(f.bytesServerToClient, 2000);
  assert.equal(f.callsClientToServer, 1);
  assert.equal(f.callsServerToClient, 1);
  assert.equal(f.firstSeenNs, 1000n);
  assert.equal(f.closedNs, 1008n);
  assert.equal(f.durationNs, 8n);
  assert.deepEqual(f.syscalls, ['read', 'write', 'recvfrom', 'sendmsg', 'connect', 'accept4', 'close']);
  assert.deepEqual(f.socketCookies.sort(), [1n, 2n]);
});

test('loopback flows stay per netns; joining across netns can be switched off', () => {
  const lo = (ns: number, pid: number): SyntheticSockRecord => ({
    ...base, pid, comm: 'c', netns: ns, sockId: BigInt(pid), proto: 'tcp', family: 4, tsNs: 5n,
    local: { ip: '127.0.0.1', port: 40000 }, remote: { ip: '127.0.0.1', port: 80 },
    kind: 'data', syscall: 'write', dir: 'send', role: 'client', ret: 10,
  });
  const t = new FlowTable();
  fold(t, [lo(1, 10), lo(2, 20)]);
  assert.equal(t.size, 2);
  const split = new FlowTable({ joinAcrossNetns: false });
  fold(split, tcpPair(11, 22, 1n));
  assert.equal(split.size, 2);
});

test('IPv6 and IPv4-mapped ends meet; unknown roles fall back to listening/ephemeral ports', () => {
  const t = new FlowTable();
  fold(t, [
    { ...base, pid: 1, comm: 'a', netns: 3, sockId: 1n, proto: 'tcp', family: 6, tsNs: 1n,
      local: { ip: '::ffff:127.0.0.1', port: 6379 }, remote: { ip: '::ffff:127.0.0.1', port: 51000 },
      kind: 'data', syscall: 'write', dir: 'send', role: 'unknown', ret: 7 },
    { ...base, pid: 2, comm: 'b', netns: 3, sockId: 2n, proto: 'tcp', family: 4, tsNs: 2n,
      local: { ip: '127.0.0.1', port: 51000 }, remote: { ip: '127.0.0.1', port: 6379 },
      kind: 'data', syscall: 'read', dir: 'recv', role: 'unknown', ret: 7 },
    { ...base, pid: 3, comm: 'v6', netns: 3, sockId: 3n, proto: 'udp', family: 6, tsNs: 3n,
      local: { ip: 'fd00::1', port: 53 }, remote: { ip: 'fd00::2', port: 40000 },
      kind: 'data', syscall: 'sendto', dir: 'send', role: 'unknown', ret: 33 },
  ]);
  const flows = t.flows().sort((x, y) => x.client.port - y.client.port);
  assert.equal(flows.length, 2);
  const [tcp, udp] = flows.sort((x, y) => (x.proto < y.proto ? -1 : 1));
  assert.equal(tcp.proto, 'tcp');
  assert.deepEqual([tcp.client, tcp.server], [{ ip: '127.0.0.1', port: 51000 }, { ip: '127.0.0.1', port: 6379 }]);
  assert.equal(tcp.clientProc?.comm, 'b');
  assert.equal(tcp.serverProc?.comm, 'a');
  assert.equal(tcp.bytesServerToClient, 7);
  assert.equal(udp.proto, 'udp');
  assert.deepEqual(udp.server, { ip: 'fd00::1', port: 53 });
  assert.deepEqual(udp.client, { ip: 'fd00::2', port: 40000 });
  assert.equal(udp.bytesServerToClient, 33);
});

test('errors are counted by errno name; refused connects close the flow; closed and idle flows are evicted', () => {
  const t = new FlowTable({ closedTtlNs: 10, idleTtlNs: 1000 });
  const c = { ...base, pid: 9, comm: 'cli', netns: 1, proto: 'tcp', family: 4, dir: 'none', role: 'client' } as const;
  fold(t, [
    { ...c, sockId: 1n, tsNs: 100n, local: { ip: '0.0.0.0', port: 0 }, remote: { ip: '127.0.0.1', port: 9 }, kind: 'connect', syscall: 'connect', ret: -111 },
    { ...c, sockId: 2n, tsNs: 100n, local: { ip: '127.0.0.1', port: 45000 }, remote: { ip: '127.0.0.1', port: 7 }, kind: 'data', syscall: 'write', dir: 'send', ret: -32 },
    { ...c, sockId: 2n, tsNs: 101n, local: { ip: '127.0.0.1', port: 45000 }, remote: { ip: '127.0.0.1', port: 7 }, kind: 'data', syscall: 'read', dir: 'recv', ret: -104 },
    // a listener's close has no peer: skipped, not a flow
    { ...c, sockId: 3n, tsNs: 102n, local: { ip: '0.0.0.0', port: 80 }, remote: { ip: '0.0.0.0', port: 0 }, kind: 'close', syscall: 'close', ret: 0 },
  ]);
  assert.equal(t.size, 2);
  assert.equal(t.stats.skipped, 1);
  const refused = t.flows().find((f) => f.server.port === 9)!;
  assert.deepEqual(refused.errors, { ECONNREFUSED: 1 });
  assert.equal(refused.closedNs, 100n);
  const broken = t.flows().find((f) => f.server.port === 7)!;
  assert.deepEqual(broken.errors, { EPIPE: 1, ECONNRESET: 1 });
  assert.equal(broken.bytesClientToServer, 0);
  assert.deepEqual(t.evict(105).map((f) => f.server.port), []);
  assert.deepEqual(t.evict(111).map((f) => f.server.port), [9]);
  assert.deepEqual(t.evict(1102).map((f) => f.server.port), [7]);
  assert.equal(t.size, 0);
});

test('changed() reports only flows touched since the last call', () => {
  const t = new FlowTable();
  fold(t, tcpPair(1, 1, 1n));
  assert.equal(t.changed().length, 1);
  assert.equal(t.changed().length, 0);
  fold(t, tcpPair(1, 1, 50n).slice(2, 3));
  const again = t.changed();
  assert.equal(again.length, 1);
  assert.equal(again[0].bytesClientToServer, 200);
});

test('listening ports seed the server side of connections accepted before capture started', async () => {
  const { createServer } = await import('node:net');
  const { listeningTcpPorts } = await import('../../src/correlate/listening-ports.js');
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = (srv.address() as { port: number }).port;
  try {
    assert.ok(listeningTcpPorts().has(port), `listener ${port} not found in /proc/net/tcp`);
  } finally {
    srv.close();
  }
  // both ports ephemeral, no roles, the listener end sent first: only the seeded port decides
  const t = new FlowTable();
  t.markServerPort(50001);
  fold(t, [{ ...base, pid: 1, comm: 's', netns: 1, sockId: 1n, proto: 'tcp', family: 4, tsNs: 1n,
    local: { ip: '127.0.0.1', port: 50001 }, remote: { ip: '127.0.0.1', port: 50002 },
    kind: 'data', syscall: 'write', dir: 'send', role: 'unknown', ret: 5 }]);
  const f = t.flows()[0];
  assert.deepEqual([f.client.port, f.server.port], [50002, 50001]);
  assert.equal(f.serverProc?.pid, 1);
});

test('a new connection on a closed flow\'s tuple starts a new flow; the old one is handed out by evict()', () => {
  const t = new FlowTable();
  fold(t, tcpPair(1, 1, 100n));
  fold(t, tcpPair(1, 1, 200n));
  const now = t.flows();
  assert.equal(now.length, 1);
  assert.equal(now[0].firstSeenNs, 200n);
  assert.equal(now[0].bytesClientToServer, 100);
  const ended = t.evict(201);
  assert.equal(ended.length, 1);
  assert.equal(ended[0].firstSeenNs, 100n);
  assert.equal(ended[0].closedNs, 108n);
});

test('an unbound UDP client (local 0.0.0.0) is resolved from its peer\'s records into one flow', () => {
  const t = new FlowTable();
  const any = { ip: '0.0.0.0', port: 41000 };
  const cli = { ip: '10.9.0.1', port: 41000 };
  const srv = { ip: '10.9.0.2', port: 53 };
  const c = { ...base, pid: 10, comm: 'dig', netns: 5, sockId: 1n, proto: 'udp', family: 4, role: 'unknown' } as const;
  const s = { ...base, pid: 20, comm: 'dnsd', netns: 6, sockId: 2n, proto: 'udp', family: 4, role: 'unknown' } as const;
  fold(t, [
    { ...c, tsNs: 1n, local: any, remote: srv, kind: 'data', syscall: 'sendto', dir: 'send', ret: 40 },
    { ...s, tsNs: 2n, local: srv, remote: cli, kind: 'data', syscall: 'recvfrom', dir: 'recv', ret: 40 },
    { ...s, tsNs: 3n, local: srv, remote: cli, kind: 'data', syscall: 'sendto', dir: 'send', ret: 300 },
    { ...c, tsNs: 4n, local: any, remote: srv, kind: 'data', syscall: 'recvfrom', dir: 'recv', ret: 300 },
    { ...c, tsNs: 5n, local: any, remote: srv, kind: 'data', syscall: 'sendto', dir: 'send', ret: 41 },
  ]);
  const flows = t.flows();
  assert.equal(flows.length, 1, JSON.stringify(flows, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  const f = flows[0];
  assert.deepEqual([f.client, f.server], [cli, srv]);
  assert.equal(f.bytesClientToServer, 81);
  assert.equal(f.bytesServerToClient, 300);
  assert.equal(f.clientProc?.comm, 'dig');
  assert.equal(f.serverProc?.comm, 'dnsd');
  assert.equal(f.clientNetns, 5);
  assert.equal(f.firstSeenNs, 1n);
  assert.equal(t.stats.evicted, 0);
});

test('a TCP listening port does not decide the orientation of a UDP flow on the same port number', () => {
  const t = new FlowTable();
  t.markServerPort(45000);
  fold(t, [{ ...base, pid: 1, comm: 'c', netns: 1, sockId: 1n, proto: 'udp', family: 4, tsNs: 1n,
    local: { ip: '10.0.0.1', port: 45000 }, remote: { ip: '10.0.0.2', port: 46000 },
    kind: 'data', syscall: 'sendto', dir: 'send', role: 'unknown', ret: 5 }]);
  assert.deepEqual(t.flows()[0].client, { ip: '10.0.0.1', port: 45000 }); // the first sender
});
