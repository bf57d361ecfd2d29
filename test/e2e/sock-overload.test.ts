// Ring-buffer overload (issue 2): with a tiny ring buffer and a consumer that cannot keep up, records are
// dropped and counted, while the traced program runs to completion unharmed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { SockCapture, sockCaptureUnavailable } from '../helpers/sock-capture.js';
import { sockPeerBinary, startServer } from '../helpers/sock-peer.js';

const skip = sockCaptureUnavailable();

test('a flood into a tiny ring buffer raises the drop counter; the traced program completes', { skip }, async () => {
  const bin = sockPeerBinary();
  const cap = new SockCapture({ ringBytes: 16384, payloadBytes: 64 }); // room for ~80 records
  try {
    const writes = 20000;
    const srv = await startServer(undefined, ['tcp', '127.0.0.1', '0', 'write', String(writes), '0']);
    const before = cap.collector.stats();
    // execFileSync blocks this event loop, so nothing drains the ring buffer while the flood runs.
    const out = execFileSync(bin, ['flood', 'tcp', '127.0.0.1', String(srv.port), String(writes)], { encoding: 'utf8', timeout: 60000 });
    const flood = JSON.parse(out.trim()) as { pid: number; sent: number };
    assert.equal(flood.sent, writes, 'the traced program did not finish its writes');
    const server = await srv.done;
    assert.equal(server.received, writes, 'the server did not receive every byte');

    cap.collector.drain();
    const after = cap.collector.stats();
    const drops = after.drops - before.drops;
    assert.ok(drops > 0n, `no drops counted (records=${after.records})`);
    // every record the kernel side tried to write is either delivered or counted as dropped:
    // the flood's writes + the server's reads are at least 2 * writes attempts
    assert.ok(after.records - before.records + drops >= BigInt(writes), `records+drops=${after.records - before.records + drops}`);
    assert.ok(after.delivered < 2 * writes, 'everything was delivered: the ring buffer was not overloaded');
  } finally {
    cap.close();
  }
});
