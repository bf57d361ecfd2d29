// OTLP/HTTP export against a real receiver on loopback that decodes every body with the OpenTelemetry
// protos (see receiver.ts). Spans and RED come from real request records: a recorded demo capture run
// through src/correlate, and (as root) live traffic between curl and a Python server captured by the real
// agent inside a running platform. Also: retry after 503, no retry on 400, the bounded queue's drop count.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requestToRow } from '../../src/correlate/apm.js';
import { linkRecords } from '../../src/correlate/traces.js';
import { OtlpExporter } from '../../src/export/otlp-exporter.js';
import { startExports } from '../../src/export/index.js';
import { otlpUrls } from '../../src/export/otlp-client.js';
import { encodeTraces, encodeTracesChunked } from '../../src/export/otlp-encode-traces.js';
import type { RequestRecord } from '../../src/model/request.js';
import { LiveHub } from '../../src/server/live.js';
import { MetricsRegistry } from '../../src/server/metrics.js';
import type { Row } from '../../src/store/types.js';
import { loadFixture, trackFixture } from '../fixtures/apm/load-fixture.js';
import { decodeMetrics, decodeTraces, startReceiver, type DecodedMetric, type DecodedSpan, type Receiver } from './receiver.js';

const REPO = join(import.meta.dirname, '..', '..');
const WALL = 1_760_000_000_000_000_000n; // the fixture's monotonic times shifted to a wall clock

function fixtureRecords(): RequestRecord[] {
  const { records } = trackFixture(loadFixture('demo-order'));
  linkRecords(records);
  return records;
}
const toRows = (records: RequestRecord[]): Row[] => records.map((r) => requestToRow(r, WALL));
const traceBodies = (rx: Receiver) => rx.received.filter((r) => r.path === '/v1/traces');
const allSpans = (rx: Receiver): DecodedSpan[] => traceBodies(rx).flatMap((r) => decodeTraces(r.body));

