// FlowTable.foldCounts: the kernel-side counters of flows-only sockets (cumulative per socket) add only their
// increase to the flow end, never twice; the close record's counters are final and end the bookkeeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowTable } from '../../src/correlate/flows.js';
import { SockRecordView, sockCountsLayoutFrom } from '../../src/collect/sock-decoder.js';
import { encodeSockBatch, encodeSockRecord, type SyntheticSockRecord } from '../../src/collect/sock-encoder.js';
import { buildSockObject, sockLayoutFromBtf } from '../helpers/sock-layout.js';
import { btfStructLayout } from '../helpers/btf-layout.js';

const layout = sockLayoutFromBtf();
const cs = btfStructLayout(buildSockObject(), 'sock_counts');
const counts = sockCountsLayoutFrom(cs.size, (n) => cs.fields.get(n));
const view = new SockRecordView(layout);
view.counts = counts;

const client = { ip: '10.0.0.1', port: 40001 };
const server = { ip: '10.0.0.2', port: 8080 };
const rec = (over: Partial<SyntheticSockRecord>): SyntheticSockRecord => ({
  tsNs: 1000n, pid: 100, comm: 'client', netns: 11, sockId: 1n, proto: 'tcp', family: 4, local: client, remote: server,
  kind: 'data', syscall: 'write', dir: 'send', role: 'client', ret: 100, state: 1, ...over,
});
interface Counts { sent: number; recvd: number; sendCalls: number; recvCalls: number; syscalls: number; lastNs: number }
function countsBuf(c: Partial<Counts>): Buffer {
  const b = Buffer.alloc(counts.size);
  for (const k of ['sent', 'recvd', 'sendCalls', 'recvCalls', 'syscalls', 'lastNs'] as const) b.writeBigUInt64LE(BigInt(c[k] ?? 0), counts[k]);
  return b;
}
/** A sock_totals map value: the socket's first data record's header, then its counters. */
function foldTotals(table: FlowTable, c: Partial<Counts>, final = false): void {
  const buf = Buffer.alloc(layout.size + counts.size);
  encodeSockRecord(layout, rec({}), buf, 0);
  countsBuf(c).copy(buf, layout.size);
  table.foldCounts(view.at(buf, 0, buf.length), final);
}
const fold = (table: FlowTable, rs: SyntheticSockRecord[]) => table.foldBatch(encodeSockBatch(layout, rs), view);
const flow = (table: FlowTable) => table.flows()[0]!;

test('counters add their increase once; the close record brings the last of them and closes the end', () => {
  const t = new FlowTable();
  fold(t, [rec({ kind: 'connect', syscall: 'connect', dir: 'none', ret: 0 }), rec({ tsNs: 1001n })]);
  assert.equal(flow(t).bytesClientToServer, 100);
  foldTotals(t, { sent: 500, sendCalls: 5, syscalls: 1 << 2, lastNs: 5000 });
  assert.equal(flow(t).bytesClientToServer, 600);
  assert.equal(flow(t).callsClientToServer, 6);
  assert.equal(flow(t).lastSeenNs, 5000n);
  foldTotals(t, { sent: 500, sendCalls: 5, syscalls: 1 << 2, lastNs: 5000 }); // the same reading again
  assert.equal(flow(t).bytesClientToServer, 600);
  foldTotals(t, { sent: 800, recvd: 40, sendCalls: 8, recvCalls: 1, syscalls: (1 << 2) | (1 << 6), lastNs: 6000 });
  assert.equal(flow(t).bytesClientToServer, 900);
  assert.equal(flow(t).bytesServerToClient, 40);
  assert.deepEqual(flow(t).syscalls, ['write', 'recvfrom', 'connect']);
  fold(t, [rec({ tsNs: 7000n, kind: 'close', syscall: 'close', dir: 'none', ret: 0, payload: countsBuf({ sent: 1000, recvd: 40, sendCalls: 10, recvCalls: 1, lastNs: 6500 }) })]);
  const f = flow(t);
  assert.equal(f.bytesClientToServer, 1100);
  assert.equal(f.callsClientToServer, 11);
  assert.equal(f.closedNs, 7000n);
});

test('after a final reading, the same socket id starts from zero (a socket recorded anew)', () => {
  const t = new FlowTable();
  fold(t, [rec({})]);
  foldTotals(t, { sent: 300, sendCalls: 3 }, true); // idle: the collector removed it from the kernel map
  assert.equal(flow(t).bytesClientToServer, 400);
  foldTotals(t, { sent: 50, sendCalls: 1 }); // counting again after its next recorded syscall
  assert.equal(flow(t).bytesClientToServer, 450);
});

test('a close record without counters (record-per-syscall capture) changes no byte count', () => {
  const t = new FlowTable();
  fold(t, [rec({}), rec({ tsNs: 2000n, kind: 'close', syscall: 'close', dir: 'none', ret: 0 })]);
  assert.equal(flow(t).bytesClientToServer, 100);
  assert.equal(flow(t).closedNs, 2000n);
});

test('a record from softirq context (pid 0) keeps the process the flow end has', () => {
  const t = new FlowTable();
  fold(t, [rec({}), rec({ tsNs: 2000n, pid: 0, comm: '', kind: 'close', syscall: 'close', dir: 'none', ret: 0 })]);
  assert.deepEqual([flow(t).clientProc?.pid, flow(t).clientProc?.comm], [100, 'client']);
});
