// Live alerting end to end: the agent (eBPF capture -> APM -> LiveFaultMonitor) ships `alerts` rows to a real
// faultlens server over POST /api/ingest (remoteSink), which stores them. A python HTTP server in one network
// namespace is called ~25 times a second from another; after a healthy baseline (20 ms a request) a flag
// file makes every request 300 ms slower. Asserted: no in-progress alert on the server's endpoint before the onset, one in the
// store within 15 s after it (the RED series are emitted 2 s late here, the detector needs 2 of 3 samples).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { storedRows, withAgentServer } from '../helpers/agent-server.js';

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const PORT = 8099;

const SERVER = `
import http.server, os, sys, time
FLAG = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        time.sleep(0.3 if os.path.exists(FLAG) else 0.02)
        body = b'ok'
        self.send_response(200); self.send_header('content-length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((sys.argv[2], ${PORT}), H).serve_forever()
`;
// Open loop: a thread per request so a slow server does not slow the arrival rate.
const CLIENT = `
import http.client, sys, threading, time
def one():
    try:
        c = http.client.HTTPConnection(sys.argv[1], ${PORT}, timeout=5); c.request('GET', '/work'); c.getresponse().read(); c.close()
    except Exception: pass
while True:
    threading.Thread(target=one, daemon=True).start(); time.sleep(0.04)
`;

interface AlertData { entity: string; signal: string; tense: string; onsetT: number; raisedT: number; storedMs: number }

test('an injected slowdown raises an in-progress alert in the server\'s store within seconds, none before', { skip: root ? false : 'needs root (eBPF, network namespaces)', timeout: 120_000 }, async () => {
  await withAgentServer({ 'flslowsrv.py': SERVER, 'flloadclient.py': CLIENT }, async ({ a, b, dir, store, startAgent }) => {
    const flag = join(dir, 'slow');
    const server = a.spawn('python3', [join(dir, 'flslowsrv.py'), flag, a.ip4], { stdio: 'ignore' });
    const warnings: string[] = [];
    const agent = startAgent({
      host: 'e2e-alerts', intervalMs: 1000, onWarning: (m) => warnings.push(m),
      alerting: { lagS: 2, detector: { warmup: 10 } },
    });
    await new Promise((r) => setTimeout(r, 500));
    const client = b.spawn('python3', [join(dir, 'flloadclient.py'), a.ip4], { stdio: 'ignore' });
    try {
      const ours = async (): Promise<AlertData[]> => {
        // storedMs: the row's timestamp, the wall-clock time the agent raised it (raisedT is series time)
        return (await storedRows<AlertData>(store, 'alerts')).map(({ data, storedMs }) => ({ ...data, storedMs }))
          .filter((d) => d.entity.endsWith('|GET /work') && d.tense !== 'early-warning');
      };
      // baseline: warm-up (10 judged samples) + window + lag, all healthy
      await new Promise((r) => setTimeout(r, 20_000));
      const before = await ours();
      assert.deepEqual(before, [], `no alert on the healthy endpoint: ${JSON.stringify(before)}`);
      const onset = Date.now();
      writeFileSync(flag, '1');
      let found: AlertData | undefined;
      while (!found && Date.now() - onset < 20_000) {
        await new Promise((r) => setTimeout(r, 500));
        found = (await ours()).find((d) => d.tense === 'in-progress' && d.signal === 'latency');
      }
      const stats = agent.stats();
      assert.ok(found, `an in-progress latency alert on GET /work was stored (agent: ${stats.requestsShipped} requests, ${stats.alertsShipped} alert rows shipped; ${warnings.slice(0, 3).join('; ')})`);
      const early = (await ours()).filter((d) => d.raisedT < onset);
      assert.deepEqual(early, [], 'no alert about the time before the onset (series time)');
      const after = found.storedMs - onset;
      assert.ok(found.storedMs > onset, `raised ${after} ms after the onset: not before it`);
      assert.ok(after <= 15_000, `raised ${after} ms after the onset`);
      assert.ok(found.onsetT >= onset - 1500 && found.onsetT - onset <= 3000, `onset estimate ${found.onsetT - onset} ms off`);
      console.log(`# in-progress alert raised ${after} ms after the onset (wall clock; series time ${found.raisedT - onset} ms, onset estimate ${found.onsetT - onset} ms)`);
    } finally {
      client.kill('SIGKILL');
      server.kill('SIGKILL');
    }
  });
});

