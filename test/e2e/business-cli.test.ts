// `faultlens business --config FILE --json` against the demo's native payment service: probe statuses
// (a broken probe is reported, the others run), every charge as an event, metrics per label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const skip = process.getuid?.() !== 0 ? 'needs root (BPF)' : false;

test('faultlens business streams events, metrics and probe errors as JSON lines', { skip }, async () => {
  execFileSync('make', ['-s', '-C', join(ROOT, 'bpf'), '.output/uprobe.bpf.o'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const dir = mkdtempSync(join(tmpdir(), 'fl-bizcli-'));
  const bin = join(dir, 'payment');
  execFileSync('gcc', ['-O1', '-fno-inline', '-g', '-pthread', '-o', bin, join(ROOT, 'demo', 'payment', 'payment.c')]);
  const port = 21000 + (process.pid % 20000);
  const payment = spawn(bin, [], { env: { ...process.env, PAYMENT_PORT: String(port), SETTLE_PORT: String(port + 1) }, stdio: 'ignore' });
  const config = join(dir, 'faultlens.yaml');
  writeFileSync(config, `
business:
  probes:
    - name: charge
      target: ${bin}
      symbol: charge
      args:
        - { name: user, index: 0, type: string, maxLen: 32 }
        - { name: amount_cents, index: 1, type: long }
        - { name: currency, index: 2, type: string, maxLen: 8 }
      return: { name: status, type: int }
      metrics:
        - { name: calls, kind: count, labels: [status] }
        - { name: revenue, kind: sum, value: amount_cents, labels: [currency] }
    - name: order
      target: ${bin}
      symbol: record_order
      args:
        - { name: user, index: 0, deref: [0], type: string }
        - { name: items, index: 0, deref: [16], type: int }
        - { name: currency, index: 0, deref: [24], type: string, maxLen: 8 }
    - name: broken
      target: ${bin}
      symbol: no_such_function
    - name: badtype
      target: ${bin}
      symbol: charge
      args: [{ name: x, index: 0, type: float128 }]
`);
  const cli = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'business', '--config', config, '--json', '--duration', '3'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  cli.stdout.on('data', (d) => { out += d; });
  try {
    await new Promise<void>((res, rej) => {
      cli.stderr.on('data', (d) => { err += d; if (/probe\(s\) running/.test(err)) res(); });
      cli.on('exit', (c) => rej(new Error(`faultlens business exited ${c}: ${err}`)));
    });
    const sent = [['ann', 1200, 'EUR'], ['bob', 800, 'USD'], ['cat', 300, 'EUR']] as const;
    for (const [user, amount, currency] of sent) {
      execFileSync('curl', ['-s', '-o', '/dev/null', '-X', 'POST', `http://127.0.0.1:${port}/charge`, '-d', JSON.stringify({ user, amount_cents: amount, currency, items: 2 })]);
    }
    const code = await new Promise<number | null>((res) => cli.on('exit', res));
    assert.equal(code, 0, err);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const status = Object.fromEntries(lines.filter((l) => l.type === 'business-probe').map((l) => [l.name, l]));
    assert.equal((status.charge as { ok: boolean }).ok, true);
    assert.equal((status.order as { ok: boolean }).ok, true);
    assert.match((status.broken as { error: string }).error, /no_such_function.*not found/);
    assert.match((status.badtype as { error: string }).error, /args\.0\.type: must be one of/);
    const events = lines.filter((l) => l.type === 'business-event') as { probe: string; values: Record<string, unknown> }[];
    assert.deepEqual(events.filter((e) => e.probe === 'charge').map((e) => e.values),
      sent.map(([user, amount_cents, currency]) => ({ user, amount_cents, currency, status: 0 })));
    assert.deepEqual(events.filter((e) => e.probe === 'order').map((e) => e.values),
      sent.map(([user, , currency]) => ({ user, items: 2, currency })));
    const metrics = lines.filter((l) => l.type === 'business-metric') as { metric: string; labels: Record<string, string>; sum: number; count: number }[];
    const last = (metric: string, label: string) => metrics.filter((m) => m.metric === metric && Object.values(m.labels)[0] === label).at(-1);
    assert.equal(last('revenue', 'EUR')?.sum, 1500);
    assert.equal(last('revenue', 'USD')?.sum, 800);
    assert.equal(last('calls', '0')?.count, 3);
    const calls = lines.filter((l) => l.type === 'business-calls' && l.probe === 'charge').at(-1) as { calls: number; recorded: number } | undefined;
    assert.deepEqual(calls && { calls: calls.calls, recorded: calls.recorded }, { calls: 3, recorded: 3 }, 'kernel call count');
  } finally {
    cli.kill('SIGKILL');
    payment.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
