import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  diagnoseIneffectiveRcvbuf, maxAdvertisableWindow, wscaleNeeded, SOCKBUF_KIND, LISTENER_SOCKBUF_KIND,
} from '../../../src/detect/tcp/sockbuf.js';
import { conn, event, listener, SEC } from './samples.js';
import type { TcpEvent } from '../../../src/model/tcp.js';

const win = (events: TcpEvent[], conns = [] as ReturnType<typeof conn>[]) => ({
  startNs: 0n, endNs: 10n * SEC, events, conns: conns.map((after) => ({ after })),
  listeners: [{ after: listener({ rcvbuf: 8192 }) }],
});

test('window-scale arithmetic', () => {
  assert.equal(maxAdvertisableWindow(true, 0), 65535);
  assert.equal(maxAdvertisableWindow(true, 7), 65535 * 128);
  assert.equal(maxAdvertisableWindow(false, 7), 65535);
  assert.equal(wscaleNeeded(65535), 0);
  assert.equal(wscaleNeeded(524288), 4);
});

test('SO_RCVBUF after the handshake beyond what the window scale can express is reported', () => {
  const [f, ...rest] = diagnoseIneffectiveRcvbuf(win([event()]));
  assert.equal(rest.length, 0);
  assert.ok(f);
  assert.equal(f.kind, SOCKBUF_KIND);
  assert.equal(f.evidence.requestedBytes, 524288);
  assert.equal(f.evidence.maxWindowBytes, 65535);
  assert.equal(f.evidence.effectiveWindowBytes, 16000);
  assert.equal(f.evidence.rcvWscale, 0);
  assert.equal(f.evidence.wscaleNeeded, 4);
  assert.equal(f.evidence.listenerRcvbufBytes, 8192);
  assert.equal(f.evidence.callerStack, '0x401234');
  assert.equal(f.evidence.stateAtCall, 'ESTABLISHED');
  assert.equal(f.severity, 'critical');
  assert.match(f.fix, /before listen\(\)/);
});

test('not reported when the scale can express the size, before the handshake, or when the call failed', () => {
  assert.deepEqual(diagnoseIneffectiveRcvbuf(win([event({ rcvWscale: 4 })])), []);
  assert.deepEqual(diagnoseIneffectiveRcvbuf(win([event({ state: 'CLOSE' })])), []);
  assert.deepEqual(diagnoseIneffectiveRcvbuf(win([event({ ret: -22 })])), []);
  assert.deepEqual(diagnoseIneffectiveRcvbuf(win([event({ option: 'SO_SNDBUF', optname: 7 })])), []);
});

test('listener buffer raised after connections were accepted is reported on the port', () => {
  const old = conn({ role: 'server', local: { ip: '10.0.0.2', port: 8080 }, rcvWscale: 0, establishedNs: 2n * SEC });
  const later = conn({ sockId: 50n, role: 'server', local: { ip: '10.0.0.2', port: 8080 }, rcvWscale: 0, establishedNs: 8n * SEC });
  const e = event({ state: 'LISTEN', tsNs: 5n * SEC, sockId: 7n, listenerId: 0n });
  const [f, ...rest] = diagnoseIneffectiveRcvbuf(win([e], [old, later]));
  assert.equal(rest.length, 0);
  assert.ok(f);
  assert.equal(f.kind, LISTENER_SOCKBUF_KIND);
  assert.equal(f.evidence.connectionsAlreadyAccepted, 1);
  assert.deepEqual(f.subject.port, { netns: 4026531840, port: 8080 });
  // before any connection: fine
  assert.deepEqual(diagnoseIneffectiveRcvbuf(win([e], [later])), []);
});

test('a connection whose wanted window exceeds what its scale can carry is reported from its state alone', async () => {
  const { WSCALE_LIMIT_KIND } = await import('../../../src/detect/tcp/sockbuf.js');
  const capped = conn({ role: 'server', rcvWscale: 0, rcvWndWanted: 784816, rcvWnd: 65535, rcvbuf: 1048576, srttUs: 100 });
  const [f, ...rest] = diagnoseIneffectiveRcvbuf({ startNs: 0n, endNs: SEC, events: [], listeners: [], conns: [{ after: capped }] });
  assert.equal(rest.length, 0);
  assert.ok(f);
  assert.equal(f.kind, WSCALE_LIMIT_KIND);
  assert.equal(f.evidence.wantedWindowBytes, 784816);
  assert.equal(f.evidence.maxWindowBytes, 65535);
  assert.equal(f.evidence.wscaleNeeded, 4);
  assert.equal(f.evidence.throughputCapBytesPerSec, 655350000);
  // healthy scale, or the same socket already reported from its setsockopt: nothing more
  assert.deepEqual(diagnoseIneffectiveRcvbuf({ startNs: 0n, endNs: SEC, events: [], listeners: [],
    conns: [{ after: { ...capped, rcvWscale: 7 } }] }), []);
  const both = diagnoseIneffectiveRcvbuf({ startNs: 0n, endNs: SEC, listeners: [],
    events: [event({ sockId: capped.sockId })], conns: [{ after: capped }] });
  assert.deepEqual(both.map((x) => x.kind), [SOCKBUF_KIND]);
});
