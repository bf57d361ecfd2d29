// Ineffective SO_RCVBUF: a listener whose small buffer fixed window scale 0 at the handshake, and an accepted
// socket that then asks for 512 KB - the window can never exceed 65535 << rcv_wscale. The same size set on
// the listener before listen() is not flagged (the handshake then picks a scale that can express it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpDiagnosisEngine } from '../../src/detect/tcp/engine.js';
import { SOCKBUF_KIND, maxAdvertisableWindow, wscaleNeeded } from '../../src/detect/tcp/sockbuf.js';
import { runPeer, startPeerServer, tcpE2eSkipReason, useTcpHosts } from './tcp-peer.js';

const skip = tcpE2eSkipReason();
const h = useTcpHosts(skip);
const { events } = h;
const BIG = 512 * 1024;

async function transfer(serverEnv: Record<string, string>) {
  const engine = new TcpDiagnosisEngine();
  h.collector.poll();
  events.length = 0;
  engine.tick(process.hrtime.bigint(), h.collector.readConns(), h.collector.readListeners());
  const server = await startPeerServer(h.pair.b, ['sink-server', h.pair.b.ip4, '0'], serverEnv);
  await runPeer(h.pair.a, ['bulk-client', h.pair.b.ip4, String(server.port), String(4 << 20)]);
  const report = await server.done;
  h.collector.poll();
  const mine = events.splice(0).filter((e) => e.netns === h.pair.b.inode && e.local.port === server.port);
  engine.addEvents(mine);
  const conns = h.collector.readConns();
  const { findings } = engine.tick(process.hrtime.bigint(), conns, h.collector.readListeners());
  const serverConn = conns.find((c) => c.netns === h.pair.b.inode && c.local.port === server.port && c.role === 'server');
  const clientConn = conns.find((c) => c.netns === h.pair.a.inode && c.remote.port === server.port && c.role === 'client');
  return { report, findings: findings.filter((f) => f.kind === SOCKBUF_KIND), events: mine, serverConn, clientConn };
}

test('SO_RCVBUF set after accept under a small-buffer listener is reported with requested vs effective window', { skip }, async (t) => {
  const { report, findings, events: evs, serverConn, clientConn } = await transfer({ LISTEN_RCVBUF: '8192', ACCEPT_RCVBUF: String(BIG) });
  t.diagnostic(`evidence ${JSON.stringify(findings[0]?.evidence)}; server rcv_wnd wanted ${serverConn?.rcvWndWanted}; ` +
    `largest window the client saw ${clientConn?.sndWndMax}`);
  assert.equal(report.received, 4 << 20);
  const set = evs.find((e) => e.kind === 'setsockopt' && e.option === 'SO_RCVBUF' && e.state === 'ESTABLISHED');
  assert.ok(set, 'the setsockopt on the accepted socket was captured');
  assert.equal(set.optval, BIG);
  assert.equal(set.pid, report.pid);
  assert.equal(findings.length, 1, `findings: ${JSON.stringify(findings.map((f) => f.evidence))}`);
  const ev = findings[0]!.evidence;
  assert.equal(ev.requestedBytes, BIG);
  assert.equal(ev.rcvWscale, set.rcvWscale);
  assert.ok((ev.rcvWscale as number) < wscaleNeeded(BIG), `rcvWscale ${ev.rcvWscale}`);
  assert.equal(ev.maxWindowBytes, maxAdvertisableWindow(true, ev.rcvWscale as number));
  assert.ok((ev.maxWindowBytes as number) < BIG);
  assert.equal(ev.stateAtCall, 'ESTABLISHED');
  assert.equal(findings[0]!.subject.process?.pid, report.pid);
  // and the sender indeed never saw a larger window than that
  assert.ok(serverConn && clientConn, 'both ends sampled');
  assert.ok(clientConn.sndWndMax <= (ev.maxWindowBytes as number), `peer window ${clientConn.sndWndMax} > ${ev.maxWindowBytes}`);
});

test('the same SO_RCVBUF on the listener before listen() is not flagged', { skip }, async (t) => {
  const { report, findings, serverConn, clientConn } = await transfer({ LISTEN_RCVBUF: String(BIG) });
  t.diagnostic(`accepted socket rcv_wscale ${serverConn?.rcvWscale}, rcvbuf ${serverConn?.rcvbuf}; ` +
    `largest window the client saw ${clientConn?.sndWndMax}`);
  assert.equal(report.received, 4 << 20);
  assert.equal(findings.length, 0, `unexpected: ${JSON.stringify(findings[0]?.evidence)}`);
  assert.ok(serverConn && clientConn, 'both ends sampled');
  assert.ok(clientConn.sndWndMax > 65535, `with a usable scale the window grows past 64 KB (saw ${clientConn.sndWndMax})`);
  assert.ok(maxAdvertisableWindow(serverConn.wscaleOk, serverConn.rcvWscale) >= BIG,
    `accepted socket got wscale ${serverConn.rcvWscale}`);
});
