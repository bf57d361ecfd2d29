// Listen overflow, loss, RTO/SYN timeouts, zero-window stalls, reset storms, and the live engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnoseListenOverflow } from '../../../src/detect/tcp/listen.js';
import { diagnoseRetransmissionStorm, diagnoseRtoStalls, SYN_TIMEOUT_KIND, RTO_KIND } from '../../../src/detect/tcp/loss.js';
import { diagnoseZeroWindow, ZERO_WINDOW_LOCAL_KIND, ZERO_WINDOW_PEER_KIND } from '../../../src/detect/tcp/stalls.js';
import { diagnoseResetStorm } from '../../../src/detect/tcp/resets.js';
import { TcpDiagnosisEngine } from '../../../src/detect/tcp/engine.js';
import { makeFinding } from '../../../src/detect/finding.js';
import { conn, connWindow, event, listener, SEC } from './samples.js';

test('listen overflow: reported with drops and queue figures; silent without drops', () => {
  const b = listener({ tsNs: 9n * SEC, skDrops: 3, overflowDrops: 1, accepted: 40 });
  const a = listener({ skDrops: 15, overflowDrops: 4, ackBacklog: 129, ackBacklogPeak: 129, accepted: 45, synackRetrans: 2 });
  const [f] = diagnoseListenOverflow({ startNs: 9n * SEC, endNs: 10n * SEC, conns: [], events: [], listeners: [{ before: b, after: a }] });
  assert.ok(f);
  assert.equal(f.evidence.listenDrops, 12);
  assert.equal(f.evidence.finalAckDrops, 3);
  assert.equal(f.evidence.acceptQueueLimit, 128);
  assert.equal(f.evidence.acceptedInWindow, 5);
  assert.equal(f.severity, 'critical');
  assert.deepEqual(f.subject.port, { netns: 4026531840, port: 8080 });
  assert.deepEqual(diagnoseListenOverflow({ startNs: 0n, endNs: SEC, conns: [], events: [], listeners: [{ before: b, after: b }] }), []);
});

test('retransmission storm: ratio and count thresholds, drop reasons attached', () => {
  const b = conn({ tsNs: 9n * SEC, segsOut: 1000, totalRetrans: 2 });
  const a = conn({ segsOut: 2000, totalRetrans: 82, cwnd: 4, caState: 'recovery' });
  const drop = event({ kind: 'drop', sockId: 42n, reasonName: 'TCP_OFO_QUEUE_PRUNE' });
  const [f] = diagnoseRetransmissionStorm(connWindow(b, a, [drop]));
  assert.ok(f);
  assert.equal(f.evidence.retransmits, 80);
  assert.equal(f.evidence.retransPct, 8);
  assert.equal(f.evidence.localDropReasons, 'TCP_OFO_QUEUE_PRUNE:1');
  assert.deepEqual(diagnoseRetransmissionStorm(connWindow(b, { ...a, totalRetrans: 7 })), []); // 0.5 %
  assert.deepEqual(diagnoseRetransmissionStorm(connWindow(b, { ...a, segsOut: 1010, totalRetrans: 5 })), []); // 3 only
});

test('RTO stalls and SYN timeouts', () => {
  const b = conn({ tsNs: 9n * SEC });
  const rto = diagnoseRtoStalls(connWindow(b, conn({ rtoEvents: 2, totalRetrans: 2 })));
  assert.equal(rto.length, 1);
  assert.equal(rto[0]!.kind, RTO_KIND);
  assert.equal(rto[0]!.evidence.rtoEvents, 2);
  assert.equal(rto[0]!.evidence.estimatedStallMs, 400);
  const syn = diagnoseRtoStalls(connWindow(conn({ tsNs: 9n * SEC, state: 'SYN_SENT' }),
    conn({ state: 'CLOSE', synRetrans: 3, handshakeFailed: 1, connectLatencyNs: 0n })));
  assert.deepEqual(syn.map((f) => f.kind), [SYN_TIMEOUT_KIND]);
  assert.equal(syn[0]!.severity, 'critical');
  assert.deepEqual(diagnoseRtoStalls(connWindow(b, b)), []);
});

