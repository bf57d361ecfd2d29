// `faultlens server` as a process: starts from flags, prints where to look, serves, stops cleanly on
// SIGTERM — and when SIGKILLed mid-ingest, every batch it acknowledged is still there after a restart.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../store/clickhouse-server.js';
import { makeFlow } from '../store/fixtures.js';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'fl-cli-server-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const wire = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

async function startCli(args: string[]): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not come up: ${out}`)), 20_000);
    child.on('exit', (c) => (clearTimeout(t), reject(new Error(`server exited (${c}): ${out}`))));
    const check = () => (/Ctrl-C to stop/.test(out) ? (clearTimeout(t), child.removeAllListeners('exit'), resolve()) : undefined);
    child.stdout!.on('data', check);
  });
  return { child, out: () => out };
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

describe('faultlens server', () => {
  it('starts from flags, prints where to look, and stops on SIGTERM', async () => {
    const port = await freePort();
    const { child, out } = await startCli(['--port', String(port), '--data-dir', join(dir, 'a'), '--token', 'tok-tok-tok']);
    assert.match(out(), new RegExp(`UI +http://127\\.0\\.0\\.1:${port}/`));
    assert.match(out(), /store +duckdb .*faultlens\.duckdb/);
    assert.match(out(), /bearer token required/);
    const h = (await (await fetch(`http://127.0.0.1:${port}/api/health`)).json()) as { status: string };
    assert.equal(h.status, 'ok');
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
  });

  it('rejects a bad flag value with a message naming it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', '--port', 'http'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d));
    assert.equal(await exited(child), 1);
    assert.match(err, /server\.port: .*expected number.*flag --port/);
  });

  it('loses no acknowledged batch when SIGKILLed mid-ingest', async (t) => {
    const port = await freePort();
    const dataDir = join(dir, 'kill');
    const url = `http://127.0.0.1:${port}`;
    let { child } = await startCli(['--port', String(port), '--data-dir', dataDir]);
    let acked = 0;
    let sent = 0;
    const batches: Promise<void>[] = [];
    // keep 4 ingests in flight; kill the server after ~20 acknowledgements
    let killed = false;
    const sender = async () => {
      while (!killed) {
        const n = 50;
        const flows = Array.from({ length: n }, () => makeFlow({ host: 'k', tsNs: BigInt(Date.now()) * 1_000_000n }));
        sent += n;
        try {
          const r = await fetch(`${url}/api/ingest`, { method: 'POST', body: wire({ host: 'k', flows }) });
          if (r.status === 200) acked += n;
        } catch {
          return; // the server died under this request: not acknowledged
        }
        if (acked >= 1000 && !killed) {
          killed = true;
          child.kill('SIGKILL'); // the other senders' requests are in flight right now
        }
      }
    };
    for (let i = 0; i < 4; i++) batches.push(sender());
    await Promise.all(batches);
    await exited(child);
    assert.ok(acked >= 1000);

    ({ child } = await startCli(['--port', String(port), '--data-dir', dataDir]));
    try {
      const got = (await (await fetch(`${url}/api/flows?from=now-10m&limit=10000&host=k`)).json()) as { flows: unknown[] };
      t.diagnostic(`sent ${sent}, acknowledged ${acked}, found after restart ${got.flows.length}`);
      assert.ok(got.flows.length >= acked, `acknowledged ${acked}, found ${got.flows.length}`);
      assert.ok(got.flows.length <= sent, `found ${got.flows.length} > sent ${sent}`);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  });
});
