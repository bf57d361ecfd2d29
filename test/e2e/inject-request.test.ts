// Request-level fault: `GET /api/cart` on the server's namespace times out while `/api/catalog` on the same
// server stays 100 % healthy, and so do other methods and look-alike paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { injectSkipReason, peer, startHttpServer, useInjectHosts, type ClientReport } from '../inject/helpers.js';

const skip = injectSkipReason();
const h = useInjectHosts(skip);

const PATHS = ['/api/cart', '/api/catalog', '/api/cart/42', '/api/cart?x=1', '/api/cartography'];

test('GET /api/cart fails (timeout) while /api/catalog stays 100% healthy', { skip }, async (t) => {
  const base = `http://${h.pair.b.ip4}:${h.http.port}`;
  const healthy = await peer<ClientReport>(h.pair.a, ['client', base, '3', '1000', ...PATHS]);
  for (const p of PATHS) assert.equal(healthy[p]!.ok, 3, `${p} unhealthy before the fault: ${JSON.stringify(healthy[p])}`);

  const f = h.engine.inject({ kind: 'request', method: 'GET', path: '/api/cart', ttlSec: 60, scope: { netns: h.pair.b.name, localPort: h.http.port } });
  const r = await peer<ClientReport>(h.pair.a, ['client', base, '8', '700', ...PATHS]);
  const st = h.engine.stats(f.id)!;
  t.diagnostic(`${JSON.stringify(r)} stats ${JSON.stringify(st)}`);
  assert.deepEqual(r['/api/cart'], { ok: 0, fail: 8, errors: { TIMEOUT: 8 }, maxMs: r['/api/cart']!.maxMs });
  assert.equal(r['/api/cart/42']!.fail, 8, 'a sub-path of the route fails too');
  assert.equal(r['/api/cart?x=1']!.fail, 8, 'a query string does not escape the route');
  assert.equal(r['/api/catalog']!.ok, 8, `/api/catalog: ${JSON.stringify(r['/api/catalog'])}`);
  assert.equal(r['/api/cartography']!.ok, 8, 'a longer path name is another route');
  assert.ok(r['/api/catalog']!.maxMs < 500, `/api/catalog slowed down to ${r['/api/catalog']!.maxMs} ms`);
  assert.ok(st.acted >= 24, `${st.acted} packets dropped`);

  h.engine.stop(f.id);
  const after = await peer<ClientReport>(h.pair.a, ['client', base, '2', '1000', '/api/cart']);
  assert.equal(after['/api/cart']!.ok, 2, 'the route works again after stop');
});

test('the same fault over IPv6, and prefix matching of a path', { skip }, async () => {
  const http6 = await startHttpServer(h.pair.b, h.pair.b.ip6);
  try {
    const f = h.engine.inject({ kind: 'request', method: 'GET', path: '/api/cart', prefix: true, ttlSec: 60, scope: { netns: h.pair.b.name, localPort: http6.port } });
    const r = await peer<ClientReport>(h.pair.a, ['client', `http://[${h.pair.b.ip6}]:${http6.port}`, '3', '700', '/api/cartography', '/api/catalog']);
    h.engine.stop(f.id);
    assert.equal(r['/api/cartography']!.fail, 3, 'prefix: true matches any path starting with /api/cart');
    assert.equal(r['/api/catalog']!.ok, 3);
  } finally {
    http6.stop();
  }
});

test('reset action: GET /api/cart gets ECONNRESET (from either side of the link); /api/catalog stays healthy', { skip }, async (t) => {
  const base = `http://${h.pair.b.ip4}:${h.http.port}`;
  for (const netns of [h.pair.b.name, h.pair.a.name]) { // server ingress, then client egress
    const scope = netns === h.pair.b.name ? { netns, localPort: h.http.port } : { netns, remotePort: h.http.port };
    const f = h.engine.inject({ kind: 'request', method: 'GET', path: '/api/cart', action: 'reset', ttlSec: 60, scope });
    const r = await peer<ClientReport>(h.pair.a, ['client', base, '4', '3000', '/api/cart', '/api/catalog']);
    const st = h.engine.stats(f.id)!;
    h.engine.stop(f.id);
    t.diagnostic(`${netns}: ${JSON.stringify(r)} stats ${JSON.stringify(st)}`);
    assert.deepEqual(r['/api/cart']!.errors, { ECONNRESET: 4 }, netns);
    assert.equal(r['/api/catalog']!.ok, 4);
    assert.ok(r['/api/cart']!.maxMs < 2000, `reset took ${r['/api/cart']!.maxMs} ms`);
  }
});
