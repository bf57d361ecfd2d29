// `faultlens diagnose --json` end to end: the CLI, started before the fault, streams the Nagle × delayed-ACK
// finding for the affected flow within a few seconds.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { runPeer, startPeerServer, tcpE2eSkipReason } from './tcp-peer.js';

const skip = tcpE2eSkipReason();
const ROOT = join(import.meta.dirname, '..', '..');
let pair: NetnsPair | undefined;
after(() => pair?.destroy());

test('faultlens diagnose --json streams the Nagle finding for the affected flow', { skip, timeout: 180_000 }, async () => {
  pair = createNetnsPair();
  const cli = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'diagnose', '--json',
    '--netns', String(pair.a.inode), '--duration', '6', '--interval', '1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let firstNagleAt = 0; // when the first Nagle finding line arrived
  cli.stdout.on('data', (d) => {
    stdout += d;
    if (!firstNagleAt && stdout.includes('"kind":"tcp.nagle-delayed-ack"')) firstNagleAt = Date.now();
  });
  const exited = new Promise<number | null>((r) => cli.on('close', r));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`diagnose did not start: ${stderr}`)), 90_000);
    cli.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('watching TCP')) { clearTimeout(t); resolve(); }
    });
  });
  const t0 = Date.now();
  const server = await startPeerServer(pair.b, ['rr-server', pair.b.ip4, '0', '200', '100']);
  const client = await runPeer(pair.a, ['rr-client', pair.b.ip4, String(server.port), '40', '100', '100', '100']);
  await server.done;
  const code = await exited;
  assert.equal(code, 0, stderr);
  const findings = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  const nagle = findings.filter((f) => f.kind === 'tcp.nagle-delayed-ack' && f.subject.flow.local.port === client.lport);
  assert.ok(nagle.length >= 1, `no Nagle finding in: ${stdout.slice(0, 500)}`);
  const first = nagle[0]!;
  assert.equal(first.type, 'finding');
  assert.equal(first.subject.flow.netns, pair.a.inode);
  assert.ok(first.evidence.ackDelayMs >= 35 && first.evidence.ackDelayMs <= 50, `ackDelayMs ${first.evidence.ackDelayMs}`);
  // live: reported while the 40 exchanges (~2 s) were still running or right after, not at exit
  assert.ok(firstNagleAt - t0 < 5_000, `first finding ${firstNagleAt - t0} ms after the fault started`);
  // --netns filters: nothing from the server's namespace
  assert.equal(findings.some((f) => f.subject.flow?.netns === pair!.b.inode), false);
});
