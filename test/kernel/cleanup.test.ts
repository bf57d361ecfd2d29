// Whatever way the process ends (SIGTERM, SIGINT, uncaught exception, unhandled rejection,
// process.exit) its tc filter and clsact qdisc are removed and its programs unloaded; signals are
// re-raised so the exit status still tells what happened.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE, PYTHON, ROOT, createVethPair, fixtureKernelState, settledKernelState, kernelBaseline, skipUnlessRoot, tcState, tcxAttached, type VethPair } from './helpers.js';

const skip = skipUnlessRoot || (!existsSync(PYTHON) && `${PYTHON} missing`) || (!existsSync(FIXTURE) && 'fixture not built');
let veth: VethPair | undefined;

before(() => { if (!skip) veth = createVethPair('ex', 215); });
after(() => veth?.destroy());

function runChild(mode: string, signal?: NodeJS.Signals, tcMode = 'netlink'): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; attachedWhileRunning: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/kernel/exit-child.ts'), mode, veth!.nsB, veth!.ifB, tcMode],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let attachedWhileRunning = false;
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d: Buffer) => {
      if (!d.toString().includes('ready')) return;
      attachedWhileRunning = tcMode === 'tcx' ? tcxAttached() : /tc_count/.test(tcState(veth!.nsB, veth!.ifB).ingress);
      if (signal) child.kill(signal);
      else child.stdin.write('go\n');
    });
    child.on('error', reject);
    child.on('exit', (code, sig) => resolve({ code, signal: sig, stderr, attachedWhileRunning }));
    setTimeout(() => child.kill('SIGKILL'), 20000).unref();
  });
}

for (const [mode, signal, expect] of [
  ['wait', 'SIGTERM', { signal: 'SIGTERM' }],
  ['wait', 'SIGINT', { signal: 'SIGINT' }],
  ['throw', undefined, { code: 1, stderr: /boom from the child/ }],
  ['reject', undefined, { code: 1, stderr: /rejected in the child/ }],
  ['exit', undefined, { code: 3 }],
] as const) {
  test(`child ending by ${signal ?? mode}: nothing stays attached`, { skip }, async () => {
    const baseline = kernelBaseline();
    const r = await runChild(mode, signal);
    assert.ok(r.attachedWhileRunning, `the child attached its tc filter (stderr: ${r.stderr})`);
    if ('signal' in expect) assert.equal(r.signal, expect.signal);
    if ('code' in expect) assert.equal(r.code, expect.code);
    if ('stderr' in expect) assert.match(r.stderr, expect.stderr);
    assert.deepEqual(tcState(veth!.nsB, veth!.ifB), { clsact: false, ingress: '', egress: '' });
    assert.deepEqual(settledKernelState(baseline), baseline);
  });
}

test('tcx mode: even SIGKILL (no handler can run) leaves nothing attached', { skip }, async () => {
  const baseline = kernelBaseline();
  const r = await runChild('wait', 'SIGKILL', 'tcx');
  assert.ok(r.attachedWhileRunning, `the child attached its tcx link (stderr: ${r.stderr})`);
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(tcxAttached(), false);
  assert.deepEqual(settledKernelState(baseline), baseline);
});
