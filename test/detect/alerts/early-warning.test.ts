// Early warning on a real accept queue filling up: a listener (backlog 8) that never accepts, clients
// connecting one every 400 ms, inside a private network namespace. The accept-queue fill is read from the
// kernel (ss: Recv-Q of the listener = queued connections, Send-Q = backlog) every 200 ms and fed to the
// detector; the first overflow is the namespace's TcpExtListenOverflows counter turning non-zero.
// The warning must come before the first overflow, with a predicted time close to the real one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { withNetnsPair } from '../../helpers/netns.js';
import { SeriesDetector, type DetectorEvent } from '../../../src/detect/anomaly/detector.js';
import { DEFAULT_DETECTOR } from '../../../src/detect/anomaly/detector.js';

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const PY = `
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 9911)); s.listen(8)
print('ready', flush=True)
time.sleep(1.5)
cs = []
for i in range(16):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(('127.0.0.1', 9911))
    except BlockingIOError: pass
    cs.append(c); time.sleep(0.4)
time.sleep(1.0)
`;

function listenOverflows(ns: string): number {
  const txt = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/netstat'], { encoding: 'utf8' }).split('\n');
  const head = txt[0]!.split(/\s+/);
  const vals = txt[1]!.split(/\s+/);
  return Number(vals[head.indexOf('ListenOverflows')] ?? 0);
}

function queue(ns: string): { len: number; backlog: number } | undefined {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'ss', '-ltnH', 'sport = :9911'], { encoding: 'utf8' }).trim();
  const f = out.split(/\s+/);
  return f.length >= 3 ? { len: Number(f[1]), backlog: Number(f[2]) } : undefined;
}

test('the accept queue filling gradually gives an early warning before the first overflow, with the predicted time', { skip: root ? false : 'needs root (network namespaces)' }, async () => {
  await withNetnsPair(async ({ a }) => {
    execFileSync('ip', ['netns', 'exec', a.name, 'ip', 'link', 'set', 'lo', 'up']);
    const py = a.spawn('python3', ['-c', PY], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        py.stdout!.once('data', () => resolve());
        py.once('exit', (c) => reject(new Error(`python exited ${c}`)));
      });
      const d = new SeriesDetector('resource:listen-queue@probe', 'listen_queue', { ...DEFAULT_DETECTOR, trendWindow: 8, warmup: 5 });
      const t0 = Date.now();
      let firstWarning: (DetectorEvent & { type: 'trend' }) | undefined;
      let latestWarning: (DetectorEvent & { type: 'trend' }) | undefined; // the newest before the overflow
      let firstOverflowT: number | undefined;
      let fullT: number | undefined;
      const base = listenOverflows(a.name);
      while (Date.now() - t0 < 9000 && firstOverflowT === undefined) {
        const q = queue(a.name);
        const t = Date.now();
        if (q) {
          const fill = q.len / q.backlog;
          if (fill >= 1 && fullT === undefined) fullT = t;
          for (const e of d.push({ t, entity: d.entity, signal: 'listen_queue', value: fill, limit: 1 })) if (e.type === 'trend') {
            firstWarning ??= e;
            latestWarning = e;
          }
          if (process.env.FL_DEBUG) console.log(t - t0, fill, firstWarning ? firstWarning.warning.predictedCrossT - t0 : '');
        }
        if (listenOverflows(a.name) > base) firstOverflowT = Date.now();
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(firstOverflowT, 'the queue overflowed (the kernel counted ListenOverflows)');
      assert.ok(firstWarning, 'an early warning was raised');
      assert.ok(firstWarning.t < firstOverflowT, `warning at +${firstWarning.t - t0} ms, first overflow at +${firstOverflowT - t0} ms`);
      assert.ok(firstWarning.warning.predictedCrossT > firstWarning.t);
      // the prediction sharpens as the ramp goes on: the newest one before the overflow is close to the truth
      const real = fullT ?? firstOverflowT;
      const err = Math.abs(latestWarning!.warning.predictedCrossT - real);
      assert.ok(err < 1500, `predicted full at +${latestWarning!.warning.predictedCrossT - t0} ms (first warning predicted +${firstWarning.warning.predictedCrossT - t0}), really at +${real - t0} ms`);
    } finally {
      py.kill('SIGKILL');
    }
  });
});
