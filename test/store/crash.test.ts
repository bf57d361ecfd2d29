// Crash safety of the DuckDB store: a writer SIGKILLed after some flushes loses only its unflushed batch.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { openStore } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fl-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('keeps every flushed batch after SIGKILL and loses at most the unflushed one', async () => {
  const file = join(dir, 'crash.duckdb');
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'crash-writer.ts'), file, '5', '200'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let lastDurable = 0;
  let pending = 0;
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`writer exited early (${code}): ${out}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const m of out.matchAll(/durable (\d+)/g)) lastDurable = Number(m[1]);
      const p = /pending (\d+)/.exec(out);
      if (p) {
        pending = Number(p[1]);
        child.removeAllListeners('exit');
        resolve();
      }
    });
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(lastDurable, 1000);
  assert.equal(pending, 200);

  const store = await openStore(file, { retentionHours: 0 });
  try {
    const flows = await store.queryFlows({ fromNs: 0n, toNs: 10_000n, limit: 100_000 });
    // everything reported durable is there; the unflushed batch (the documented bound) is not
    assert.equal(flows.length, lastDurable);
  } finally {
    await store.close();
  }
});
