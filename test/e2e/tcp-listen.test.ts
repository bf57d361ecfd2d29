// Listen-queue overflow: a listener with backlog 1 that never accepts, and a flood of connects. The drops
// faultlens counts on that listener must equal the rise of the namespace's ListenOverflows counter, and the
// diagnoser must name the port and the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../../src/kernel/index.js';
import { diagnoseListenOverflow, LISTEN_OVERFLOW_KIND } from '../../src/detect/tcp/listen.js';
import { netnsCounters, runPeer, startPeerServer, tcpE2eSkipReason, useTcpHosts } from './tcp-peer.js';

const skip = tcpE2eSkipReason();
const h = useTcpHosts(skip);
const { events } = h;
const LOSS_OBJECT = join(import.meta.dirname, '..', '..', 'bpf', '.output', 'fixtures', 'tcp_loss.bpf.o');

test('accept-queue overflows are counted on the right port, exactly as ListenOverflows rose', { skip }, async (t) => {
  const before = await netnsCounters(h.pair.b);
  const server = await startPeerServer(h.pair.b, ['listen-only', h.pair.b.ip4, '0', '1']);
  const startNs = process.hrtime.bigint();
  const initial = h.collector.readListeners().find((l) => l.netns === h.pair.b.inode && l.local.port === server.port);
  await runPeer(h.pair.a, ['flood', h.pair.b.ip4, String(server.port), '20', '1500']);
  server.kill(); // closing the listener takes its final sample
  await server.done.catch(() => undefined);
  await new Promise((r) => setTimeout(r, 100));
  const afterCounters = await netnsCounters(h.pair.b);
  const overflows = afterCounters.get('TcpExt.ListenOverflows')! - before.get('TcpExt.ListenOverflows')!;
  const listenDrops = afterCounters.get('TcpExt.ListenDrops')! - before.get('TcpExt.ListenDrops')!;
  const l = h.collector.readListeners().find((x) => x.netns === h.pair.b.inode && x.local.port === server.port);
  t.diagnostic(`ListenOverflows +${overflows}, ListenDrops +${listenDrops}, faultlens listener drops +${(l?.skDrops ?? 0) - (initial?.skDrops ?? 0)} (final-ACK overflow drops ${l?.overflowDrops}), peak ${l?.ackBacklogPeak}/${l?.maxAckBacklog}`);
  assert.ok(initial, 'listener seen when listen() ran');
  assert.ok(l, 'listener tracked');
  assert.equal(l.maxAckBacklog, 1);
  assert.equal(l.comm, 'tcp-peer');
  assert.ok(overflows > 0, 'the flood overflowed the queue');
  assert.equal(l.skDrops - initial.skDrops, listenDrops, `listener drops ${l.skDrops} vs ListenDrops +${listenDrops}`);
  assert.equal(l.skDrops - initial.skDrops, overflows, `listener drops ${l.skDrops} vs ListenOverflows +${overflows}`);
  assert.ok(l.ackBacklogPeak >= 1 && l.ackBacklogPeak <= 2, `peak ${l.ackBacklogPeak}`);

  const findings = diagnoseListenOverflow({
    startNs, endNs: process.hrtime.bigint(), conns: [], events: [], listeners: [{ before: initial, after: l }],
  });
  assert.equal(findings.length, 1);
  const f = findings[0]!;
  assert.equal(f.kind, LISTEN_OVERFLOW_KIND);
  assert.deepEqual(f.subject.port, { netns: h.pair.b.inode, port: server.port });
  assert.equal(f.evidence.listenDrops, overflows);
  assert.equal(f.evidence.acceptQueueLimit, 1);
  h.collector.pruneClosed(process.hrtime.bigint());
  assert.equal(h.collector.readListeners().some((x) => x.sockId === l.sockId), false, 'closed listener pruned');
});

test('final ACKs refused by a full accept queue are kernel drops attributed to the listener',
  { skip: skip ?? (existsSync(LOSS_OBJECT) ? undefined : 'tcp_loss fixture not built') }, async (t) => {
  // Hold back the clients' handshake ACKs so that many requests wait in the SYN queue, then let them all
  // complete at once (on the server's SYN-ACK retransmit): the accept queue (limit 1) overflows on the ACK path.
  const loss = BpfObject.load(LOSS_OBJECT);
  try {
    const cfg = loss.map('tcp_loss_cfg');
    const set = (idx: number, v: number) => {
      const k = Buffer.alloc(4);
      k.writeUInt32LE(idx);
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(v));
      cfg.update(k, b);
    };
    set(2, 100);
    loss.program('tcp_loss').attachTc({ ifname: h.pair.b.ifname, netns: h.pair.b.name, direction: 'ingress' });
    const before = await netnsCounters(h.pair.b);
    const server = await startPeerServer(h.pair.b, ['listen-only', h.pair.b.ip4, '0', '1']);
    events.length = 0;
    const flood = runPeer(h.pair.a, ['flood', h.pair.b.ip4, String(server.port), '10', '2500']);
    await new Promise((r) => setTimeout(r, 300));
    set(2, 0); // the SYN-ACK retransmit (~1 s) now completes every handshake at once
    await flood;
    server.kill();
    await server.done.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    h.collector.poll();
    const afterCounters = await netnsCounters(h.pair.b);
    const overflows = afterCounters.get('TcpExt.ListenOverflows')! - before.get('TcpExt.ListenOverflows')!;
    const l = h.collector.readListeners().find((x) => x.netns === h.pair.b.inode && x.local.port === server.port);
    const drops = events.filter((e) => e.kind === 'listen-overflow' && e.netns === h.pair.b.inode && e.local.port === server.port);
    const perReason = h.collector.readDrops().filter((d) => d.netns === h.pair.b.inode && d.lport === server.port);
    t.diagnostic(`ListenOverflows +${overflows}; listener drops ${l?.skDrops}, final-ACK overflow drops ${l?.overflowDrops}; ` +
      `overflow events ${drops.length}; drop map ${JSON.stringify(perReason.map((d) => [d.reasonName, d.count]))}`);
    assert.ok(l, 'listener tracked');
    assert.ok(l.overflowDrops > 0, 'final-ACK overflows seen');
    assert.equal(l.skDrops, overflows, 'every overflow counted on the listener');
    assert.ok(drops.length > 0 && drops.length === l.overflowDrops, `${drops.length} events vs ${l.overflowDrops} counted`);
    // the kernel's reason code on this path (NO_SOCKET on 6.x, TCP_LISTEN_OVERFLOW elsewhere) is reported as is
    const reason = drops[0]!.reasonName;
    assert.ok(drops.every((e) => e.reasonName === reason && e.pid === l.pid && e.comm === 'tcp-peer' && e.listenerId === l.sockId));
    const byReason = perReason.find((d) => d.reasonName === reason && d.sockId === l.sockId);
    assert.equal(byReason?.count, l.overflowDrops);
    assert.equal(byReason?.pid, l.pid);
  } finally {
    loss.close();
  }
});
