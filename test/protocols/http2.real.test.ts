// HTTP/2 cleartext (prior knowledge) against nginx from node's http2 client: multiplexed streams,
// HPACK with Huffman and the dynamic table, 404s, a POST with a body.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { saveFixture, startTcpCapture, toChunks, type TcpCapture } from './capture.js';
import { parseAll, sum } from './parse-helpers.js';
import { startNginx, type RunningServer } from './servers.js';
import type { Http2Record } from '../../src/protocols/types.js';

const FIXTURES = new URL('../fixtures/protocols/', import.meta.url).pathname;
const SAVE = process.env.FL_SAVE_FIXTURES === '1';

let nginx: RunningServer | null = null;
let cap: TcpCapture;

describe('http2 (h2c) against nginx', { timeout: 60000 }, () => {
  before(async () => {
    nginx = await startNginx();
    if (nginx) cap = await startTcpCapture(nginx.h2Port!);
  });
  after(async () => {
    await cap?.close();
    await nginx?.stop();
  });

  it('multiplexed streams on one connection, each paired with its status', async (t) => {
    if (!nginx) return t.skip('nginx not installed (apt-get install nginx-light)');
    const client = http2.connect(`http://127.0.0.1:${cap.port}`);
    const call = (method: string, path: string, body?: string) =>
      new Promise<string>((res, rej) => {
        const s = client.request({ ':method': method, ':path': path, 'user-agent': 'fl-test' });
        let status = 0;
        s.on('response', (h) => (status = Number(h[':status'])));
        s.on('data', () => {});
        s.on('end', () => res(`${method} ${path.split('?')[0]} ${status}`));
        s.on('error', rej);
        s.end(body);
      });
    const first = await Promise.all([call('GET', '/index.html'), call('GET', '/users/123'), call('GET', '/users/999?x=1'), call('GET', '/big.txt')]);
    const second = await Promise.all([call('POST', '/echo', 'x'.repeat(2000)), call('GET', '/index.html'), call('HEAD', '/big.txt')]);
    await new Promise<void>((res) => client.close(() => res()));
    await new Promise((r) => setTimeout(r, 50));
    const conn = cap.connections[cap.connections.length - 1];
    if (SAVE) saveFixture(`${FIXTURES}http2-nginx-h2c.json`, 'node http2 client, 7 multiplexed streams, nginx h2c', 'nginx-light', conn);
    const expected = [...first, ...second].map((s) => s.replace(/\/users\/\d+/, '/users/{id}')).sort();

    for (const head of [Infinity, 1024]) {
      const { records, protocol, stats } = parseAll(toChunks(conn, head));
      assert.equal(protocol, 'http2');
      const h2 = records as Http2Record[];
      if (head === Infinity) assert.deepEqual(h2.map((r) => `${r.method} ${r.target} ${r.status}`).sort(), expected);
      else {
        // frames after the unseen tail of a 100 KB write cannot be trusted for HPACK: those streams
        // are incomplete, the ones before are exact
        assert.equal(h2.length, expected.length);
        assert.ok(h2.every((r) => r.incomplete || expected.includes(`${r.method} ${r.target} ${r.status}`)));
        assert.ok(h2.filter((r) => !r.incomplete).length >= 4, `head=${head}`);
      }
      assert.equal(new Set(h2.map((r) => r.streamId)).size, h2.length);
      assert.equal(stats.exceptions, 0);
      if (head === Infinity) {
        const big = h2.find((r) => r.method === 'GET' && r.path === '/big.txt')!;
        assert.ok(big.respBytes > 100_000, String(big.respBytes));
        assert.ok(sum(h2.map((r) => r.respBytes)) <= sum(conn.filter((c) => c.dir === 'recv').map((c) => c.bytes.length)));
        assert.ok(h2.every((r) => r.authority === `127.0.0.1:${cap.port}`));
      }
    }
    // A head too short for the header blocks: HPACK state is lost, nothing may be guessed.
    // (assertion below)
    const { records: short } = parseAll(toChunks(conn, 16));
    assert.ok(short.length <= expected.length);
  });

  it('gRPC status from trailers (node http2 server speaking the gRPC wire shape)', async () => {
    // No gRPC server is packaged here; node's nghttp2-based server produces the same frames:
    // HEADERS(:status 200, content-type application/grpc), DATA, trailing HEADERS(grpc-status).
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => {
        const fail = String(headers[':path']).endsWith('/Missing');
        stream.sendTrailers(fail ? { 'grpc-status': '5', 'grpc-message': 'item not found' } : { 'grpc-status': '0' });
      });
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const gcap = await startTcpCapture(port);
    const client = http2.connect(`http://127.0.0.1:${gcap.port}`);
    const call = (method: string) =>
      new Promise<string>((res, rej) => {
        const s = client.request({ ':method': 'POST', ':path': `/shop.Catalog/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
        let st = '';
        s.on('trailers', (h) => (st = String(h['grpc-status'])));
        s.on('data', () => {});
        s.on('end', () => res(st));
        s.on('error', rej);
        s.end(Buffer.from([0, 0, 0, 0, 0]));
      });
    const got = [await call('Get'), await call('Missing'), await call('Get')];
    await new Promise<void>((r) => client.close(() => r()));
    await new Promise((r) => setTimeout(r, 50));
    const conn = gcap.connections[0];
    await gcap.close();
    await new Promise<void>((r) => server.close(() => r()));
    const { records } = parseAll(toChunks(conn));
    const h2 = records as Http2Record[];
    assert.deepEqual(h2.map((r) => String(r.grpcStatus)), got);
    assert.deepEqual(h2.map((r) => r.error), [false, true, false]);
    assert.equal(h2[1].errorText, 'item not found');
    assert.deepEqual(h2.map((r) => r.target), ['/shop.Catalog/Get', '/shop.Catalog/Missing', '/shop.Catalog/Get']);
  });

  it('no guessing with tiny heads', async (t) => {
    if (!nginx) return t.skip('nginx not installed (apt-get install nginx-light)');
    const conn = cap.connections[cap.connections.length - 1];
    const expected = ['GET /index.html 200', 'GET /users/{id} 200', 'GET /users/{id} 404', 'GET /big.txt 200', 'POST /echo 201', 'HEAD /big.txt 200'];
    const { records } = parseAll(toChunks(conn, 16));
    assert.ok(records.every((r) => r.incomplete || expected.includes(`${r.method} ${r.target} ${r.status}`)));
  });
});
