// A reader that stops reading: its receive buffer fills and it advertises a zero window. faultlens must see
// the stall on both ends - the sender blocked by the peer's zero window, the reader advertising it - and the
// diagnosers must attribute it to the slow reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpDiagnosisEngine } from '../../src/detect/tcp/engine.js';
import { ZERO_WINDOW_LOCAL_KIND, ZERO_WINDOW_PEER_KIND } from '../../src/detect/tcp/stalls.js';
import { runPeer, startPeerServer, tcpE2eSkipReason, useTcpHosts } from './tcp-peer.js';

const skip = tcpE2eSkipReason();
const h = useTcpHosts(skip);

test('a stalled reader shows up as zero-window time on both ends', { skip }, async (t) => {
  const engine = new TcpDiagnosisEngine();
  engine.tick(process.hrtime.bigint(), h.collector.readConns(), h.collector.readListeners());
  const server = await startPeerServer(h.pair.b, ['sink-server', h.pair.b.ip4, '0', '1500'], { ACCEPT_RCVBUF: '16384' });
  const client = await runPeer(h.pair.a, ['bulk-client', h.pair.b.ip4, String(server.port), String(1 << 20)]);
  const report = await server.done;
  assert.equal(report.received, 1 << 20);
  const conns = h.collector.readConns();
  const sender = conns.find((c) => c.netns === h.pair.a.inode && c.local.port === client.lport);
  const reader = conns.find((c) => c.netns === h.pair.b.inode && c.remote.port === client.lport);
  t.diagnostic(`sender: ${sender?.zeroWndPeerEpisodes} episodes, ${Math.round((sender?.zeroWndPeerNs ?? 0) / 1e6)} ms; ` +
    `reader: ${reader?.zeroWndLocalEpisodes} episodes, ${Math.round((reader?.zeroWndLocalNs ?? 0) / 1e6)} ms`);
  assert.ok(sender && reader, 'both ends tracked');
  assert.ok(sender.zeroWndPeerEpisodes >= 1);
  // the reader paused 1.5 s; the sender waits most of it (minus the time to fill 16 KB). The upper bound
  // allows for the persist timer: zero-window probes back off exponentially (0.2, 0.4, 0.8, 1.6 s ...), so
  // on a loaded machine the window can stay closed on the books up to one probe interval past the pause.
  assert.ok(sender.zeroWndPeerNs > 500e6 && sender.zeroWndPeerNs < 5000e6, `sender stalled ${sender.zeroWndPeerNs / 1e6} ms`);
  assert.ok(reader.zeroWndLocalNs > 500e6 && reader.zeroWndLocalNs < 5000e6, `reader stalled ${reader.zeroWndLocalNs / 1e6} ms`);

  const { findings } = engine.tick(process.hrtime.bigint(), conns, h.collector.readListeners());
  const peer = findings.find((f) => f.kind === ZERO_WINDOW_PEER_KIND && f.subject.flow?.sockId === sender.sockId.toString());
  const local = findings.find((f) => f.kind === ZERO_WINDOW_LOCAL_KIND && f.subject.flow?.sockId === reader.sockId.toString());
  assert.ok(peer, 'sender-side finding');
  assert.ok(local, 'reader-side finding');
  assert.equal(local.subject.process?.pid, report.pid);
});
