// Every failure mode gives an Error that names its cause (and the program / tracepoint / file), and
// leaves nothing loaded or attached.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfObject, BpfLoadError, BpfError } from '../../src/kernel/index.js';
import { BAD_FIXTURE, FIXTURE, ROOT, fixtureKernelState, settledKernelState, kernelBaseline, ownBpfFds, skipUnlessRoot } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'fl-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function expectError(fn: () => unknown, re: RegExp, code?: string): BpfError {
  let caught: unknown;
  try { fn(); } catch (err) { caught = err; }
  assert.ok(caught instanceof BpfError, `expected a BpfError, got ${String(caught)}`);
  assert.match(caught.message, re);
  if (code) assert.equal(caught.code, code);
  return caught;
}

test('bad object files: missing, text, foreign ELF, truncated BPF ELF', () => {
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'this is not an object file\n');
  const truncated = join(dir, 'truncated.bpf.o');
  writeFileSync(truncated, readFileSync(FIXTURE).subarray(0, 600));
  expectError(() => BpfObject.open(join(dir, 'absent.bpf.o')), /cannot open BPF object .*absent\.bpf\.o: No such file or directory/, 'ENOENT');
  expectError(() => BpfObject.open(text), /notes\.txt is not a BPF object: not an ELF file/, 'ENOEXEC');
  expectError(() => BpfObject.open('/bin/true'), /\/bin\/true is not a BPF object: it is an ELF file for x86-64 .*not for BPF/, 'ENOEXEC');
  expectError(() => BpfObject.open(truncated), /cannot open BPF object .*truncated\.bpf\.o: /);
});

test('verifier rejection names the program and carries the verifier log', { skip: skipUnlessRoot }, () => {
  const baseline = kernelBaseline();
  const err = expectError(() => BpfObject.load(BAD_FIXTURE), /program 'bad_deref' was rejected by the verifier/);
  assert.ok(err instanceof BpfLoadError);
  assert.equal(err.program, 'bad_deref');
  assert.match(err.verifierLog, /invalid mem access 'map_value_or_null'/);
  assert.match(err.message, /invalid mem access/); // the log's tail is in the message too
  assert.deepEqual(settledKernelState(baseline), baseline);
  assert.deepEqual(ownBpfFds(), { prog: 0, link: 0, map: 0 });
});

test('missing tracepoints and raw tracepoints name the program and the tracepoint', { skip: skipUnlessRoot }, () => {
  const baseline = kernelBaseline();
  const obj = BpfObject.load(FIXTURE);
  try {
    expectError(() => obj.program('count_write').attachTracepoint('syscalls', 'sys_enter_doesnotexist'),
      /program 'count_write': tracepoint syscalls\/sys_enter_doesnotexist does not exist/, 'ENOENT');
    expectError(() => obj.program('raw_sys_enter').attachRawTracepoint('fl_doesnotexist'),
      /program 'raw_sys_enter' to raw tracepoint fl_doesnotexist: .*no such raw tracepoint/, 'ENOENT');
    expectError(() => obj.program('nope'), /no program 'nope' in .*\(has: count_write, /);
    expectError(() => obj.map('nope'), /no map 'nope' in .*\(has: /);
    expectError(() => obj.structLayout('no_such_struct'), /struct no_such_struct is not in the BTF/, 'ENOENT');
    expectError(() => obj.program('sock_create').attachCgroup('/tmp'), /program 'sock_create' to cgroup \/tmp .*cgroup v2 directory/);
    assert.deepEqual(obj.attachments(), []);
  } finally {
    obj.close();
  }
  assert.deepEqual(settledKernelState(baseline), baseline);
  const unloaded = BpfObject.open(FIXTURE);
  expectError(() => unloaded.program('count_write'), /not loaded yet/);
  unloaded.close();
});

test('without privilege: a clear EPERM error naming the missing capability', { skip: skipUnlessRoot }, () => {
  const baseline = kernelBaseline();
  // nobody must be able to read the fixture and run tsx; the repo is world-readable
  chmodSync(dir, 0o755);
  const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', join(ROOT, 'test/kernel/exit-child.ts'), 'load'],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HOME: dir, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') } });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(out.ok, false);
  assert.equal(out.code, 'EPERM');
  assert.match(out.message, /permission denied .*needs root, or CAP_BPF \+ CAP_PERFMON.*running as uid \d+/);
  assert.deepEqual(settledKernelState(baseline), baseline);
});

test('a load the kernel keeps interrupting (signals arriving: EAGAIN) says so, and leaves nothing loaded', { skip: skipUnlessRoot || (process.arch !== 'x64' && 'the socket probe is x86-64 only') }, async () => {
  // the socket probe: programs big enough that a signal lands while the verifier walks them
  const object = join(ROOT, 'bpf/.output/sock_lite.bpf.o');
  const progs = () => (JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' }) || '[]') as { name?: string }[]).filter((p) => p.name?.startsWith('sock_')).length;
  const before = progs();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/kernel/signal-load-child.ts'), object], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  await new Promise<void>((res) => { const t = setInterval(() => { if (out.includes('ready')) { clearInterval(t); res(); } }, 10); });
  const flood = spawn('bash', ['-c', `while kill -USR2 ${child.pid} 2>/dev/null; do :; done`], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 200));
    child.stdin.write('go\n');
    await new Promise((r) => child.once('exit', r));
  } finally {
    flood.kill();
  }
  const res = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(res.ok, false, 'the load went through despite the signals: nothing to check');
  assert.equal(res.code, 'EAGAIN');
  assert.match(res.message, /stopped verifying .* because signals kept arriving .*load it again without them/);
  assert.doesNotMatch(res.message, /rejected by the verifier/);
  const end = Date.now() + 3000;
  while (progs() !== before && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.equal(progs(), before);
});
