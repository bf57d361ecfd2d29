import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SockRecordView, decodeSockEvent, errnoName, sockLayoutFrom } from '../../src/collect/sock-decoder.js';
import { encodeSockBatch } from '../../src/collect/sock-encoder.js';
import { formatAddrWords, isLoopbackWords, parseAddrWords } from '../../src/collect/ip-format.js';
import { btfStructLayout } from '../helpers/btf-layout.js';
import { buildSockObject, sockLayoutFromBtf } from '../helpers/sock-layout.js';

test('IP words: IPv4 (mapped), IPv6 compression, loopback', () => {
  const cases: [string, string][] = [
    ['10.1.2.3', '10.1.2.3'], ['::ffff:127.0.0.1', '127.0.0.1'], ['::1', '::1'], ['::', '::'],
    ['fd00:f1:4d:3d::2', 'fd00:f1:4d:3d::2'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['fe80::1:2', 'fe80::1:2'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ];
  for (const [input, shown] of cases) assert.equal(formatAddrWords(...parseAddrWords(input)), shown, input);
  assert.ok(isLoopbackWords(...parseAddrWords('127.9.9.9')));
  assert.ok(isLoopbackWords(...parseAddrWords('::1')));
  assert.ok(!isLoopbackWords(...parseAddrWords('10.0.0.1')));
  assert.throws(() => parseAddrWords('300.1.1.1'), /bad IPv4/);
  assert.throws(() => parseAddrWords('1::2::3'), /bad IPv6/);
});

test('records round-trip through the BTF layout of the built object', () => {
  const layout = sockLayoutFromBtf();
  const batch = encodeSockBatch(layout, [
    { tsNs: 123456789012n, pid: 42, tid: 43, comm: 'a-very-long-command-name', cgroupId: 99n, netns: 4026531840,
      sockId: 0xffff888812345678n, kind: 'data', syscall: 'recvmmsg', dir: 'recv', role: 'server', proto: 'udp', family: 6,
      local: { ip: 'fd00::1', port: 53 }, remote: { ip: 'fd00::2', port: 40000 }, ret: 77, bytes: 1234, state: 7,
      payload: Buffer.from('hello') },
    { tsNs: 1n, pid: 1, comm: 'c', netns: 1, sockId: 5n, kind: 'connect', syscall: 'connect', dir: 'none', role: 'client',
      proto: 'tcp', family: 4, local: { ip: '10.0.0.1', port: 40000 }, remote: { ip: '10.0.0.2', port: 80 }, ret: -111 },
  ]);
  assert.equal(batch.offsets[1] % 8, 0);
  const v = new SockRecordView(layout);
  const a = decodeSockEvent(v.at(batch.buf, batch.offsets[0], batch.lengths[0]));
  assert.equal(a.tsNs, 123456789012n);
  assert.equal(a.comm, 'a-very-long-com'); // TASK_COMM_LEN 16 incl. NUL
  assert.deepEqual([a.pid, a.tid, a.cgroupId, a.netns, a.sockId], [42, 43, 99n, 4026531840, 0xffff888812345678n]);
  assert.deepEqual([a.kind, a.syscall, a.dir, a.role, a.proto, a.family], ['data', 'recvmmsg', 'recv', 'server', 'udp', 6]);
  assert.deepEqual([a.local, a.remote], [{ ip: 'fd00::1', port: 53 }, { ip: 'fd00::2', port: 40000 }]);
  assert.deepEqual([a.ret, a.bytes, a.tcpState, a.errno], [77, 1234, 7, undefined]);
  assert.equal(a.payload.toString(), 'hello');
  const b = decodeSockEvent(v.at(batch.buf, batch.offsets[1], batch.lengths[1]));
  assert.deepEqual([b.ret, b.errno, b.bytes, b.family], [-111, 'ECONNREFUSED', 0, 4]);
  assert.deepEqual(b.remote, { ip: '10.0.0.2', port: 80 });
  assert.equal(v.retErrno, 111);
  // a truncated record is recognised, not misread
  v.at(batch.buf, batch.offsets[0], layout.size + 2);
  assert.equal(v.valid, false);
});

test('a layout that lacks a field, or has a different size, is refused with the field named', () => {
  const st = btfStructLayout(buildSockObject(), 'sock_event');
  assert.throws(() => sockLayoutFrom(st.size, (n) => (n === 'netns' ? undefined : st.fields.get(n))), /no field 'netns'/);
  assert.throws(() => sockLayoutFrom(st.size, (n) => (n === 'pid' ? { offset: 0, size: 8 } : st.fields.get(n))), /pid is 8 bytes/);
  assert.equal(errnoName(104), 'ECONNRESET');
  assert.equal(errnoName(9999), 'E9999');
});
