// `faultlens tcp --json` end to end: a live connection in a test namespace appears with its owner and the
// kernel's figures, filtered by --netns.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { tcpPeerBinary, startPeerServer, tcpE2eSkipReason } from './tcp-peer.js';

const skip = tcpE2eSkipReason();
const ROOT = join(import.meta.dirname, '..', '..');
let pair: NetnsPair | undefined;
after(() => pair?.destroy());

test('faultlens tcp --json lists live connections and listeners of a namespace', { skip, timeout: 180_000 }, async () => {
  pair = createNetnsPair();
  const cli = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'tcp', '--json',
    '--netns', String(pair.a.inode), '--duration', '3', '--interval', '1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  cli.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((r) => cli.on('close', r));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`faultlens tcp did not start: ${stderr}`)), 90_000);
    cli.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('watching TCP')) { clearTimeout(t); resolve(); }
    });
  });
  // a listener in netns a and a connection to it from the same namespace, held open across a refresh
  const server = await startPeerServer(pair.a, ['rr-server', pair.a.ip4, '0', '200', '100']);
  const client = pair.a.spawn(tcpPeerBinary(), ['rr-client', pair.a.ip4, String(server.port), '20', '100', '100', '100'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODELAY: '1', HOLD_MS: '2500' } });
  const code = await exited;
  client.kill();
  server.kill();
  assert.equal(code, 0, stderr);
  const rows = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  const conns = rows.filter((r) => r.type === 'tcp-conn' && r.remote.port === server.port);
  const listeners = rows.filter((r) => r.type === 'tcp-listener' && r.local.port === server.port);
  assert.ok(conns.length > 0, `connection listed (got ${rows.length} rows)`);
  const c = conns[conns.length - 1]!;
  assert.equal(c.netns, pair.a.inode);
  assert.equal(c.comm, 'tcp-peer');
  assert.equal(c.role, 'client');
  assert.equal(c.nodelay, true);
  assert.ok(c.srttUs > 0 && c.mss > 0 && c.cwnd > 0);
  assert.ok(listeners.length > 0, 'listener listed');
  assert.equal(listeners[0]!.comm, 'tcp-peer');
  assert.ok(rows.every((r) => r.netns === pair!.a.inode), '--netns filters');
});