describe('OTLP export of recorded requests', () => {
  const records = fixtureRecords();
  let rx: Receiver;
  const exporters: OtlpExporter[] = [];
  const make = (o: Partial<ConstructorParameters<typeof OtlpExporter>[0]> = {}) => {
    const e = new OtlpExporter({ endpoint: rx.url, host: 'host-a', flushMs: 20, metricsIntervalMs: 0, retry: { initialBackoffMs: 20, maxBackoffMs: 100, timeoutMs: 5000 }, log: () => {}, ...o });
    exporters.push(e);
    return e;
  };
  before(async () => {
    rx = await startReceiver();
  });
  after(async () => {
    for (const e of exporters) await e.close(500);
    await rx.close();
  });

  it('sends one span per record with its ids, kind, service and attributes', async () => {
    rx.received.length = 0;
    rx.respond = () => ({ status: 200 });
    assert.ok(records.length > 50 && records.some((r) => r.parentSpanId) && records.some((r) => r.error), 'the capture has linked and failed requests');
    const e = make();
    assert.equal(e.addRequestRows('host-a', [{ ts_ns: 1n, protocol: 'http1', duration_ns: 5n, error: false, data: {} }, { ts_ns: 'x' } as unknown as Row]), 0);
    assert.equal(e.stats().badRows, 2, 'rows that are not request records are counted, not sent');
    assert.equal(e.addRequestRows('host-a', toRows(records)), records.length);
    await rx.until(() => e.stats().spans.sent === records.length, 10_000, 'all spans acknowledged');
    const got = allSpans(rx);
    assert.equal(got.length, records.length);
    assert.equal(traceBodies(rx)[0]!.headers['content-type'], 'application/x-protobuf');
    const byId = new Map(got.map((s) => [s.spanId, s]));
    assert.equal(byId.size, records.length, 'span ids are unique');
    for (const r of records) {
      const s = byId.get(r.spanId ?? r.id);
      assert.ok(s, `span ${r.id} was sent`);
      assert.equal(s.traceId, r.traceId);
      assert.equal(s.parentSpanId, r.parentSpanId);
      assert.equal(s.kind, r.side === 'server' ? 'SPAN_KIND_SERVER' : 'SPAN_KIND_CLIENT');
      assert.equal(s.resource['service.name'], r.side === 'server' ? r.serverService : r.clientService);
      assert.equal(s.resource['host.name'], 'host-a');
      assert.equal(s.startNs, r.startNs + WALL);
      assert.equal(s.endNs - s.startNs, r.durationNs);
      assert.equal(s.status.code === 'STATUS_CODE_ERROR', r.error, `${s.name}: error status`);
      assert.equal(s.attributes['faultlens.flow.id'], r.flowId);
      assert.equal(s.attributes['faultlens.client.service'], r.clientService);
      assert.equal(s.attributes['faultlens.server.service'], r.serverService);
      assert.equal(s.attributes['server.port'], r.server.port);
      assert.equal(s.attributes['network.peer.address'], r.side === 'server' ? r.client.ip : r.server.ip);
      if (r.protocol === 'http1') {
        assert.equal(s.attributes['http.request.method'], r.method);
        assert.equal(s.attributes['http.route'], r.endpoint);
        assert.equal(s.attributes['http.response.status_code'], r.httpStatus);
        assert.equal(s.name, `${r.method} ${r.endpoint}`);
      }
      if (r.protocol === 'postgres') assert.equal(s.attributes['db.system.name'], 'postgresql');
    }
    // a call chain survives: every parent id that was sent names a span of the same trace
    for (const s of got) if (s.parentSpanId && byId.has(s.parentSpanId)) assert.equal(byId.get(s.parentSpanId)!.traceId, s.traceId);
    assert.deepEqual(e.stats().spans, { queued: 0, sent: records.length, droppedQueueFull: 0, droppedFailed: 0, batchesSent: traceBodies(rx).length, batchesFailed: 0 });
    await e.close(1000);
  });

  it('encodes a batch a few spans per event-loop turn into the same bytes', async () => {
    const inputs = records.map((record) => ({ record, host: record.side === 'server' ? 'h1' : 'h2', startWallNs: record.startNs + WALL }));
    const whole = Buffer.from(encodeTraces(inputs));
    let turns = 0;
    let done = false;
    const spin = () => {
      if (done) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin); // counts event-loop turns the encoder gave away
    const chunked = Buffer.from(await encodeTracesChunked(inputs, 8));
    done = true;
    assert.ok(chunked.equals(whole));
    assert.equal(decodeTraces(chunked).length, records.length);
    assert.ok(turns >= 10, `other work ran while the batch was encoded (${turns} turns)`);
  });

  it('sends RED per endpoint, service and edge that counts the records', async () => {
    rx.received.length = 0;
    const registry = new MetricsRegistry().add(async () => [{ name: 'faultlens_flow_bytes_total', help: 'bytes', type: 'counter', samples: [{ labels: { client: 'a', server: 'b' }, value: 1234n }] }]);
    const e = make({ families: () => registry.collect() });
    e.addRequestRows('host-a', toRows(records));
    await e.exportMetrics();
    const bodies = rx.received.filter((r) => r.path === '/v1/metrics');
    assert.equal(bodies.length, 1);
    const metrics = decodeMetrics(bodies[0]!.body);
    const m = (name: string): DecodedMetric => {
      const x = metrics.find((y) => y.name === name);
      assert.ok(x, `metric ${name} sent (got ${metrics.map((y) => y.name).join(', ')})`);
      return x;
    };
    // independent count: per key, the callee's records when it was observed, else the caller's
    const expect = (keyOf: (r: RequestRecord) => string) => {
      const by = new Map<string, { server: RequestRecord[]; client: RequestRecord[] }>();
      for (const r of records) {
        const k = keyOf(r);
        if (!by.has(k)) by.set(k, { server: [], client: [] });
        by.get(k)![r.side].push(r);
      }
      return new Map([...by].map(([k, v]) => [k, v.server.length ? v.server : v.client]));
    };
    const endpoints = expect((r) => [r.serverService, r.protocol, r.method, r.endpoint].join('|'));
    const reqs = m('faultlens.endpoint.requests');
    assert.equal(reqs.type, 'sum');
    assert.equal(reqs.monotonic, true);
    assert.equal(reqs.temporality, 'AGGREGATION_TEMPORALITY_CUMULATIVE');
    assert.equal(reqs.resource['host.name'], 'host-a');
    assert.equal(reqs.points.length, endpoints.size);
    const errs = m('faultlens.endpoint.request.errors');
    const dur = m('faultlens.endpoint.request.duration');
    assert.equal(dur.type, 'summary');
    assert.equal(dur.unit, 's');
    for (const [key, rs] of endpoints) {
      const match = (p: { attributes: Record<string, unknown> }) => [p.attributes.service, p.attributes.protocol, p.attributes.method, p.attributes.endpoint].join('|') === key;
      assert.equal(reqs.points.find(match)?.value, rs.length, `requests ${key}`);
      assert.equal(errs.points.find(match)?.value, rs.filter((r) => r.error).length, `errors ${key}`);
      const d = dur.points.find(match)!;
      assert.equal(d.count, rs.length);
      const secs = rs.map((r) => Number(r.durationNs) / 1e9);
      assert.ok(Math.abs(d.sum! - secs.reduce((a, b) => a + b, 0)) < 1e-6 * rs.length + 1e-9, `duration sum ${key}`);
      assert.ok(d.quantiles!['0.5']! <= d.quantiles!['0.9']! && d.quantiles!['0.9']! <= d.quantiles!['0.99']!);
      assert.ok(d.quantiles!['0.99']! <= Math.max(...secs) + 1e-9 && d.quantiles!['0.5']! >= Math.min(...secs) - 1e-9, `quantiles within the data ${key}`);
    }
    const edges = expect((r) => [r.clientService, r.serverService, r.protocol].join('|'));
    const ereqs = m('faultlens.edge.requests');
    assert.equal(ereqs.points.length, edges.size);
    for (const [key, rs] of edges) assert.equal(ereqs.points.find((p) => [p.attributes.client, p.attributes.server, p.attributes.protocol].join('|') === key)?.value, rs.length, `edge ${key}`);
    const services = m('faultlens.service.requests');
    const frontend = [...endpoints].filter(([k]) => k.startsWith('frontend|')).reduce((a, [, rs]) => a + rs.length, 0);
    assert.ok(frontend > 0);
    assert.equal(services.points.find((p) => p.attributes.service === 'frontend')?.value, frontend);
    // the registry's Prometheus families go along, as they are
    const flowBytes = m('faultlens_flow_bytes_total');
    assert.deepEqual(flowBytes.points.map((p) => [p.attributes.client, p.value]), [['a', 1234]]);
    await e.close(1000); // sends its spans before the next test resets the receiver
  });

  it('retries after 503 and delivers the same batch once accepted', async () => {
    rx.received.length = 0;
    rx.respond = (_r, i) => (i < 2 ? { status: 503 } : { status: 200 });
    const e = make();
    const rows = toRows(records.slice(0, 20));
    e.addRequestRows('host-a', rows);
    await rx.until(() => e.stats().spans.sent === 20, 10_000, 'delivery after two 503s');
    const posts = traceBodies(rx);
    assert.equal(posts.length, 3);
    assert.ok(posts[1]!.body.equals(posts[0]!.body) && posts[2]!.body.equals(posts[0]!.body), 'the retried body is the batch itself');
    assert.equal(decodeTraces(posts[2]!.body).length, 20);
    assert.equal(e.stats().retries, 2);
    assert.equal(e.stats().spans.droppedFailed, 0);
    await e.close(1000);
  });

  it('does not retry a 400 and counts the batch as dropped', async () => {
    rx.received.length = 0;
    rx.respond = () => ({ status: 400 });
    const e = make();
    e.addRequestRows('host-a', toRows(records.slice(0, 7)));
    await rx.until(() => e.stats().spans.batchesFailed === 1, 10_000, 'the failed batch');
    assert.equal(traceBodies(rx).length, 1);
    assert.equal(e.stats().spans.droppedFailed, 7);
    assert.equal(e.stats().spans.sent, 0);
    assert.match(e.stats().lastError ?? '', /HTTP 400/);
    await e.close(1000);
  });

  it('bounds the queue while the endpoint hangs: drops are counted and reported on /metrics', async () => {
    rx.received.length = 0;
    rx.respond = () => 'hold';
    const live = new LiveHub();
    const registry = new MetricsRegistry();
    const ex = startExports({ otlp: { endpoint: rx.url, maxQueueSpans: 100, batchSpans: 50, flushMs: 20, metricsIntervalMs: 0 } }, { live, metrics: registry, host: 'srv', log: () => {} });
    try {
      const rows = toRows(records);
      const burst = [...rows, ...rows, ...rows, ...rows].slice(0, 300);
      const t0 = process.hrtime.bigint();
      live.publish({ type: 'records', host: 'host-a', table: 'requests', rows: burst }); // 100 fit
      const pushUs = Number(process.hrtime.bigint() - t0) / 1000;
      assert.deepEqual([ex.otlp!.stats().spans.droppedQueueFull, ex.otlp!.stats().spans.queued], [200, 100]);
      await rx.until(() => traceBodies(rx).length === 1, 5000, 'the first batch, held by the receiver');
      assert.equal(ex.otlp!.stats().spans.queued, 50); // 50 in flight
      live.publish({ type: 'records', host: 'host-a', table: 'requests', rows: burst.slice(0, 100) }); // room for 50
      const s = ex.otlp!.stats().spans;
      assert.equal(s.droppedQueueFull, 250);
      assert.equal(s.queued, 100);
      assert.match(await registry.render(), /faultlens_otlp_spans_dropped_total\{reason="queue_full"\} 250\n/);
      rx.respond = () => ({ status: 200 });
      rx.release();
      await rx.until(() => ex.otlp!.stats().spans.sent === 150, 10_000, '150 spans sent');
      assert.equal(allSpans(rx).length, 150);
      assert.match(await registry.render(), /faultlens_otlp_spans_sent_total 150\n/);
      console.log(`# queued 300 span rows in ${pushUs.toFixed(0)} µs while the endpoint hung`);
    } finally {
      await ex.close();
    }
  });

  it('stops within its close bound when the endpoint is down, counting what it could not send', async () => {
    const down = await startReceiver();
    const url = down.url;
    await down.close(); // nothing listens there any more: connection refused, retried with backoff
    const e = new OtlpExporter({ endpoint: url, host: 'h', flushMs: 20, metricsIntervalMs: 0, retry: { initialBackoffMs: 200, maxBackoffMs: 1000, retries: 20 }, log: () => {} });
    e.addRequestRows('host-a', toRows(records.slice(0, 30)));
    await new Promise((r) => setTimeout(r, 100)); // the batch is in its retries
    const t0 = Date.now();
    await e.close(500);
    const ms = Date.now() - t0;
    assert.ok(ms < 2000, `close took ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50)); // the aborted send settles
    const s = e.stats();
    assert.equal(s.spans.sent, 0);
    assert.equal(s.spans.droppedFailed, 30);
    assert.ok(s.retries >= 1);
  });

  it('takes a base endpoint or a signal URL', () => {
    assert.deepEqual(otlpUrls('http://c:4318'), { traces: 'http://c:4318/v1/traces', metrics: 'http://c:4318/v1/metrics' });
    assert.deepEqual(otlpUrls('https://x/otlp/v1/traces'), { traces: 'https://x/otlp/v1/traces', metrics: 'https://x/otlp/v1/metrics' });
    assert.throws(() => otlpUrls('grpc://c:4317'), /must be http/);
    assert.throws(() => otlpUrls('not a url'), /not a URL/);
  });
});

// ---- live: the real agent in a running platform ---------------------------------------------------

function missingPrereq(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (eBPF)';
  try {
    execFileSync('sh', ['-c', 'command -v curl && command -v python3'], { stdio: 'ignore' });
  } catch {
    return 'curl and python3 are needed';
  }
  try {
    execFileSync('make', ['-s', '-C', join(REPO, 'bpf'), '.output/sock.bpf.o', '.output/tcp.bpf.o'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    return `the probes do not build: ${(e as Error).message}`;
  }
  return undefined;
}

const SERVER_PY = `
import sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a):
        pass
    def do_GET(self):
        code = 500 if self.path == '/fail' else 200 if self.path.startswith('/items/') else 404
        body = b'%d\\n' % code
        self.send_response(code)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
`;

describe('OTLP export from a running platform with the real agent', { skip: missingPrereq() }, () => {
  let rx: Receiver;
  let dir = '';
  let py: ChildProcess | undefined;
  let port = 0;

  before(async () => {
    rx = await startReceiver();
    dir = mkdtempSync(join(tmpdir(), 'fl-otlp-'));
    writeFileSync(join(dir, 'fl_otlp_srv.py'), SERVER_PY);
    py = spawn('python3', [join(dir, 'fl_otlp_srv.py')], { stdio: ['ignore', 'pipe', 'inherit'] });
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      py!.stdout!.on('data', (d) => {
        out += d;
        const m = /^(\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      py!.on('exit', (c) => reject(new Error(`python server exited ${c}`)));
    });
  });
  after(async () => {
    if (py?.exitCode === null) py.kill('SIGKILL');
    await rx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exports the spans and RED of curl -> python requests it captured', async () => {
    const { loadConfig } = await import('../../src/config.js');
    const { startPlatform } = await import('../../src/server/platform.js');
    const { startAgent } = await import('../../src/cli/agent-runtime.js');
    const cfg = loadConfig({
      env: { HOME: dir } as NodeJS.ProcessEnv,
      flags: { dataDir: join(dir, 'data'), 'server.port': 0, 'store.retentionHours': 0, 'store.flushMs': 50, 'export.otlp.endpoint': rx.url, 'export.otlp.metricsIntervalMs': 500, 'export.otlp.flushMs': 100 },
    });
    const platform = await startPlatform(cfg, { log: () => {} });
    let agent: ReturnType<typeof startAgent> | undefined;
    try {
      assert.ok(platform.banner().some((l) => l.includes(`${rx.url}/v1/traces`)), 'the banner names the OTLP endpoint');
      agent = startAgent({
        host: 'otlp-host',
        intervalMs: 200,
        onWarning: () => {},
        sink: {
          flows: (host, flows) => platform.server.ingestor.ingestFlows(host, flows).durable,
          requests: (host, rows) => platform.server.ingestor.ingest(host, [], { requests: rows }).durable,
          findings: (host, rows) => platform.server.ingestor.ingest(host, [], { findings: rows }).durable,
        },
      });
      const base = `http://127.0.0.1:${port}`;
      const paths = ['/items/1', '/items/22', '/items/333', '/fail', '/items/4', '/fail'];
      await new Promise<void>((resolve, reject) =>
        execFile('curl', ['-s', ...paths.flatMap((p) => ['-o', '/dev/null', `${base}${p}`])], (e) => (e ? reject(e) : resolve())),
      );
      const curlDone = Date.now();
      const ours = () => allSpans(rx).filter((s) => s.attributes['server.port'] === port);
      await rx.until(() => ours().filter((s) => s.kind === 'SPAN_KIND_SERVER').length >= paths.length && ours().filter((s) => s.kind === 'SPAN_KIND_CLIENT').length >= paths.length, 20_000, 'the spans of both ends');
      console.log(`# spans of both ends at the receiver ${Date.now() - curlDone} ms after curl finished`);
      const spans = ours();
      const server = spans.filter((s) => s.kind === 'SPAN_KIND_SERVER').sort((a, b) => Number(a.startNs - b.startNs));
      const client = spans.filter((s) => s.kind === 'SPAN_KIND_CLIENT').sort((a, b) => Number(a.startNs - b.startNs));
      assert.equal(server.length, paths.length);
      assert.equal(client.length, paths.length);
      assert.deepEqual(server.map((s) => [s.attributes['url.path'], s.attributes['http.route'], s.attributes['http.response.status_code'], s.status.code === 'STATUS_CODE_ERROR']), [
        ['/items/1', '/items/{id}', 200, false],
        ['/items/22', '/items/{id}', 200, false],
        ['/items/333', '/items/{id}', 200, false],
        ['/fail', '/fail', 500, true],
        ['/items/4', '/items/{id}', 200, false],
        ['/fail', '/fail', 500, true],
      ]);
      const pySvc = server[0]!.resource['service.name'];
      assert.equal(pySvc, 'fl_otlp_srv', 'the python server is named by its script');
      assert.ok(server.every((s) => s.resource['service.name'] === pySvc && s.resource['host.name'] === 'otlp-host' && s.attributes['process.pid'] === py!.pid));
      assert.ok(client.every((s) => s.resource['service.name'] === 'curl' && s.attributes['peer.service'] === pySvc));
      // the callee's span is the child of the caller's span for the same exchange, in one trace
      for (let i = 0; i < paths.length; i++) {
        assert.equal(server[i]!.parentSpanId, client[i]!.spanId, `exchange ${i} linked`);
        assert.equal(server[i]!.traceId, client[i]!.traceId);
        assert.ok(server[i]!.startNs >= client[i]!.startNs - 1_000_000n && server[i]!.endNs <= client[i]!.endNs + 1_000_000n, 'the server span sits inside the client span');
      }
      // wall-clock times: within a minute of now
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      assert.ok(server.every((s) => s.startNs > nowNs - 60_000_000_000n && s.startNs <= nowNs));
      // the TCP snapshot of the connection rides along
      assert.ok(server.every((s) => typeof s.attributes['faultlens.tcp.srtt_us'] === 'number' && s.attributes['faultlens.tcp.retransmits'] === 0), 'TCP snapshot attributes');
      // RED: a metric snapshot after the spans counts the python service's endpoints exactly
      const n = rx.received.length;
      await rx.until(() => rx.received.slice(n).some((r) => r.path === '/v1/metrics'), 5000, 'a metrics export');
      const last = rx.received.slice(n).filter((r) => r.path === '/v1/metrics').at(-1)!;
      const reqs = decodeMetrics(last.body).find((m) => m.name === 'faultlens.endpoint.requests')!;
      const errs = decodeMetrics(last.body).find((m) => m.name === 'faultlens.endpoint.request.errors')!;
      const at = (m: DecodedMetric, ep: string) => m.points.find((p) => p.attributes.service === pySvc && p.attributes.endpoint === ep)?.value;
      assert.equal(at(reqs, '/items/{id}'), 4);
      assert.equal(at(reqs, '/fail'), 2);
      assert.equal(at(errs, '/items/{id}'), 0);
      assert.equal(at(errs, '/fail'), 2);
      assert.equal(platform.exports.otlp!.stats().spans.droppedQueueFull, 0);
    } finally {
      await agent?.close();
      await platform.close();
    }
  });
});
