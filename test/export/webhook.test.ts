// Alert webhooks against a real HTTP receiver on loopback: JSON body, HMAC signature checked the way a
// receiver would, one delivery per (id, state), retry on 5xx, bounded timeouts, and the platform wiring:
// findings/alerts ingested from the local agent or POSTed by a remote agent reach the webhook.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findingToRow } from '../../src/cli/agent-runtime.js';
import { loadConfig } from '../../src/config.js';
import { WebhookNotifier, type WebhookEvent } from '../../src/export/webhook.js';
import type { Finding } from '../../src/model/finding.js';
import { startPlatform } from '../../src/server/platform.js';
import { startReceiver, type Receiver } from './receiver.js';

const SECRET = 'hook-secret-123';
const bodyOf = (r: { body: Buffer }) => JSON.parse(r.body.toString('utf8')) as WebhookEvent & { source: string };

function event(over: Partial<WebhookEvent> = {}): WebhookEvent {
  return { type: 'alert', id: 'alert-1', state: 'firing', severity: 'critical', summary: 'checkout p99 over 500 ms', host: 'h1', time: new Date().toISOString(), tsNs: '1', rule: 'latency', ...over };
}

describe('webhooks', () => {
  let rx: Receiver;
  const notifiers: WebhookNotifier[] = [];
  const make = (o: Partial<ConstructorParameters<typeof WebhookNotifier>[0]> = {}) => {
    const n = new WebhookNotifier({ urls: [`${rx.url}/hook`], secret: SECRET, retry: { initialBackoffMs: 20, maxBackoffMs: 100, timeoutMs: 2000 }, log: () => {}, ...o });
    notifiers.push(n);
    return n;
  };
  const settled = (n: WebhookNotifier) => rx.until(() => n.stats().pending === 0, 10_000, 'deliveries to settle');
  before(async () => {
    rx = await startReceiver();
  });
  after(async () => {
    for (const n of notifiers) await n.close(200);
    await rx.close();
  });

  it('POSTs signed JSON that a receiver can verify', async () => {
    rx.received.length = 0;
    rx.respond = () => ({ status: 204 });
    const n = make();
    assert.equal(n.notify(event()), true);
    await settled(n);
    assert.equal(rx.received.length, 1);
    const got = rx.received[0]!;
    assert.equal(got.path, '/hook');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['x-faultlens-event'], 'alert');
    const ts = String(got.headers['x-faultlens-timestamp']);
    assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60, 'a fresh timestamp');
    const want = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${got.body.toString('utf8')}`).digest('hex')}`;
    assert.equal(got.headers['x-faultlens-signature'], want);
    const wrong = `sha256=${createHmac('sha256', 'other-secret').update(`${ts}.${got.body.toString('utf8')}`).digest('hex')}`;
    assert.notEqual(got.headers['x-faultlens-signature'], wrong);
    assert.deepEqual(bodyOf(got), { source: 'faultlens', ...event(), time: bodyOf(got).time });
    assert.equal(n.stats().delivered, 1);
  });

  it('sends each (id, state) once: a repeat is skipped, a new state is sent', async () => {
    rx.received.length = 0;
    rx.respond = () => ({ status: 200 });
    const n = make({ secret: undefined });
    n.notify(event());
    n.notify(event()); // the same alert reported again
    n.notify(event({ state: 'resolved' }));
    n.notify(event({ id: 'alert-2' }));
    n.notify(event({ state: 'resolved' }));
    await settled(n);
    assert.deepEqual(rx.received.map((r) => [bodyOf(r).id, bodyOf(r).state]), [['alert-1', 'firing'], ['alert-1', 'resolved'], ['alert-2', 'firing']]);
    assert.equal(rx.received[0]!.headers['x-faultlens-signature'], undefined, 'no secret, no signature');
    assert.deepEqual(n.stats(), { delivered: 3, failed: 0, deduplicated: 2, droppedQueueFull: 0, pending: 0 });
  });

  it('retries a 500 with the same delivery id, and gives up on a 404', async () => {
    rx.received.length = 0;
    rx.respond = (r, i) => (r.path === '/gone' ? { status: 404 } : i < 2 ? { status: 500 } : { status: 200 });
    const n = make({ urls: [`${rx.url}/hook`, `${rx.url}/gone`] });
    n.notify(event({ id: 'retry-me' }));
    await settled(n);
    const hook = rx.received.filter((r) => r.path === '/hook');
    const gone = rx.received.filter((r) => r.path === '/gone');
    assert.equal(gone.length, 1, '404 is final');
    assert.ok(hook.length >= 2 && hook.length <= 3, `retried until accepted (${hook.length} attempts)`);
    assert.equal(new Set(hook.map((r) => r.headers['x-faultlens-delivery'])).size, 1);
    assert.deepEqual([n.stats().delivered, n.stats().failed], [1, 1]);
  });

  it('times out a receiver that never answers, within the configured bound', async () => {
    rx.received.length = 0;
    rx.respond = () => 'hold';
    const n = make({ retry: { timeoutMs: 200, retries: 1, initialBackoffMs: 20, maxBackoffMs: 20 } });
    const t0 = Date.now();
    n.notify(event({ id: 'slow' }));
    await settled(n);
    const ms = Date.now() - t0;
    assert.equal(n.stats().failed, 1);
    assert.equal(rx.received.length, 2, 'first attempt and one retry');
    assert.ok(ms >= 400 && ms < 3000, `gave up after ${ms} ms`);
    rx.release();
  });

  it('rejects a URL that is not http(s)', () => {
    assert.throws(() => new WebhookNotifier({ urls: ['ftp://x/y'] }), /must be http/);
    assert.throws(() => new WebhookNotifier({ urls: ['nope'] }), /not a URL/);
  });
});