// The early-warning tense live: a listener (backlog 40) that never accepts, clients connecting one every
// 300 ms from another namespace (the queue fills in ~12 s: the trend rule needs 10 samples). The agent's TCP collector samples the listener's accept queue; the live
// monitor's trend rule must store an early warning with the predicted time before the kernel counts the
// first ListenOverflow in that namespace.
const LISTENER = `
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], ${PORT})); s.listen(40)
print('ready', flush=True)
time.sleep(120)
`;
const CONNECTOR = `
import socket, sys, time
cs = []
for i in range(90):
    c = socket.socket(); c.setblocking(False)
    try: c.connect((sys.argv[1], ${PORT}))
    except BlockingIOError: pass
    cs.append(c); time.sleep(0.3)
time.sleep(30)
`;

function listenOverflows(ns: string): number {
  const txt = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netstat'], { encoding: 'utf8' }).split('\n');
  for (let i = 0; i + 1 < txt.length; i += 2) {
    const head = txt[i]!.split(/\s+/);
    if (head[0] !== 'TcpExt:') continue;
    return Number(txt[i + 1]!.split(/\s+/)[head.indexOf('ListenOverflows')] ?? 0);
  }
  return 0;
}

test('a filling accept queue: the agent stores an early warning with a predicted time before the first overflow', { skip: root ? false : 'needs root (eBPF, network namespaces)', timeout: 150_000 }, async () => {
  await withAgentServer({ 'fllistener.py': LISTENER, 'flconnector.py': CONNECTOR }, async ({ a, b, dir, store, startAgent }) => {
    // the agent first: the TCP collector tracks the listener from its listen() on
    const tStart = Date.now();
    const agent = startAgent({ host: 'e2e-queue', intervalMs: 500, onWarning: () => {}, alerting: { warningEveryMs: 0 } });
    console.log(`# agent up in ${Date.now() - tStart} ms`);
    await new Promise((r) => setTimeout(r, 1000));
    const listener = a.spawn('python3', [join(dir, 'fllistener.py'), a.ip4], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve, reject) => {
      listener.stdout!.once('data', () => resolve());
      listener.once('exit', (c) => reject(new Error(`listener exited ${c}`)));
    });
    const base = listenOverflows(a.name);
    const t0 = Date.now();
    const connector = b.spawn('python3', [join(dir, 'flconnector.py'), a.ip4], { stdio: 'ignore' });
    try {
      let firstOverflowT: number | undefined;
      while (firstOverflowT === undefined && Date.now() - t0 < 45_000) {
        await new Promise((r) => setTimeout(r, 100));
        if (listenOverflows(a.name) > base) firstOverflowT = Date.now();
      }
      assert.ok(firstOverflowT, 'the accept queue overflowed (the kernel counted ListenOverflows)');
      await new Promise((r) => setTimeout(r, 1500)); // rows raised before the overflow may still be in flight
      const rows = await storedRows<{ entity: string; signal: string; tense: string; predictedCrossT?: number; value: number }>(store, 'alerts');
      const warnings = rows
        .map(({ data, storedMs }) => ({ ...data, storedMs }))
        .filter((d) => d.tense === 'early-warning' && d.signal === 'listen_queue' && d.entity === 'resource:listen-queue@fllistener')
        .sort((x, y) => x.storedMs - y.storedMs);
      const st = agent.stats();
      assert.ok(warnings.length > 0, `an early warning on the listener's queue was stored (overflow at +${firstOverflowT - t0} ms; agent ticks ${st.ticks}, alert rows shipped ${st.alertsShipped}; rows: ${rows.map((r) => r.row.summary).slice(0, 5).join(' | ')})`);
      const first = warnings[0]!;
      assert.ok(first.storedMs < firstOverflowT, `warning at +${first.storedMs - t0} ms, first overflow at +${firstOverflowT - t0} ms`);
      assert.ok(first.predictedCrossT! > first.storedMs, 'the predicted crossing lies ahead of the warning');
      const lastBefore = warnings.filter((w) => w.storedMs < firstOverflowT!).at(-1)!;
      const err = Math.abs(lastBefore.predictedCrossT! - firstOverflowT);
      assert.ok(err < 3000, `predicted full at +${lastBefore.predictedCrossT! - t0} ms, first overflow at +${firstOverflowT - t0} ms`);
      console.log(`# early warning stored ${firstOverflowT - first.storedMs} ms before the first overflow; newest prediction off by ${err} ms`);
    } finally {
      connector.kill('SIGKILL');
      listener.kill('SIGKILL');
    }
  });
});
