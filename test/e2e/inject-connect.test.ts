// Connect faults (cgroup connect4/connect6): EPERM when the hook rejects, ECONNREFUSED when it redirects to
// loopback port 0; only sockets in the scoped namespace / port / process are touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collect } from '../helpers/netns.js';
import { HTTP_PEER, injectSkipReason, peer, useInjectHosts, type ConnectResult } from '../inject/helpers.js';

const skip = injectSkipReason();
const h = useInjectHosts(skip);

for (const errno of ['EPERM', 'ECONNREFUSED'] as const) {
  test(`refuse with ${errno}: IPv4 and IPv6 connects fail at once with ${errno}; other namespaces and ports do not`, { skip }, async (t) => {
    const f = h.engine.inject({ kind: 'refuse', errno, ttlSec: 30, scope: { netns: h.pair.a.name, remotePort: h.http.port } });
    const v4 = await peer<ConnectResult>(h.pair.a, ['connect', h.pair.b.ip4, String(h.http.port), '1000']);
    const v6 = await peer<ConnectResult>(h.pair.a, ['connect', h.pair.b.ip6, String(h.http.port), '1000']);
    // same port from the server's own namespace: out of scope
    const otherNs = await peer<ConnectResult>(h.pair.b, ['connect', h.pair.b.ip4, String(h.http.port), '1000']);
    // another port from the scoped namespace: out of scope (nothing listens: the real kernel answer)
    const otherPort = await peer<ConnectResult>(h.pair.a, ['connect', h.pair.b.ip4, String(h.http.port === 65000 ? 65001 : 65000), '1000']);
    const st = h.engine.stats(f.id)!;
    h.engine.stop(f.id);
    t.diagnostic(`v4 ${JSON.stringify(v4)} v6 ${JSON.stringify(v6)} other netns ${JSON.stringify(otherNs)} other port ${JSON.stringify(otherPort)}`);
    assert.equal(v4.error, errno);
    assert.equal(v6.error, errno);
    assert.ok(v4.ms < 500 && v6.ms < 500, 'refused at once, no timeout');
    assert.equal(otherNs.ok, true);
    assert.equal(otherPort.error, 'ECONNREFUSED'); // from the peer's RST, not from us
    assert.equal(st.acted, 2, `the hook acted ${st.acted} times`);
    const back = await peer<ConnectResult>(h.pair.a, ['connect', h.pair.b.ip4, String(h.http.port), '1000']);
    assert.equal(back.ok, true, 'connects work after stop');
  });
}

test('refuse scoped to a pid touches that process only', { skip }, async () => {
  const waiting = h.pair.a.spawn('node', [HTTP_PEER, 'connect', h.pair.b.ip4, String(h.http.port), '1000'],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, WAIT_STDIN: '1' } });
  const done = collect(waiting, 'connect-wait');
  await new Promise<void>((resolve) => waiting.stdout!.once('data', () => resolve()));
  const f = h.engine.inject({ kind: 'refuse', errno: 'EPERM', ttlSec: 30, scope: { pid: waiting.pid! } });
  try {
    const bystander = await peer<ConnectResult>(h.pair.a, ['connect', h.pair.b.ip4, String(h.http.port), '1000']);
    waiting.stdin!.write('go\n');
    const target = JSON.parse((await done).stdout.trim().split('\n').pop()!) as ConnectResult;
    assert.equal(target.error, 'EPERM');
    assert.equal(bystander.ok, true);
  } finally {
    h.engine.stop(f.id);
  }
});