describe('webhooks in a running platform', () => {
  let rx: Receiver;
  let dir = '';
  before(async () => {
    rx = await startReceiver();
    dir = mkdtempSync(join(tmpdir(), 'fl-hook-'));
  });
  after(async () => {
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the findings and alerts it ingests, from the local agent and from remote agents', async () => {
    const cfg = loadConfig({
      env: { HOME: dir } as NodeJS.ProcessEnv,
      flags: { dataDir: join(dir, 'data'), 'server.port': 0, 'store.flushMs': 50, 'export.webhooks.urls': [`${rx.url}/a`, `${rx.url}/b`], 'export.webhooks.secret': SECRET },
    });
    const platform = await startPlatform(cfg, { log: () => {} });
    try {
      assert.ok(platform.banner().some((l) => l.includes(`${rx.url}/a`) && l.includes('HMAC')));
      const finding: Finding = {
        id: 'tcp.nagle-delayed-ack:10.0.0.1:80',
        kind: 'tcp.nagle-delayed-ack',
        severity: 'warning',
        title: 'Nagle x delayed ACK adds 40 ms per request',
        subject: { process: { pid: 42, comm: 'api' } },
        window: { startNs: 1_000_000n, endNs: 2_000_000n },
        evidence: { stallMs: 40 },
        why: 'small writes wait for an ACK the peer delays',
        fix: 'TCP_NODELAY',
      };
      const row = findingToRow(finding, BigInt(Date.now()) * 1_000_000n);
      // the local agent's sink path (what `faultlens up` does) ...
      await platform.server.ingestor.ingest('host-local', [], { findings: [row] }).durable;
      await platform.server.ingestor.ingest('host-local', [], { findings: [row] }).durable; // re-reported: not re-sent
      // ... and a remote agent's POST /api/ingest
      const alert = { ts_ns: String(BigInt(Date.now()) * 1_000_000n), id: 'rule-7:checkout', rule: 'error-rate', state: 'firing', severity: 'critical', summary: 'checkout errors 12 %', data: { value: 0.12 } };
      const res = await fetch(`${platform.server.url}/api/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'host-remote', alerts: [alert] }) });
      assert.equal(res.status, 200);
      await rx.until(() => rx.received.length >= 4, 10_000, 'two events at two URLs');
      await platform.exports.webhooks!.close(2000);
      assert.equal(rx.received.length, 4);
      for (const path of ['/a', '/b']) {
        const got = rx.received.filter((r) => r.path === path).map(bodyOf).sort((x, y) => x.type.localeCompare(y.type));
        assert.deepEqual(got.map((e) => [e.type, e.id, e.state, e.severity, e.host]), [
          ['alert', 'rule-7:checkout', 'firing', 'critical', 'host-remote'],
          ['finding', finding.id, 'warning', 'warning', 'host-local'],
        ]);
        assert.equal(got[1]!.kind, 'tcp.nagle-delayed-ack');
        assert.equal(got[1]!.summary, finding.title);
        assert.deepEqual((got[1]!.data as { evidence: unknown }).evidence, { stallMs: 40 });
        assert.equal(got[0]!.rule, 'error-rate');
      }
      for (const r of rx.received) {
        const ts = String(r.headers['x-faultlens-timestamp']);
        assert.equal(r.headers['x-faultlens-signature'], `sha256=${createHmac('sha256', SECRET).update(`${ts}.${r.body.toString('utf8')}`).digest('hex')}`);
      }
      const metrics = await (await fetch(`${platform.server.url}/metrics`)).text();
      assert.match(metrics, /faultlens_webhook_deliveries_total\{result="delivered"\} 4\n/);
      assert.match(metrics, /faultlens_webhook_deliveries_total\{result="deduplicated"\} 1\n/);
    } finally {
      await platform.close();
    }
  });
});