test('zero-window stalls on either side', () => {
  const b = conn({ tsNs: 9n * SEC });
  const both = diagnoseZeroWindow(connWindow(b, conn({ zeroWndPeerNs: 600e6, zeroWndPeerEpisodes: 2, zeroWndLocalNs: 150e6, zeroWndLocalEpisodes: 1 })));
  assert.deepEqual(both.map((f) => f.kind), [ZERO_WINDOW_PEER_KIND, ZERO_WINDOW_LOCAL_KIND]);
  assert.equal(both[0]!.evidence.stalledMs, 600);
  assert.equal(both[0]!.severity, 'critical');
  assert.equal(both[1]!.severity, 'warning');
  assert.deepEqual(diagnoseZeroWindow(connWindow(b, conn({ zeroWndPeerNs: 50e6 }))), []);
});

test('reset storm per port', () => {
  const evs = Array.from({ length: 12 }, (_, i) => event({ kind: i % 3 ? 'reset-sent' : 'reset-received' }));
  const [f] = diagnoseResetStorm({ startNs: 0n, endNs: 2n * SEC, conns: [], listeners: [], events: evs });
  assert.ok(f);
  assert.equal(f.evidence.resetsSent, 8);
  assert.equal(f.evidence.resetsReceived, 4);
  assert.equal(f.evidence.resetsPerSec, 6);
  assert.deepEqual(diagnoseResetStorm({ startNs: 0n, endNs: SEC, conns: [], listeners: [], events: evs.slice(0, 5) }), []);
});

test('no finding without evidence', () => {
  assert.throws(() => makeFinding({ kind: 'x', severity: 'info', title: 't', subject: {}, window: { startNs: 0n, endNs: 0n },
    evidence: {}, why: 'w', fix: 'f' }), /without evidence/);
});

test('engine: the first tick is a baseline, later ticks diagnose deltas', () => {
  const engine = new TcpDiagnosisEngine();
  const start = conn({ tsNs: 9n * SEC, totalRetrans: 500, segsOut: 1000 });
  assert.deepEqual(engine.tick(9n * SEC, [start], []).findings, []); // old retransmits are history, not a storm
  const later = conn({ totalRetrans: 600, segsOut: 2000 });
  const { findings, window } = engine.tick(10n * SEC, [later], []);
  assert.equal(window.startNs, 9n * SEC);
  assert.deepEqual(findings.map((f) => f.kind), ['tcp.retransmission-storm']);
  assert.equal(findings[0]!.evidence.retransmits, 100);
  engine.addEvents([event()]);
  const third = engine.tick(11n * SEC, [later], []);
  assert.deepEqual(third.findings.map((f) => f.kind), ['tcp.rcvbuf-after-handshake']);
  assert.deepEqual(engine.tick(12n * SEC, [later], []).findings, []); // events are consumed once
});

test('connection churn: many short client connections to one server', async () => {
  const { diagnoseConnectionChurn, CHURN_KIND } = await import('../../../src/detect/tcp/churn.js');
  const short = (i: number) => conn({
    sockId: BigInt(100 + i), local: { ip: '10.0.0.1', port: 41000 + i }, state: 'CLOSE',
    establishedNs: 9n * SEC + BigInt(i) * 10_000_000n, closedNs: 9n * SEC + BigInt(i) * 10_000_000n + 2_000_000n,
  });
  const conns = Array.from({ length: 30 }, (_, i) => ({ after: short(i) }));
  const [f, ...rest] = diagnoseConnectionChurn({ startNs: 9n * SEC, endNs: 10n * SEC, conns, listeners: [], events: [] });
  assert.equal(rest.length, 0);
  assert.ok(f);
  assert.equal(f.kind, CHURN_KIND);
  assert.equal(f.evidence.connections, 30);
  assert.equal(f.evidence.avgLifetimeMs, 2);
  assert.equal(f.evidence.avgConnectLatencyMs, 0.1);
  // long-lived or few connections: fine
  assert.deepEqual(diagnoseConnectionChurn({ startNs: 9n * SEC, endNs: 10n * SEC, conns: conns.slice(0, 5), listeners: [], events: [] }), []);
  const long = conns.map(({ after }) => ({ after: { ...after, establishedNs: 1n } }));
  assert.deepEqual(diagnoseConnectionChurn({ startNs: 9n * SEC, endNs: 10n * SEC, conns: long, listeners: [], events: [] }), []);
});
