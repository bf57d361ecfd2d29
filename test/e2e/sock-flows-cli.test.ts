// `faultlens flows`: the real CLI streams the flow a test creates (JSON lines, netns filter), and refuses
// to run without root with a message that says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { collect, createNetnsPair } from '../helpers/netns.js';
import { sockCaptureUnavailable } from '../helpers/sock-capture.js';
import { REPO_ROOT } from '../helpers/sock-layout.js';
import { runPeer, sockPeerBinary, startServer } from '../helpers/sock-peer.js';

const CLI = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const skip = sockCaptureUnavailable();

function cli(args: string[], prefix: string[] = []) {
  const argv = [...prefix, process.execPath, '--import', 'tsx', CLI, 'flows', ...args];
  return spawn(argv[0], argv.slice(1), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

test('flows --json --netns streams the exact flow between two namespaces', { skip }, async () => {
  sockPeerBinary();
  const pair = createNetnsPair();
  try {
    const child = cli(['--json', '--interval', '0.3', '--duration', '3', '--netns', String(pair.b.inode)]);
    const done = collect(child, 'faultlens flows');
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    // the CLI says on stderr when capture is live
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`faultlens flows did not start: ${err}`)), 30000);
      child.stderr!.on('data', (d) => {
        err += d;
        if (/capturing from \d+ tracepoints/.test(err)) { clearTimeout(timer); resolve(); }
      });
    });
    const srv = await startServer(pair.b, ['tcp', pair.b.ip4, '0', 'write', '4321', '1234', 'accept4']);
    const c = await runPeer(pair.a, ['client', 'tcp', pair.b.ip4, String(srv.port), 'write', '4321', '1234']);
    const s = await srv.done;
    await done;
    const lines = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    assert.ok(lines.length > 0, 'no JSON lines');
    for (const l of lines) {
      assert.equal(l.type, 'flow');
      assert.ok([l.netns, l.clientNetns, l.serverNetns].includes(pair.b.inode), `line outside the netns filter: ${JSON.stringify(l)}`);
    }
    const mine = lines.filter((l) => l.client.ip === pair.a.ip4 && l.client.port === c.lport && l.server.port === srv.port);
    assert.ok(mine.length > 0, 'the flow never appeared');
    const last = mine[mine.length - 1];
    assert.equal(last.bytesClientToServer, 4321);
    assert.equal(last.bytesServerToClient, 1234);
    assert.equal(last.clientProc.pid, c.pid);
    assert.equal(last.serverProc.pid, s.pid);
    assert.equal(typeof last.firstSeenNs, 'string'); // bigints are decimal strings in JSON
  } finally {
    pair.destroy();
  }
});

test('flows without root fails with a clear message', { skip: process.getuid?.() !== 0 ? 'needs root to drop privileges' : undefined }, async () => {
  const child = cli(['--duration', '1'], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
  const r = await collect(child, 'faultlens flows as nobody').then(() => undefined, (e: { code: number; stderr: string }) => e);
  assert.ok(r, 'faultlens flows succeeded without root');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /faultlens flows needs root/);
});
