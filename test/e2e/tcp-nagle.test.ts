// Nagle × delayed ACK, reproduced with real sockets over a veth pair (MTU 1500): the client writes each
// request as two sub-MSS pieces without TCP_NODELAY; the server answers only after the whole request.
// The diagnoser must report it with the measured ~40 ms ACK delay, and must stay silent with TCP_NODELAY.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TcpCollector } from '../../src/collect/tcp-collector.js';
import { TcpDiagnosisEngine } from '../../src/detect/tcp/engine.js';
import { NAGLE_KIND } from '../../src/detect/tcp/nagle.js';
import type { TcpEvent } from '../../src/model/tcp.js';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { runPeer, startPeerServer, tcpE2eSkipReason, TCP_OBJECT } from './tcp-peer.js';

const skip = tcpE2eSkipReason();
let pair: NetnsPair;
let collector: TcpCollector;
const events: TcpEvent[] = [];

before(() => {
  if (skip) return;
  pair = createNetnsPair();
  collector = new TcpCollector({ objectPath: TCP_OBJECT, netns: [pair.a.inode, pair.b.inode], onEvents: (e) => events.push(...e) }).start();
});

after(() => {
  collector?.close();
  pair?.destroy();
});

async function exchange(nodelay: boolean) {
  const engine = new TcpDiagnosisEngine();
  collector.poll();
  engine.addEvents(events.splice(0));
  engine.tick(process.hrtime.bigint(), collector.readConns(), collector.readListeners());
  const t0 = process.hrtime.bigint();
  const server = await startPeerServer(pair.b, ['rr-server', pair.b.ip4, '0', '200', '100']);
  const client = await runPeer(pair.a, ['rr-client', pair.b.ip4, String(server.port), '50', '100', '100', '100'],
    nodelay ? { NODELAY: '1' } : {});
  await server.done;
  collector.poll();
  engine.addEvents(events.splice(0));
  const { findings } = engine.tick(process.hrtime.bigint(), collector.readConns(), collector.readListeners());
  const detectedAfterMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const mine = findings.filter((f) => f.kind === NAGLE_KIND && f.subject.flow?.netns === pair.a.inode &&
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
