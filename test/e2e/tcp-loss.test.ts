// Packet loss on a veth (a tc ingress program drops a random 10 % of data-carrying skbs; this kernel has no
// netem): the retransmits faultlens counts on the sender must equal the rise of its namespace's
// TcpRetransSegs, and the retransmission-storm diagnoser must flag the flow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { BpfObject } from '../../src/kernel/index.js';
import { TcpDiagnosisEngine } from '../../src/detect/tcp/engine.js';
import { RETRANS_STORM_KIND, RTO_KIND } from '../../src/detect/tcp/loss.js';
import { netnsCounters, runPeer, startPeerServer, tcpE2eSkipReason, useTcpHosts } from './tcp-peer.js';

const LOSS_OBJECT = join(import.meta.dirname, '..', '..', 'bpf', '.output', 'fixtures', 'tcp_loss.bpf.o');
const skip = tcpE2eSkipReason() ?? (existsSync(LOSS_OBJECT) ? undefined : 'bpf/.output/fixtures/tcp_loss.bpf.o not built');
let loss: BpfObject;
// node:test runs `after` hooks in registration order: this one, removing the loss filter, goes before
// useTcpHosts' one, which deletes the namespaces
after(() => {
  loss?.close();
});
const h = useTcpHosts(skip);

before(() => {
  if (skip) return;
  loss = BpfObject.load(LOSS_OBJECT);
  setLoss(10); // of skbs: veth passes GSO packets whole, so one drop can cost many segments
  loss.program('tcp_loss').attachTc({ ifname: h.pair.b.ifname, netns: h.pair.b.name, direction: 'ingress' });
});

function setLoss(pct: number): void {
  const v = Buffer.alloc(8);
  v.writeBigUInt64LE(BigInt(pct));
  loss.map('tcp_loss_cfg').update(Buffer.alloc(4), v);
}

test('retransmits under loss match TcpRetransSegs and are diagnosed', { skip }, async (t) => {
  const engine = new TcpDiagnosisEngine();
  engine.tick(process.hrtime.bigint(), h.collector.readConns(), h.collector.readListeners());
  const before = await netnsCounters(h.pair.a);
  const server = await startPeerServer(h.pair.b, ['sink-server', h.pair.b.ip4, '0']);
  const client = await runPeer(h.pair.a, ['bulk-client', h.pair.b.ip4, String(server.port), String(8 << 20)]);
  const received = await server.done;
  // Both figures settle once the connection is gone (FIN retransmits, the TIME_WAIT transition, whose state
  // change takes the last snapshot): read them until they agree, for up to 3 s on a busy machine.
  let kernelRetrans = 0;
  let conns = h.collector.readConns();
  const sumA = () => conns.filter((c) => c.netns === h.pair.a.inode).reduce((n, c) => n + c.totalRetrans, 0);
  for (const deadline = Date.now() + 3000; ;) {
    await new Promise((r) => setTimeout(r, 300));
    const afterCounters = await netnsCounters(h.pair.a);
    kernelRetrans = afterCounters.get('Tcp.RetransSegs')! - before.get('Tcp.RetransSegs')!;
    conns = h.collector.readConns();
    if (sumA() === kernelRetrans || Date.now() > deadline) break;
  }

  const key = Buffer.alloc(4);
  key.writeUInt32LE(1);
  const dropped = loss.map('tcp_loss_cfg').lookup(key)!.readBigUInt64LE(0);
  assert.equal(received.received, 8 << 20);
  assert.ok(dropped > 0n, 'the loss program dropped segments');

  const inA = conns.filter((c) => c.netns === h.pair.a.inode);
  const ours = sumA();
  assert.equal(inA.filter((c) => c.local.port === client.lport).length, 1, 'one entry per socket (no split between address and cookie ids)');
  t.diagnostic(`skbs dropped ${dropped}, TcpRetransSegs +${kernelRetrans}, faultlens ${ours}`);
  assert.ok(kernelRetrans > 0, 'the kernel retransmitted');
  assert.equal(ours, kernelRetrans, `faultlens ${ours} retransmits vs TcpRetransSegs +${kernelRetrans}`);

  const { findings } = engine.tick(process.hrtime.bigint(), conns, h.collector.readListeners());
  const storm = findings.find((f) => f.kind === RETRANS_STORM_KIND && f.subject.flow?.netns === h.pair.a.inode &&
    f.subject.flow.local.port === client.lport);
  const mine = inA.find((c) => c.local.port === client.lport);
  assert.ok(storm, `retransmission storm reported (client: ${mine?.totalRetrans} retransmits / ${mine?.segsOut} segments)`);
  assert.equal(storm.evidence.retransmits, kernelRetrans);
  assert.equal(storm.subject.process?.pid, client.pid);
});

test('a blackout of a request/response flow is reported as RTO stalls', { skip }, async (t) => {
  setLoss(0);
  const engine = new TcpDiagnosisEngine();
  engine.tick(process.hrtime.bigint(), h.collector.readConns(), h.collector.readListeners());
  const server = await startPeerServer(h.pair.b, ['rr-server', h.pair.b.ip4, '0', '200', '100']);
  const run = runPeer(h.pair.a, ['rr-client', h.pair.b.ip4, String(server.port), '3000', '100', '100', '100'], { NODELAY: '1' });
  await new Promise((r) => setTimeout(r, 50));
  setLoss(100); // every data segment towards the server is lost for 700 ms
  await new Promise((r) => setTimeout(r, 700));
  setLoss(0);
  const client = await run;
  await server.done;
  const conns = h.collector.readConns();
  const c = conns.find((x) => x.netns === h.pair.a.inode && x.local.port === client.lport);
  t.diagnostic(`client: ${c?.rtoEvents} RTOs, ${c?.totalRetrans} retransmits, ${client.elapsedMs} ms for 3000 exchanges`);
  assert.ok(c, 'client flow tracked');
  assert.ok(c.rtoEvents >= 2, `rto events ${c.rtoEvents}`);
  const { findings } = engine.tick(process.hrtime.bigint(), conns, h.collector.readListeners());
  const rto = findings.find((f) => f.kind === RTO_KIND && f.subject.flow?.sockId === c.sockId.toString());
  assert.ok(rto, `RTO finding (got ${findings.map((f) => f.kind).join(', ')})`);
  assert.equal(rto.evidence.rtoEvents, c.rtoEvents);
  assert.equal(rto.subject.process?.pid, client.pid);
});
