// Call chains of a threaded three-tier system with no propagation headers, real kernel: three Python
// ThreadingHTTPServer tiers on loopback (a thread per connection), tier 1 calling tier 2 calling tier 3 over
// HTTP/1.1 keep-alive (one persistent connection per handler thread), 8 requests in flight from this process.
// Every path carries a request id the servers pass down (ground truth the linker never reads); the linker
// must rebuild each request's chain client > tier1 > tier2 > tier3 from thread identity alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApmCapture } from '../../src/correlate/apm-live.js';
import { startApmCapture } from '../../src/correlate/apm-live.js';
import { buildTraceTree, formatTraceTree, tracePaths } from '../../src/correlate/traces.js';
import type { RequestRecord } from '../../src/model/request.js';

const REPO = join(import.meta.dirname, '..', '..');

function missingPrereq(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (eBPF)';
  try {
    execFileSync('python3', ['-c', 'import http.server; http.server.ThreadingHTTPServer'], { stdio: 'ignore' });
  } catch {
    return 'python3 (3.7+, with http.server.ThreadingHTTPServer) is not installed';
  }
  try {
    execFileSync('make', ['-s', '-C', join(REPO, 'bpf'), '.output/sock.bpf.o'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    return `the socket probe does not build: ${(e as Error).message}`;
  }
  return undefined;
}
const skip = missingPrereq();

// One tier: GET /<tier>/<id> -> (GET /<next>/<id> on this thread's own keep-alive connection) -> reply.
// Small sleeps before and after the downstream call make concurrent requests overlap inside every tier,
// so "the inbound request of this process that encloses the call" is ambiguous and only the thread decides.
const TIER_PY = `
import sys, threading, time, http.client
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
name, nxt_name, nxt_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
local = threading.local()
class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *args):
        pass
    def do_GET(self):
        rid = self.path.rsplit('/', 1)[-1]
        time.sleep(0.002)
        body = b''
        if nxt_port:
            conn = getattr(local, 'conn', None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection('127.0.0.1', nxt_port, timeout=10)
            conn.request('GET', '/%s/%s' % (nxt_name, rid))
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                self.send_error(502)
                return
        time.sleep(0.002)
        out = ('%s:%s;' % (name, rid)).encode() + body
        self.send_response(200)
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)
class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
srv = Server(('127.0.0.1', 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
`;

let dir = '';
const tiers: ChildProcess[] = [];
const ports: number[] = [];
let cap: ApmCapture | undefined;
const records: RequestRecord[] = [];

/** Starts one tier; resolves with the port it listens on. */
function startTier(name: string, next: string, nextPort: number): Promise<number> {
  const c = spawn('python3', [join(dir, 'tier.py'), name, next, String(nextPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  tiers.push(c);
  let out = '';
  let err = '';
  c.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    c.stdout!.on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    c.on('exit', (code) => reject(new Error(`${name} exited with ${code}: ${err}`)));
  });
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'fl-threaded-'));
  writeFileSync(join(dir, 'tier.py'), TIER_PY);
  // named by command line: the linker sees three python3 processes, the test wants to read tier names
  cap = startApmCapture({
    onRecords: (rs) => records.push(...rs), onWarning: () => {}, settleMs: 300, includeSelf: true, tcp: false, tls: false,
    mappings: ['tier1', 'tier2', 'tier3'].map((t) => ({ name: `fl-${t}`, cmdline: `tier.py ${t} ` })),
  });
  const p3 = await startTier('tier3', '-', 0);
  const p2 = await startTier('tier2', 'tier3', p3);
  const p1 = await startTier('tier1', 'tier2', p2);
  ports.push(p1, p2, p3);
});

after(() => {
  cap?.stop();
  for (const c of tiers) if (c.exitCode === null) c.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function get(agent: Agent, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: ports[0], path, agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.end();
  });
}

