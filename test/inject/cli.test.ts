// `faultlens inject` end to end through the real CLI: the default background holder, `ls --json`, `stop ID`,
// and clear errors with a non-zero exit. Plus the rate parser.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { parseRate } from '../../src/cli/commands/inject.js';
import { alive } from '../../src/inject/registry.js';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { injectSkipReason, tempRegistry } from './helpers.js';

const skip = injectSkipReason();
const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const registry = skip ? '' : tempRegistry();
let pair: NetnsPair | undefined;

after(() => pair?.destroy());

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, 'inject', ...args], { env: { ...process.env, FAULTLENS_INJECT_DIR: registry } },
      (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
  });
}

test('rates parse from bits and bytes', () => {
  assert.equal(parseRate('8mbit'), 1_000_000);
  assert.equal(parseRate('500kbit'), 62_500);
  assert.equal(parseRate('2MB'), 2_000_000);
  assert.equal(parseRate('125000'), 125_000);
  assert.equal(parseRate('1.5mbit/s'), 187_500);
  assert.throws(() => parseRate('fast'), /use bytes\/s or a unit/);
});

test('inject returns with a background holder; ls --json lists it; stop ID removes it', { skip }, async () => {
  pair = createNetnsPair();
  const made = await cli(['blackhole', '--netns', pair.b.name, '--remote-port', '9', '--ttl', '60', '--label', 'cli test', '--json']);
  assert.equal(made.code, 0, made.stderr);
  const fault = JSON.parse(made.stdout) as { id: string; ownerPid: number; description: string };
  assert.notEqual(fault.ownerPid, process.pid);
  assert.ok(alive(fault.ownerPid), 'the holder keeps running after the command returned');
  const ls = await cli(['ls', '--json']);
  const listed = JSON.parse(ls.stdout) as { id: string; spec: { label?: string } }[];
  assert.deepEqual(listed.map((f) => [f.id, f.spec.label]), [[fault.id, 'cli test']]);
  const stopped = await cli(['stop', fault.id]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stdout, new RegExp(`stopped 1 fault\\(s\\): ${fault.id}`));
  for (let i = 0; i < 40 && alive(fault.ownerPid); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(alive(fault.ownerPid), false, 'the holder exited after stop');
  assert.equal((await cli(['ls'])).stdout.trim(), 'no active faults');
});

test('bad input exits non-zero with a clear message', { skip }, async () => {
  const r1 = await cli(['blackhole', '--netns', 'fl-no-such-ns', '--ttl', '5']);
  assert.equal(r1.code, 1);
  assert.match(r1.stderr, /network namespace 'fl-no-such-ns' does not exist/);
  const r2 = await cli(['refuse', '--ttl', '5']);
  assert.match(r2.stderr, /refusing a host-wide refuse fault/);
  const r3 = await cli(['stop', 'f-nothere']);
  assert.match(r3.stderr, /no active fault 'f-nothere'/);
});
