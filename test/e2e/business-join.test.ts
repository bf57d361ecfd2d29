// The acceptance join of issue 5: a business event captured while the native payment service serves an
// HTTP request carries that request's endpoint, trace id and flow. Real kernel, real service (demo's
// payment.c), real HTTP with W3C traceparent headers; socket capture -> RequestTracker -> TraceLinker
// builds the request records, the uprobe collector the business events, business-join joins them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BusinessCollector } from '../../src/collect/business-collector.js';
import type { BusinessEvent } from '../../src/collect/business-decoder.js';
import { BusinessProbeSchema } from '../../src/collect/business-spec.js';
import { SockCollector } from '../../src/collect/sock-collector.js';
import { joinBusinessEvents } from '../../src/correlate/business-join.js';
import { RequestTracker } from '../../src/correlate/requests.js';
import { TraceLinker } from '../../src/correlate/traces.js';
import type { RequestRecord } from '../../src/model/request.js';
import { sockCaptureUnavailable } from '../helpers/sock-capture.js';

const ROOT = join(import.meta.dirname, '..', '..');
const skip = sockCaptureUnavailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a charge() made while serving POST /charge carries that request endpoint, trace id and flow', { skip }, async () => {
  execFileSync('make', ['-s', '-C', join(ROOT, 'bpf'), '.output/uprobe.bpf.o', '.output/sock.bpf.o'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const dir = mkdtempSync(join(tmpdir(), 'fl-bizjoin-'));
  const bin = join(dir, 'payment');
  execFileSync('gcc', ['-O1', '-fno-inline', '-g', '-pthread', '-o', bin, join(ROOT, 'demo', 'payment', 'payment.c')]);
  const port = 20000 + (process.pid % 20000);
  const payment = spawn(bin, [], { env: { ...process.env, PAYMENT_PORT: String(port), SETTLE_PORT: String(port + 1) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let sock: SockCollector | undefined;
  let biz: BusinessCollector | undefined;
  try {
    await new Promise<void>((res, rej) => {
      payment.stdout.once('data', () => res());
      payment.once('exit', (c) => rej(new Error(`payment exited ${c}`)));
    });
    const tracker = new RequestTracker();
    const records: RequestRecord[] = [];
    sock = SockCollector.start({ filterPid: payment.pid, onEvent: (ev) => records.push(...tracker.push(ev)) });
    const events: BusinessEvent[] = [];
    biz = new BusinessCollector({ onEvents: (e) => events.push(...e) }).start();
    const st = biz.addProbe(BusinessProbeSchema.parse({
      name: 'charge', target: bin, pid: payment.pid, symbol: 'charge',
      args: [{ name: 'user', index: 0, type: 'string' }, { name: 'amount_cents', index: 1, type: 'long' }],
      return: { name: 'status', type: 'int' },
    }));
    assert.ok(st.ok, st.error);

    const calls = [1, 2, 3].map((i) => ({ user: `join-${i}`, amount: 100 * i, traceId: randomBytes(16).toString('hex') }));
    for (const c of calls) {
      const tp = `00-${c.traceId}-${randomBytes(8).toString('hex')}-01`;
      execFileSync('curl', ['-s', '-o', '/dev/null', '-H', `traceparent: ${tp}`, '-X', 'POST', `http://127.0.0.1:${port}/charge`,
        '-d', JSON.stringify({ user: c.user, amount_cents: c.amount, currency: 'EUR', items: 1 })]);
    }
    // a health check without a charge: no business event may join it
    execFileSync('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/health`]);
    await sleep(150);
    sock.drain();
    biz.poll();

    const linker = new TraceLinker();
    for (const r of records) linker.add(r);
    const linked = linker.flush(process.hrtime.bigint(), true);
    const served = linked.filter((r) => r.side === 'server');
    assert.ok(served.filter((r) => r.endpoint.includes('charge')).length >= 3, `server-side /charge records: ${served.map((r) => `${r.method} ${r.endpoint}`).join(', ')}`);

    const joined = joinBusinessEvents(events.filter((e) => e.pid === payment.pid), served);
    assert.equal(joined.length, 3, 'one business event per charge');
    for (const c of calls) {
      const e = joined.find((x) => x.values.user === c.user);
      assert.ok(e, `event of ${c.user}`);
      assert.equal(e!.values.amount_cents, c.amount);
      assert.ok(e!.request, `${c.user}: joined to a request (tid ${e!.tid})`);
      assert.match(e!.request!.endpoint ?? '', /charge/);
      assert.equal(e!.request!.traceId, c.traceId, `${c.user}: the trace id of its own request`);
      assert.equal(e!.request!.joinedBy, 'thread');
      assert.ok(e!.request!.flowId, 'the flow that carried it');
      assert.ok(e!.request!.service, 'the serving service');
    }
  } finally {
    biz?.close();
    sock?.close();
    payment.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
