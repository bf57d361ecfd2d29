// Nagle × delayed ACK, reproduced with real sockets over a veth pair (MTU 1500): the client writes each
// request as two sub-MSS pieces without TCP_NODELAY; the server answers only after the whole request.
// The diagnoser must report it with the measured ~40 ms ACK delay, and must stay silent with TCP_NODELAY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpDiagnosisEngine } from '../../src/detect/tcp/engine.js';
import { NAGLE_KIND } from '../../src/detect/tcp/nagle.js';
import { runPeer, startPeerServer, tcpE2eSkipReason, useTcpHosts } from './tcp-peer.js';

const skip = tcpE2eSkipReason();
const h = useTcpHosts(skip);
const { events } = h;

async function exchange(nodelay: boolean) {
  const engine = new TcpDiagnosisEngine();
  h.collector.poll();
  engine.addEvents(events.splice(0));
  engine.tick(process.hrtime.bigint(), h.collector.readConns(), h.collector.readListeners());
  const t0 = process.hrtime.bigint();
  const server = await startPeerServer(h.pair.b, ['rr-server', h.pair.b.ip4, '0', '200', '100']);
  const client = await runPeer(h.pair.a, ['rr-client', h.pair.b.ip4, String(server.port), '50', '100', '100', '100'],
    nodelay ? { NODELAY: '1' } : {});
  await server.done;
  h.collector.poll();
  engine.addEvents(events.splice(0));
  const { findings } = engine.tick(process.hrtime.bigint(), h.collector.readConns(), h.collector.readListeners());
  const detectedAfterMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const mine = findings.filter((f) => f.kind === NAGLE_KIND && f.subject.flow?.netns === h.pair.a.inode &&
    f.subject.flow.local.port === client.lport);
  return { client, mine, detectedAfterMs };
}

test('Nagle × delayed ACK is reported with the measured ACK delay', { skip }, async (t) => {
  const { client, mine, detectedAfterMs } = await exchange(false);
  t.diagnostic(`client ${client.perExchangeMs} ms/exchange; evidence ${JSON.stringify(mine[0]?.evidence)}`);
  // the stall is real: each exchange took about one delayed-ACK timeout
  assert.ok(client.perExchangeMs! > 30, `client saw ${client.perExchangeMs} ms per exchange, expected a ~40 ms stall`);
  assert.equal(mine.length, 1, `expected one finding on the client flow, got ${mine.length}`);
  const f = mine[0]!;
  const ev = f.evidence;
  assert.ok(detectedAfterMs < 5000, `detected after ${detectedAfterMs} ms`);
  assert.ok((ev.ackDelayMs as number) >= 35 && (ev.ackDelayMs as number) <= 50, `ackDelayMs ${ev.ackDelayMs}`);
  assert.ok((ev.pathMinRttMs as number) < 5, `pathMinRttMs ${ev.pathMinRttMs}`);
  assert.equal(ev.nodelay, false);
  assert.equal(ev.mssBytes, 1448); // MTU 1500 - 40 IP/TCP - 12 timestamps
  assert.ok((ev.heldSmallWrites as number) >= 20, `heldSmallWrites ${ev.heldSmallWrites}`);
  assert.equal(ev.avgSmallWriteBytes, 100);
  assert.equal(f.subject.process?.comm, 'tcp-peer');
  assert.equal(f.subject.process?.pid, client.pid);
  assert.match(f.fix, /TCP_NODELAY/);
});

test('the same exchange with TCP_NODELAY is not flagged', { skip }, async (t) => {
  const { client, mine } = await exchange(true);
  t.diagnostic(`client ${client.perExchangeMs} ms/exchange with TCP_NODELAY`);
  assert.ok(client.perExchangeMs! < 10, `client saw ${client.perExchangeMs} ms per exchange`);
  assert.equal(mine.length, 0, `unexpected finding: ${JSON.stringify(mine[0]?.evidence)}`);
});