test('threaded three-tier chain, 8 concurrent keep-alive clients, no headers: every trace is client > tier1 > tier2 > tier3, linked by thread', { skip }, async () => {
  const PARALLEL = 8;
  const ROUNDS = 8;
  const agent = new Agent({ keepAlive: true, maxSockets: PARALLEL });
  const ids: string[] = [];
  const t0 = process.hrtime.bigint();
  // 8 workers, each sending its requests back to back on its own connection: 8 in flight at any time
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const id = randomBytes(6).toString('hex');
      ids.push(id);
      const r = await get(agent, `/tier1/${id}`);
      assert.equal(r.status, 200);
      assert.equal(r.body, `tier1:${id};tier2:${id};tier3:${id};`); // the servers did pass the id down
    }
  }));
  agent.destroy();
  const total = PARALLEL * ROUNDS;

  const portSet = new Set(ports);
  const ours = () => records.filter((r) => r.startNs >= t0 && portSet.has(r.server.port) && r.protocol === 'http1');
  const idOf = (r: RequestRecord) => r.path?.split('/').pop() ?? '';
  // the chain of one request is 6 records: the client's call to tier1, and per tier its inbound view
  // plus (tiers 1, 2) its outbound call
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && ours().length < total * 6) {
    cap!.tick();
    await new Promise((r) => setTimeout(r, 100));
  }
  const recs = ours();
  assert.equal(cap!.sock.stats().drops, 0n, 'socket records were dropped: the figures below would be partial');
  assert.equal(recs.length, total * 6, `records seen: ${recs.length} of ${total * 6}`);

  const byId = new Map<string, RequestRecord[]>();
  for (const r of recs) byId.set(idOf(r), [...(byId.get(idOf(r)) ?? []), r]);
  assert.deepEqual([...byId.keys()].sort(), [...ids].sort(), 'every request id seen, no other');

  // ground truth: the parent of each tier's outbound call is that tier's inbound request with the same id
  let links = 0;
  let right = 0;
  let overlapped = 0; // outbound calls made while other requests were in flight in the same process
  const byLink = new Map<string, number>();
  for (const r of recs) {
    if (r.side !== 'client' || r.pid === process.pid) continue;
    links++;
    const truth = recs.find((s) => s.side === 'server' && s.pid === r.pid && idOf(s) === idOf(r))!;
    if (r.parentSpanId === truth.spanId) right++;
    byLink.set(`${r.linkedBy} p=${r.linkScore}`, (byLink.get(`${r.linkedBy} p=${r.linkScore}`) ?? 0) + 1);
    const enclosing = recs.filter((s) => s.side === 'server' && s.pid === r.pid && s.startNs <= r.startNs && s.endNs >= r.endNs);
    if (enclosing.length > 1) overlapped++;
  }
  console.log(`# threaded 3-tier: ${total} requests, ${recs.length} records, ${links} outbound calls linked to their inbound request: ` +
    `${right}/${links} right (${((100 * right) / links).toFixed(1)} %), ${overlapped} made while other requests of that tier were in flight; ` +
    `links: ${[...byLink].map(([k, n]) => `${k} x${n}`).join(', ')}`);
  assert.equal(links, total * 2);
  assert.ok(overlapped >= links / 4, `only ${overlapped}/${links} calls overlapped another request: the test would not exercise thread identity`);
  assert.equal(right, links, 'link accuracy against the request ids');
  assert.deepEqual([...byLink.keys()], ['thread p=1'], 'every outbound call linked by its thread, with certainty');

  for (const id of ids) {
    const mine = byId.get(id)!;
    const traceIds = new Set(mine.map((r) => r.traceId));
    assert.equal(traceIds.size, 1, `request ${id}: its records are in ${traceIds.size} traces:\n${mine.map((r) => `${r.side} pid=${r.pid} tid=${r.tid} ${r.clientService}->${r.serverService} ${r.path} ${r.startNs}-${r.endNs} flow=${r.flowId} span=${r.spanId} parent=${r.parentSpanId} by=${r.linkedBy} trace=${r.traceId}`).join('\n')}`);
    const trace = records.filter((r) => r.traceId === mine[0]!.traceId);
    assert.equal(trace.length, 6, `request ${id}: trace of ${trace.length} records`);
    const roots = buildTraceTree(trace);
    const text = formatTraceTree(roots);
    assert.equal(roots.length, 1, text);
    assert.deepEqual(tracePaths(roots), [`${mine.find((r) => r.pid === process.pid)!.clientService} > fl-tier1 > fl-tier2 > fl-tier3`], text);
    // each node's own path carries the id: the tree is the request's, not a neighbour's
    const chain: string[] = [];
    for (let n = roots[0]; n; n = n.children[0]) {
      assert.ok(n.children.length <= 1, text);
      chain.push(`${n.record.serverService} ${n.record.path} ${n.server?.path}`);
    }
    assert.deepEqual(chain, ['tier1', 'tier2', 'tier3'].map((t) => `fl-${t} /${t}/${id} /${t}/${id}`), text);
  }
  const sample = records.filter((r) => r.traceId === byId.get(ids[0]!)![0]!.traceId);
  console.log(`# one trace:\n${formatTraceTree(buildTraceTree(sample)).split('\n').map((l) => `#   ${l}`).join('\n')}`);
});
