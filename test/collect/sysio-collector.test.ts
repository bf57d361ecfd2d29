// Block IO, run-queue latency and CPU time against the real kernel: direct-IO writes and reads on the
// root disk are charged to the process that made them, with their sizes; two busy processes pinned to one
// CPU wait in the run queue far longer than one alone; a busy process's CPU time matches its wall time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SysioCollector, deviceName, type ProcSched } from '../../src/collect/sysio-collector.js';
import { percentile } from '../../src/collect/sysio-hist.js';

const ROOT = join(import.meta.dirname, '..', '..');
const skip = process.getuid?.() !== 0 ? 'needs root (BPF)' : false;
let dir = '';
let busy = '';

before(() => {
  if (skip) return;
  execFileSync('make', ['-s', '-C', join(ROOT, 'bpf'), '.output/sysio.bpf.o'], { stdio: ['ignore', 'ignore', 'inherit'] });
  dir = mkdtempSync(join(tmpdir(), 'fl-sysio-')); // tmpdir is on the root fs here; the test checks the device below
  busy = join(dir, 'busy');
  execFileSync('gcc', ['-O1', '-o', busy, join(import.meta.dirname, 'sysio-busy.c')]);
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

function run(cmd: string, args: string[]): Promise<{ pid: number; out: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  return new Promise((res, rej) => child.on('exit', (code) => (code === 0 ? res({ pid: child.pid!, out }) : rej(new Error(`${cmd} failed: ${out}`)))));
}

/** The block device (sysfs name) a path lives on, or undefined when it is not a plain disk. */
function diskOf(path: string): string | undefined {
  const src = execFileSync('findmnt', ['-n', '-o', 'SOURCE', '-T', path], { encoding: 'utf8' }).trim();
  const m = /^\/dev\/([a-z0-9]+)$/.exec(src);
  return m ? m[1] : undefined;
}

test('direct IO writes and reads are charged to the writing process, with sizes and a latency distribution', { skip }, async (t) => {
  const disk = diskOf(dir);
  if (!disk) { t.skip(`${dir} is not on a plain block device`); return; }
  const c = new SysioCollector({ sched: false, slowIoNs: 1 }).start(); // every IO is "slow": exercises the outlier path
  const slow: number[] = [];
  const c2 = c; void c2;
  try {
    const file = join(dir, 'data');
    const blocks = 64;
    const w = await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=64k', `count=${blocks}`, 'oflag=direct', 'conv=fsync']);
    const r = await run('dd', [`if=${file}`, 'of=/dev/null', 'bs=64k', 'iflag=direct']);
    await new Promise((res) => setTimeout(res, 100));
    const io = c.readIo();
    const writes = io.filter((s) => s.pid === w.pid && s.op === 'write' && s.device === disk);
    const reads = io.filter((s) => s.pid === r.pid && s.op === 'read' && s.device === disk);
    assert.equal(writes.length, 1, `write stats of dd ${w.pid} on ${disk}: ${JSON.stringify(io.map((s) => [s.pid, s.comm, s.device, s.op, s.count]))}`);
    assert.equal(reads.length, 1, `read stats of dd ${r.pid}`);
    const wr = writes[0]!;
    const rd = reads[0]!;
    assert.equal(wr.comm, 'dd');
    const all = JSON.stringify(io.map((s) => [s.pid, s.comm, s.device, s.op, s.count, s.bytes]));
    // the data (an fsync may add a few metadata blocks)
    assert.ok(wr.bytes >= blocks * 65536 && wr.bytes <= blocks * 65536 + 262144,
      `dd ${w.pid} wrote ${wr.bytes} bytes (untracked completions: ${c.stats().ioUntracked}); all: ${all}`);
    assert.equal(rd.bytes, blocks * 65536, `dd ${r.pid} read ${rd.bytes} bytes; all: ${all}`);
    assert.ok(wr.count >= blocks && rd.count >= blocks, `requests: ${wr.count} writes, ${rd.count} reads`);
    const histTotal = wr.hist.reduce((a, b) => a + b, 0);
    assert.equal(histTotal, wr.count, 'one histogram sample per request');
    const p50 = percentile(wr.hist, 0.5)!;
    const p99 = percentile(wr.hist, 0.99)!;
    const mean = wr.totalNs / wr.count;
    assert.ok(p50 > 1000 && p50 < 1e9, `p50 ${p50} ns`);
    assert.ok(p99 >= p50 && p99 <= wr.maxNs * 1.2, `p99 ${p99} vs max ${wr.maxNs}`);
    assert.ok(mean > 1000 && mean <= wr.maxNs, `mean ${mean}`);
    assert.equal(deviceName(wr.dev), disk);
    assert.ok(wr.cgroupId > 0n);
    c.poll();
    void slow;
  } finally {
    c.close();
  }
});

test('slow-IO outliers carry process, size and op', { skip }, async (t) => {
  const disk = diskOf(dir);
  if (!disk) { t.skip('not on a plain block device'); return; }
  const slow: { pid: number; bytes: number; op: string; device: string; latNs: number }[] = [];
  const c = new SysioCollector({ sched: false, slowIoNs: 1, onSlowIo: (e) => slow.push(...e) }).start();
  try {
    const file = join(dir, 'slow');
    const w = await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=32k', 'count=8', 'oflag=direct']);
    await new Promise((res) => setTimeout(res, 100));
    c.poll();
    const mine = slow.filter((e) => e.pid === w.pid);
    assert.ok(mine.length >= 8, `${mine.length} outliers of dd`);
    assert.equal(mine.reduce((a, e) => a + e.bytes, 0), 8 * 32768);
    for (const e of mine) { assert.equal(e.op, 'write'); assert.equal(e.device, disk); assert.ok(e.latNs >= 1); }
    assert.equal(c.stats().slowDrops, 0n);
  } finally {
    c.close();
  }
});

const cpu = String(Math.max(0, (Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || 1) - 1));

interface BusyRun { proc: ProcSched; wallNs: number; kernelCpuNs: number; kernelWaitNs: number }

/**
 * n busy processes pinned to one CPU, in a session of their own whose autogroup runs at nice -20: the
 * scheduler weighs autogroups (sessions) against each other first, so the shared machine's other load
 * barely competes and the n processes mostly compete with each other.
 */
async function busyRun(n: number, ms: number): Promise<BusyRun[]> {
  const c = new SysioCollector({ io: false }).start();
  try {
    const script = `echo -20 > /proc/self/autogroup 2>/dev/null; for i in $(seq ${n}); do taskset -c ${cpu} ${busy} ${ms} & done; wait`;
    const r = await run('setsid', ['sh', '-c', script]);
    await new Promise((res) => setTimeout(res, 50));
    const all = c.readProcs();
    const lines = r.out.trim().split('\n');
    assert.equal(lines.length, n, r.out);
    return lines.map((line) => {
      const [pid, wall, kcpu, kwait] = line.trim().split(/\s+/).map(Number) as [number, number, number, number];
      const proc = all.find((x) => x.pid === pid);
      assert.ok(proc, `sched stats of busy pid ${pid}`);
      return { proc: proc!, wallNs: wall, kernelCpuNs: kcpu, kernelWaitNs: kwait };
    });
  } finally {
    c.close();
  }
}

const near = (ours: number, truth: number) => Math.abs(ours - truth) <= 0.15 * truth + 5e6;

test('run-queue latency and CPU time agree with the kernel schedstat; two busy processes on one CPU wait far longer than one', { skip }, async () => {
  const ms = 300;
  const [alone] = await busyRun(1, ms);
  const pair = await busyRun(2, ms);
  const a = alone!;
  assert.equal(a.proc.comm, 'busy', 'the name after exec');
  for (const r of [a, ...pair]) {
    assert.ok(near(r.proc.cpuNs, r.kernelCpuNs), `pid ${r.proc.pid}: cpu ${r.proc.cpuNs} vs schedstat ${r.kernelCpuNs}`);
    assert.ok(near(r.proc.runqTotalNs, r.kernelWaitNs), `pid ${r.proc.pid}: run-queue wait ${r.proc.runqTotalNs} vs schedstat ${r.kernelWaitNs}`);
  }
  assert.ok(a.proc.cpuNs > 0.7 * a.wallNs, `alone: cpu ${a.proc.cpuNs} of wall ${a.wallNs}`);
  for (const [i, r] of pair.entries()) {
    // sharing one CPU: each runs about half the time and waits in the run queue about the other half
    assert.ok(r.proc.cpuNs > 0.25 * r.wallNs && r.proc.cpuNs < 0.75 * r.wallNs, `pair ${i}: cpu ${r.proc.cpuNs} of wall ${r.wallNs}`);
    assert.ok(r.proc.runqTotalNs > 3 * a.proc.runqTotalNs, `pair ${i} waited ${r.proc.runqTotalNs} ns, alone ${a.proc.runqTotalNs}`);
    // per wait both may see about one scheduler slice (alone: when other load preempts it); the pair waits that
    // long every time the other one runs, so its total wait is what stands out (checked above)
    const p99 = percentile(r.proc.hist, 0.99)!;
    assert.ok(p99 > 1_000_000, `pair ${i}: run-queue p99 ${p99} ns (a scheduler slice is milliseconds)`);
  }
});

test('direct-IO read latency matches fio own report (p50 within 20 %)', { skip: skip || (hasFio() ? false : 'fio is not installed (apt-get install fio)') }, async (t) => {
  const disk = diskOf(dir);
  if (!disk) { t.skip('not on a plain block device'); return; }
  const file = join(dir, 'fio.dat');
  // lay the file out first, outside the measurement
  execFileSync('fio', ['--name=layout', `--filename=${file}`, '--size=16M', '--rw=write', '--bs=1M', '--direct=1', '--output-format=terse']);
  const c = new SysioCollector({ sched: false, slowIoNs: 0 }).start();
  try {
    const r = await run('fio', ['--name=fl', `--filename=${file}`, '--size=16M', '--rw=randread', '--bs=256k', '--direct=1', '--ioengine=psync',
      '--thread', '--runtime=1', '--time_based', '--output-format=json']);
    const report = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { jobs: { read: { io_bytes: number; total_ios: number; clat_ns: { percentile: Record<string, number> } } }[] };
    const fioRead = report.jobs[0]!.read;
    const ours = c.readIo().find((s) => s.pid === r.pid && s.op === 'read' && s.device === disk);
    assert.ok(ours, `fio ${r.pid} reads`);
    // one request per read; fio's time-based stop may leave a few IOs out of its own count (seen: 4 of 4,816)
    const slack = Math.max(3, Math.ceil(0.002 * fioRead.total_ios));
    assert.ok(Math.abs(ours!.count - fioRead.total_ios) <= slack, `requests: ours ${ours!.count}, fio ${fioRead.total_ios}`);
    assert.ok(Math.abs(ours!.bytes - fioRead.io_bytes) <= 3 * 262144, `bytes: ours ${ours!.bytes}, fio ${fioRead.io_bytes}`);
    const p50 = percentile(ours!.hist, 0.5)!;
    const fioP50 = fioRead.clat_ns.percentile['50.000000']!;
    // fio's completion latency also holds the syscall, block layer and wakeup around the device time we measure
    // (~20 µs on this loaded VM): 256 KiB reads keep the device time dominant, as it is for real slow IO
    assert.ok(Math.abs(p50 - fioP50) <= 0.2 * fioP50, `p50: ours ${Math.round(p50)} ns, fio ${fioP50} ns`);
  } finally {
    c.close();
  }
});

function hasFio(): boolean {
  try { execFileSync('fio', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}
