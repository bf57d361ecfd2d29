// The native payment service on loopback: built by the demo's own build step, real HTTP, real counters,
// business functions as exported symbols (what uprobes attach to).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { request } from 'node:http';

const hasGcc = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v gcc']);
    return true;
  } catch {
    return false;
  }
})();

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

function post(port: number, path: string, body?: string): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', headers: body ? { 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let child: ChildProcess | undefined;
after(() => child?.kill('SIGKILL'));

test('payment: charge() and record_order() are exported and counted; fail_rate makes charge() fail', { skip: hasGcc ? false : 'gcc missing' }, async () => {
  const { ensurePaymentBinary } = await import('../../demo/payment/build.js');
  const bin = await ensurePaymentBinary();
  const syms = execFileSync('nm', [bin], { encoding: 'utf8' });
  for (const fn of ['charge', 'record_order', 'refund', 'fraud_score']) assert.match(syms, new RegExp(` T ${fn}$`, 'm'));
  const [port, settle] = [await freePort(), await freePort()];
  child = spawn(bin, [], { env: { PAYMENT_PORT: String(port), SETTLE_PORT: String(settle) }, stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    try {
      await post(port, '/health');
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const ok = await post(port, '/charge', '{"user":"alice","amount_cents":1234,"currency":"EUR","items":2}');
  assert.equal(ok.status, 200);
  assert.equal(ok.json.status, 'ok');
  const bad = await post(port, '/charge', '{"user":"bob","amount_cents":-5,"currency":"EUR","items":1}');
  assert.equal(bad.status, 402, 'a negative amount is declined');
  assert.equal((await post(port, '/admin/flags?fail_rate=1', '')).status, 200);
  const failed = await post(port, '/charge', '{"user":"carol","amount_cents":100,"currency":"EUR","items":1}');
  assert.equal(failed.status, 502);
  const stats = (await post(port, '/stats')).json;
  assert.equal(stats.charges, 3);
  assert.equal(stats.orders_recorded, 1);
  assert.equal(stats.declined, 1);
  assert.equal(stats.charge_failures, 1);
  assert.equal(stats.total_cents, 1234);
  assert.equal(stats.fail_rate, 1);
});
