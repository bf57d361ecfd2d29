// Call chains of a threaded system with no propagation headers, real kernel: three Python
// ThreadingHTTPServer tiers on loopback (a thread per connection), tier 1 (the gateway) calling tier 2
// calling tier 3 over HTTP/1.1 keep-alive (one persistent connection per handler thread), and tier 3 calling
// a real redis-server (redis-py) and a real PostgreSQL (psycopg2) on connections of its own thread, opened
// by the first request the thread serves; 8 requests in flight from this process. Every request carries an
// id the servers pass down — in the paths, the redis key and the SQL column alias (ground truth the linker
// never reads); the linker must rebuild each request's tree client > tier1 > tier2 > tier3 > {redis,
// postgres} from thread identity alone, and put each connection's startup exchange in the trace of the
// request that opened it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApmCapture } from '../../src/correlate/apm-live.js';
import { startPostgres, startRedis, type RunningServer } from '../protocols/servers.js';
import { startApmCapture } from '../../src/correlate/apm-live.js';
import { buildTraceTree, formatTraceTree, tracePaths } from '../../src/correlate/traces.js';
import type { RequestRecord } from '../../src/model/request.js';

const REPO = join(import.meta.dirname, '..', '..');
// Debian's interpreter: the one python3-redis and python3-psycopg2 install into (a pyenv python3 earlier on
// PATH would not have them)
const PYTHON = '/usr/bin/python3';

