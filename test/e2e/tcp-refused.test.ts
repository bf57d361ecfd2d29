// A connect() to a port nobody listens on: the peer answers the SYN with a RST. faultlens must record the
// handshake failure and the received reset on that socket, attributed to the connecting process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPeer, tcpE2eSkipReason, useTcpHosts } from './tcp-peer.js';

const skip = tcpE2eSkipReason();
const h = useTcpHosts(skip);
const { events } = h;

test('a refused connect is a handshake failure with a received reset', { skip }, async () => {
  const port = 9; // discard: closed in a fresh namespace
  const r = await runPeer(h.pair.a, ['try-connect', h.pair.b.ip4, String(port)]);
  assert.equal(r.errno, 111); // ECONNREFUSED
  h.collector.poll();
  const mine = events.filter((e) => e.netns === h.pair.a.inode && e.remote.port === port);
  const failed = mine.find((e) => e.kind === 'handshake-failed');
  const rst = mine.find((e) => e.kind === 'reset-received');
  assert.ok(failed, `handshake-failed event (got ${mine.map((e) => e.kind).join(', ')}; ${events.length} events in all, ` +
    `collector ${JSON.stringify(h.collector.stats(), (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}, warnings ${h.collector.warnings.join('; ')})`);
  assert.ok(rst, 'reset-received event');
  assert.equal(failed.oldState, 'SYN_SENT');
  assert.equal(failed.state, 'CLOSE');
  assert.equal(failed.pid, r.pid);
  assert.equal(failed.comm, 'tcp-peer');
  assert.equal(rst.sockId, failed.sockId);
  const c = h.collector.readConns().find((x) => x.sockId === failed.sockId);
  assert.ok(c, 'connection entry kept after close');
  assert.equal(c.handshakeFailed, 1);
  assert.equal(c.resetsRecv, 1);
  assert.equal(c.role, 'client');
  assert.equal(c.pid, r.pid);
  // the reset the peer namespace sent has no socket to attribute it to: no entry there
  assert.equal(events.some((e) => e.kind === 'reset-sent' && e.netns === h.pair.b.inode && e.sockId !== 0n), false);
});
