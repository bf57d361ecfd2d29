// The HTTP server over real HTTP with a real (DuckDB) store: validation, auth, live stream, metrics,
// OpenAPI and static files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../../src/store/index.js';
import { routes, startServer } from '../../src/server/index.js';
import { makeFlow } from '../store/fixtures.js';

const TOKEN = 'test-token-123';
const nowNs = () => BigInt(Date.now()) * 1_000_000n;
const wire = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)));

describe('server', () => {
  let store: Store;
  let srv: Awaited<ReturnType<typeof startServer>>;
  const post = (path: string, body: unknown, token?: string) =>
    fetch(srv.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(wire(body)),
    });

  before(async () => {
    store = await openStore('duckdb::memory:', { retentionHours: 0, batch: { maxDelayMs: 50 } });
    srv = await startServer({ store, port: 0, token: TOKEN });
  });
  after(async () => {
    await srv.close();
    await store.close();
  });

  it('binds to 127.0.0.1 by default', () => {
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers invalid input with 400 and a message naming the field', async () => {
    let r = await fetch(`${srv.url}/api/flows?port=70000`);
    assert.equal(r.status, 400);
    let body = (await r.json()) as { error: string; issues: { path: string }[] };
    assert.match(body.error, /port/);
    assert.equal(body.issues[0]!.path, 'port');
    r = await fetch(`${srv.url}/api/flows?from=yesterday`);
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error: string }).error, /from/);
    r = await fetch(`${srv.url}/api/flows?bogus=1`);
    assert.equal(r.status, 400);
    r = await post('/api/ingest', { flows: [] }, TOKEN);
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error: string }).error, /host/);
    r = await post('/api/ingest', '{"host": "a",', TOKEN);
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error: string }).error, /invalid JSON/);
    r = await post('/api/ingest', { host: 'a', flows: [{ ...wire(makeFlow({ tsNs: 1n })), socketCookies: ['12x'] }] }, TOKEN);
    assert.equal(r.status, 400);
    body = (await r.json()) as { error: string; issues: { path: string }[] };
    assert.equal(body.issues[0]!.path, 'flows.0.socketCookies.0');
    r = await fetch(`${srv.url}/api/records/nope`);
    assert.equal(r.status, 400);
    r = await fetch(`${srv.url}/api/flows`, { method: 'DELETE' });
    assert.equal(r.status, 405);
  });

  it('requires the bearer token on ingest, and stores what it accepts exactly', async () => {
    const f = makeFlow({ tsNs: nowNs(), host: 'agent-a', client: { ip: '192.0.2.7', port: 51000 } });
    const batch = { host: 'agent-a', flows: [f] };
    assert.equal((await post('/api/ingest', batch)).status, 401);
    assert.equal((await post('/api/ingest', batch, 'wrong-token-123')).status, 401);
    const ok = await post('/api/ingest', batch, TOKEN);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { accepted: { flows: 1 } });
    // acknowledged = durable: visible at once, 64-bit values intact
    const got = (await (await fetch(`${srv.url}/api/flows?ip=192.0.2.7`)).json()) as { flows: unknown[] };
    assert.deepEqual(got.flows, [wire(f)]);
  });

  it('takes the local agent\'s live flows, stamped with host and wall clock', async () => {
    const { host: _h, tsNs: _t, ...flow } = makeFlow({ tsNs: 0n, client: { ip: '198.51.100.4', port: 1234 } });
    const before = nowNs();
    const r = srv.ingestor.ingestFlows('local-agent', [flow]);
    assert.deepEqual(r.accepted, { flows: 1 });
    await r.durable;
    const got = (await (await fetch(`${srv.url}/api/flows?host=local-agent`)).json()) as { flows: { tsNs: string; id: string }[] };
    assert.equal(got.flows.length, 1);
    assert.equal(got.flows[0]!.id, flow.id);
    assert.ok(BigInt(got.flows[0]!.tsNs) >= before && BigInt(got.flows[0]!.tsNs) <= nowNs());
  });

  it('accepts ingest without a token when the server has none', async () => {
    const open = await startServer({ store, port: 0 });
    try {
      const r = await fetch(`${open.url}/api/ingest`, {
        method: 'POST',
        body: JSON.stringify({ host: 'b', findings: [{ ts_ns: nowNs().toString(), id: 'x', kind: 'k', severity: 's', subject: 's', summary: 's' }] }),
      });
      assert.equal(r.status, 200);
      const rows = (await (await fetch(`${open.url}/api/records/findings?from=now-1m`)).json()) as { rows: { id: string; host: string }[] };
      assert.equal(rows.rows.length, 1);
      assert.equal(rows.rows[0]!.host, 'b');
    } finally {
      await open.close();
    }
  });

  it('streams published updates to /api/live subscribers', async () => {
    const ac = new AbortController();
    const res = await fetch(`${srv.url}/api/live`, { signal: ac.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const nextEvent = async (type: string) => {
      for (;;) {
        const m = new RegExp(`event: ${type}\\ndata: (.*)\\n\\n`).exec(buf);
        if (m) {
          buf = buf.slice(m.index + m[0].length);
          return JSON.parse(m[1]!);
        }
        const { value, done } = await reader.read();
        if (done) assert.fail('stream ended');
        buf += dec.decode(value, { stream: true });
      }
    };
    await nextEvent('hello');
    assert.equal(srv.live.subscribers, 1);
    const f = makeFlow({ tsNs: nowNs(), host: 'agent-live' });
    srv.live.publishFlows('agent-live', [f]); // the in-process agent's path
    const ev = await nextEvent('flows');
    assert.equal(ev.host, 'agent-live');
    assert.deepEqual(ev.flows, [wire(f)]);
    // and the remote agent's path
    await post('/api/ingest', { host: 'agent-r', tcp_samples: [{ ts_ns: nowNs(), cookie: 42n, srtt_us: 900 }] }, TOKEN);
    const rec = await nextEvent('records');
    assert.equal(rec.table, 'tcp_samples');
    assert.equal(rec.rows[0].cookie, '42');
    ac.abort();
    await reader.cancel().catch(() => {});
    for (let i = 0; i < 50 && srv.live.subscribers > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(srv.live.subscribers, 0, 'unsubscribed on disconnect');
  });

  it('exposes Prometheus text whose flow series equal the sums of the inserted flows', async () => {
    const mstore = await openStore('duckdb::memory:', { retentionHours: 0 });
    const m = await startServer({ store: mstore, port: 0 });
    try {
      const t = nowNs();
      const sizes = Array.from({ length: 6 }, () => 1 + Math.floor(Math.random() * 100_000));
      const flows = sizes.map((b, i) =>
        makeFlow({
          tsNs: t,
          bytesClientToServer: b,
          bytesServerToClient: 2 * b,
          callsClientToServer: i,
          callsServerToClient: 1,
          errors: i % 2 ? { ECONNRESET: i } : {},
          server: { ip: '10.9.9.9', port: i < 4 ? 6379 : 5432 },
          serverProc: { pid: 77, comm: i < 4 ? 'redis-server' : 'postgres', cgroupId: 1n },
        }),
      );
      assert.equal((await fetch(`${m.url}/api/ingest`, { method: 'POST', body: JSON.stringify(wire({ host: 'h', flows })) })).status, 200);
      const text = await (await fetch(`${m.url}/metrics`)).text();
      const series = parsePrometheus(text);
      for (const [comm, port, idx] of [['redis-server', 6379, [0, 1, 2, 3]], ['postgres', 5432, [4, 5]]] as const) {
        const base = `client="curl",server="${comm}",server_port="${port}",proto="tcp"`;
        const sum = (fn: (i: number) => number) => (idx as readonly number[]).reduce((a: number, i) => a + fn(i), 0);
        assert.equal(series.get(`faultlens_flow_bytes_total{${base},direction="client_to_server"}`), sum((i) => sizes[i]!));
        assert.equal(series.get(`faultlens_flow_bytes_total{${base},direction="server_to_client"}`), sum((i) => 2 * sizes[i]!));
        assert.equal(series.get(`faultlens_flow_calls_total{${base}}`), sum((i) => i + 1));
        assert.equal(series.get(`faultlens_flow_errors_total{${base}}`), sum((i) => (i % 2 ? i : 0)));
        assert.equal(series.get(`faultlens_flows{${base}}`), idx.length);
      }
      // promtool (Debian package prometheus) lints the exposition when it is installed
      if (existsSync('/usr/bin/promtool')) execFileSync('/usr/bin/promtool', ['check', 'metrics'], { input: text });
    } finally {
      await m.close();
      await mstore.close();
    }
  });

  it('serves an OpenAPI document that lists every route', async () => {
    const r = await fetch(`${srv.url}/api/openapi.json`);
    assert.equal(r.status, 200);
    const doc = (await r.json()) as { openapi: string; paths: Record<string, Record<string, { responses: object; operationId: string }>> };
    assert.equal(doc.openapi, '3.1.0');
    // checked against the official OpenAPI 3.1 JSON schema
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const verdict = await new Validator().validate(structuredClone(doc) as unknown as Record<string, unknown>);
    assert.ok(verdict.valid, JSON.stringify(verdict.errors));
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    assert.deepEqual(documented.sort(), routes.map((rt) => `${rt.method} ${rt.path}`).sort());
    const ids = new Set<string>();
    for (const ops of Object.values(doc.paths))
      for (const op of Object.values(ops)) {
        assert.ok(op.responses && '200' in op.responses);
        assert.ok(!ids.has(op.operationId), `duplicate operationId ${op.operationId}`);
        ids.add(op.operationId);
      }
    // and every documented GET without path parameters really answers
    for (const rt of routes.filter((x) => x.method === 'GET' && !x.path.includes('{') && !x.stream)) {
      const res = await fetch(srv.url + rt.path);
      assert.equal(res.status, 200, rt.path);
      await res.arrayBuffer();
    }
  });

  it('serves the UI and vendored uPlot, and nothing outside them', async () => {
    const index = await fetch(`${srv.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type')!, /text\/html/);
    assert.match(await index.text(), /faultlens/);
    const up = await fetch(`${srv.url}/vendor/uplot/uPlot.esm.js`);
    assert.equal(up.status, 200);
    await up.arrayBuffer();
    assert.equal((await fetch(`${srv.url}/vendor/uplot/package.json`)).status, 404);
    assert.equal((await fetch(`${srv.url}/..%2fpackage.json`)).status, 404);
    assert.equal((await fetch(`${srv.url}/api/nothing`)).status, 404);
  });
});

/** Minimal exposition-format reader: `name{labels} value` -> Map, with a syntax check of every line. */
function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      typed.add(t[1]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/.exec(line);
    assert.ok(s, `not a Prometheus sample line: ${line}`);
    assert.ok(typed.has(s[1]!), `sample before its TYPE: ${line}`);
    out.set(s[1]! + (s[2] ?? ''), Number(s[3]));
  }
  return out;
}