function missingPrereq(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (eBPF)';
  try {
    execFileSync(PYTHON, ['-c', 'import http.server, redis, psycopg2; http.server.ThreadingHTTPServer'], { stdio: 'ignore' });
  } catch {
    return `${PYTHON} with http.server.ThreadingHTTPServer, redis and psycopg2 is not installed (scripts/bootstrap.sh --test installs python3-redis python3-psycopg2)`;
  }
  if (!existsSync('/usr/bin/redis-server') || !existsSync('/usr/lib/postgresql')) return 'redis-server or postgresql is not installed (scripts/bootstrap.sh --test)';
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
redis_port, pg_port = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else (0, 0)
local = threading.local()

def stores(rid):
    # this thread's own redis and postgres connections, opened by the first request it serves
    st = getattr(local, 'stores', None)
    if st is None:
        import redis, psycopg2
        r = redis.Redis(host='127.0.0.1', port=redis_port, single_connection_client=True, socket_timeout=10)
        pg = psycopg2.connect(host='127.0.0.1', port=pg_port, user='postgres', dbname='postgres', connect_timeout=10)
        pg.autocommit = True
        st = local.stores = (r, pg)
        print('connect %s' % rid, flush=True)
    return st
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
        if redis_port:
            r, pg = stores(rid)
            n = r.incr('fl:rid:' + rid)
            cur = pg.cursor()
            cur.execute('SELECT %%s AS rid_%s' % rid, (n,))
            body = ('redis=%d;pg=%d;' % (n, cur.fetchone()[0])).encode()
            cur.close()
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
let redisSrv: RunningServer | null = null;
let pgSrv: RunningServer | null = null;
/** Request id -> it opened its tier-3 thread's redis and postgres connections (tier 3 says so). */
const opened = new Set<string>();
let cap: ApmCapture | undefined;
const records: RequestRecord[] = [];

/** Starts one tier; resolves with the port it listens on. */
function startTier(name: string, next: string, nextPort: number, stores: number[] = []): Promise<number> {
  const c = spawn(PYTHON, [join(dir, 'tier.py'), name, next, String(nextPort), ...stores.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
  tiers.push(c);
  let out = '';
  let err = '';
  c.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    c.stdout!.on('data', (d) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
      for (const [, rid] of out.matchAll(/^connect ([a-z]+)$/gm)) opened.add(rid!);
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
  redisSrv = await startRedis();
  pgSrv = await startPostgres();
  if (!redisSrv || !pgSrv) throw new Error('redis-server / postgres did not start');
  const p3 = await startTier('tier3', '-', 0, [redisSrv.port, pgSrv.port]);
  const p2 = await startTier('tier2', 'tier3', p3);
  const p1 = await startTier('tier1', 'tier2', p2);
  ports.push(p1, p2, p3);
});

after(async () => {
  cap?.stop();
  for (const c of tiers) if (c.exitCode === null) c.kill('SIGKILL');
  await redisSrv?.stop();
  await pgSrv?.stop();
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

/** A request id of letters only: route, key and SQL normalisation keep it (they collapse tokens with digits). */
const newId = () => Array.from(randomBytes(10), (b) => String.fromCharCode(97 + (b % 26))).join('');
/** The request id a record carries (path, redis key or SQL column alias), or '' (a connection's startup). */
const idOf = (r: RequestRecord) => /(?:\/|fl:rid:|rid_)([a-z]{10})\b/.exec(`${r.path ?? ''} ${r.endpoint}`)?.[1] ?? '';

test('threaded gateway > service > service > redis + postgres, 8 concurrent keep-alive clients, no headers: every trace is the tree the test issued, linked by thread', { skip }, async () => {
  const PARALLEL = 8;
  const ROUNDS = 8;
  const agent = new Agent({ keepAlive: true, maxSockets: PARALLEL });
  const ids: string[] = [];
  const t0 = process.hrtime.bigint();
  // 8 workers, each sending its requests back to back on its own connection: 8 in flight at any time
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const id = newId();
      ids.push(id);
      const r = await get(agent, `/tier1/${id}`);
      assert.equal(r.status, 200);
      assert.equal(r.body, `tier1:${id};tier2:${id};tier3:${id};redis=1;pg=1;`); // the servers did pass the id down
    }
  }));
  agent.destroy();
  const total = PARALLEL * ROUNDS;

  const portSet = new Set(ports);
  const ours = () => records.filter((r) => r.startNs >= t0 && ((portSet.has(r.server.port) && r.protocol === 'http1') || (r.server.port === redisSrv!.port && r.protocol === 'redis') || (r.server.port === pgSrv!.port && r.protocol === 'postgres')));
  // the tree of one request is 10 records: the client's call to tier1; per tier its inbound view; tiers 1
  // and 2's call downstream; tier 3's redis INCR and postgres SELECT, each seen by both ends. Plus, for each
  // tier-3 thread, the postgres startup exchange of its connection (both ends).
  const deadline = Date.now() + 15_000;
  const want = () => total * 10 + opened.size * 2;
  while (Date.now() < deadline && ours().length < want()) {
    cap!.tick();
    await new Promise((r) => setTimeout(r, 100));
  }
  const recs = ours();
  assert.equal(cap!.sock.stats().drops, 0n, 'socket records were dropped: the figures below would be partial');
  const withId = recs.filter((r) => idOf(r));
  const setup = recs.filter((r) => !idOf(r));
  assert.equal(withId.length, total * 10, `records with a request id: ${withId.length} of ${total * 10}`);
  assert.ok(opened.size >= 1 && opened.size <= PARALLEL, `tier 3 opened ${opened.size} store connection pairs`);
  assert.deepEqual(setup.map((r) => `${r.protocol} ${r.method}`).sort(), Array(opened.size * 2).fill('postgres STARTUP'), `connection setup records: ${setup.map((r) => `${r.protocol} ${r.side} ${r.method} ${r.endpoint}`).join(', ')}`);

  const byId = new Map<string, RequestRecord[]>();
  for (const r of withId) byId.set(idOf(r), [...(byId.get(idOf(r)) ?? []), r]);
  assert.deepEqual([...byId.keys()].sort(), [...ids].sort(), 'every request id seen, no other');
  const redisOf = (id: string) => byId.get(id)!.find((r) => r.protocol === 'redis' && r.side === 'client')!;
  const pgOf = (id: string) => byId.get(id)!.find((r) => r.protocol === 'postgres' && r.side === 'client')!;
  for (const id of ids) {
    assert.equal(redisOf(id).method, 'INCRBY'); // redis-py's incr()
    assert.equal(pgOf(id).method, 'SELECT');
  }

  // ground truth of each outbound call's parent: its tier's inbound request with the same id; for a startup
  // exchange, the inbound request of the id that tier 3 says opened the connection — the first id whose
  // SELECT went over that connection
  const truthOf = (r: RequestRecord): RequestRecord => {
    let id = idOf(r);
    if (!id) {
      const first = withId.filter((s) => s.flowId === r.flowId && s.side === 'client').sort((a, b) => (a.startNs < b.startNs ? -1 : 1))[0];
      assert.ok(first, `startup on flow ${r.flowId} with no query after it`);
      id = idOf(first);
      assert.ok(opened.has(id), `the connection of ${id}'s SELECT was opened by another request (tier 3 names ${[...opened].join(', ')})`);
    }
    return withId.find((s) => s.side === 'server' && s.pid === r.pid && idOf(s) === id)!;
  };
  let links = 0;
  let right = 0;
  let overlapped = 0; // outbound calls made while other requests were in flight in the same process
  const byLink = new Map<string, number>();
  for (const r of recs) {
    if (r.side !== 'client' || r.pid === process.pid) continue;
    links++;
    if (r.parentSpanId === truthOf(r).spanId) right++;
    byLink.set(`${r.linkedBy} p=${r.linkScore}`, (byLink.get(`${r.linkedBy} p=${r.linkScore}`) ?? 0) + 1);
    const enclosing = recs.filter((s) => s.side === 'server' && s.pid === r.pid && s.startNs <= r.startNs && s.endNs >= r.endNs);
    if (enclosing.length > 1) overlapped++;
  }
  console.log(`# threaded tiers + redis + postgres: ${total} requests, ${recs.length} records (${setup.length} of connection startups), ${links} outbound calls linked to their inbound request: ` +
    `${right}/${links} right (${((100 * right) / links).toFixed(1)} %), ${overlapped} made while other requests of that tier were in flight; ` +
    `links: ${[...byLink].map(([k, n]) => `${k} x${n}`).join(', ')}`);
  assert.equal(links, total * 4 + opened.size);
  assert.ok(overlapped >= links / 4, `only ${overlapped}/${links} calls overlapped another request: the test would not exercise thread identity`);
  assert.equal(right, links, 'link accuracy against the request ids');
  assert.deepEqual([...byLink.keys()], ['thread p=1'], 'every outbound call linked by its thread, with certainty');

  const redisService = redisOf(ids[0]!).serverService;
  const pgService = pgOf(ids[0]!).serverService;
  assert.deepEqual([redisService, pgService], ['redis-server', 'postgres'], 'the stores named as their operators know them (redis-server is a symlink to redis-check-rdb)');
  for (const id of ids) {
    const mine = byId.get(id)!;
    const traceIds = new Set(mine.map((r) => r.traceId));
    assert.equal(traceIds.size, 1, `request ${id}: its records are in ${traceIds.size} traces:\n${mine.map((r) => `${r.side} pid=${r.pid} tid=${r.tid} ${r.clientService}->${r.serverService} ${r.path ?? r.endpoint} ${r.startNs}-${r.endNs} flow=${r.flowId} span=${r.spanId} parent=${r.parentSpanId} by=${r.linkedBy} trace=${r.traceId}`).join('\n')}`);
    const trace = records.filter((r) => r.traceId === mine[0]!.traceId);
    const opener = opened.has(id);
    assert.equal(trace.length, 10 + (opener ? 2 : 0), `request ${id}: trace of ${trace.length} records`);
    const roots = buildTraceTree(trace);
    const text = formatTraceTree(roots);
    assert.equal(roots.length, 1, text);
    const top = `${mine.find((r) => r.pid === process.pid)!.clientService} > fl-tier1 > fl-tier2 > fl-tier3`;
    const leaves = [`${top} > ${redisService}`, `${top} > ${pgService}`, ...(opener ? [`${top} > ${pgService}`] : [])];
    assert.deepEqual(tracePaths(roots).sort(), leaves.sort(), text);
    // each node's own request carries the id: the tree is the request's, not a neighbour's
    const chain: string[] = [];
    let n = roots[0];
    for (; n && n.record.protocol === 'http1'; n = n.children[0]) {
      assert.ok(n.record.serverService === 'fl-tier3' || n.children.length === 1, text);
      chain.push(`${n.record.serverService} ${n.record.path} ${n.server?.path}`);
      if (n.record.serverService === 'fl-tier3') break;
    }
    assert.deepEqual(chain, ['tier1', 'tier2', 'tier3'].map((t) => `fl-${t} /${t}/${id} /${t}/${id}`), text);
    const calls = n!.children.map((c) => `${c.record.method} ${c.record.endpoint} | ${c.server?.method} ${c.server?.endpoint}`);
    const startup = opener ? [calls.find((c) => c.startsWith('STARTUP'))!] : [];
    assert.deepEqual(calls.filter((c) => !c.startsWith('STARTUP')), [`INCRBY ${redisOf(id).endpoint} | INCRBY ${redisOf(id).endpoint}`, `SELECT ${pgOf(id).endpoint} | SELECT ${pgOf(id).endpoint}`], text);
    assert.equal(calls.length, 2 + startup.length, text);
  }
  const sample = records.filter((r) => r.traceId === byId.get([...opened][0] ?? ids[0]!)![0]!.traceId);
  console.log(`# one trace:\n${formatTraceTree(buildTraceTree(sample)).split('\n').map((l) => `#   ${l}`).join('\n')}`);
});
