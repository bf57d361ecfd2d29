// Benchmark: what a business uprobe costs per probed call (issue 5). A C loop (bench/lib/uprobe-loop.c) calls
// charge(const char *user, long amount, const char *cur) in batches and reports wall and thread-CPU ns per call:
//   none       no probe;
//   empty      an empty BPF uprobe (bench/lib/uprobe-empty.bpf.c): the trap alone (int3, kernel entry, BPF dispatch);
//   entry      the business probe via BusinessCollector (bpf/uprobe.bpf.o), 3 args incl. 2 strings, events on;
//   entry+ret  the same plus the uretprobe (return value and duration).
// Modes run in interleaved rounds, the order rotated every round, so drift on this shared machine hits all.
// "- none" is what a probed call costs more; "- empty" is our program's own work beyond the bare trap.
// --bpf-stats also reads the time spent inside the BPF programs (kernel.bpf_stats_enabled, which itself adds
// a little to every program run, so it is off by default).
//
//   node --import tsx bench/uprobe-overhead.ts [--rounds 3] [--calls 100000] [--batches 5] [--ring-mib 16] [--bpf-stats]
// Needs root, cc and clang, and the built bpf/.output/uprobe.bpf.o.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject } from '../src/kernel/index.js';
import { BusinessCollector } from '../src/collect/business-collector.js';
import { BusinessProbeSchema } from '../src/collect/business-spec.js';
import { flag, numArg } from './lib/args.js';
import { enableBpfStats, progStats, statDelta } from './lib/bpf-prog-stats.js';
import { fixed, loadLine, machineHeader, median, min, table } from './lib/report.js';
import { hasCommand } from './lib/servers.js';

const MODES = ['none', 'empty', 'entry', 'entry+ret'] as const;
type Mode = (typeof MODES)[number];
const OUR_PROGRAMS = new Set(['fl_empty', 'biz_entry', 'biz_return']);
interface Batch { wall: number; cpu: number }
interface Sample { round: number; mode: Mode; batches: Batch[]; events: number; drops: number; bpfNs: number; bpfRuns: number }
interface Attached { stats: () => { events: number; drops: number }; close: () => void }

const lib = (f: string) => fileURLToPath(new URL(`lib/${f}`, import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

function build(dir: string): { loop: string; empty: string } {
  const loop = join(dir, 'uprobe-loop');
  const empty = join(dir, 'uprobe-empty.bpf.o');
  const steps: [string, string[]][] = [
    ['cc', ['-O2', '-Wall', '-o', loop, lib('uprobe-loop.c')]],
    ['clang', ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', join(REPO_ROOT, 'bpf'), '-c', lib('uprobe-empty.bpf.c'), '-o', empty]],
  ];
  for (const [cmd, args] of steps) {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.at(-1)} failed: ${r.stderr || r.error?.message}`);
  }
  return { loop, empty };
}

/** One run of the loop: wall and CPU ns per call of each batch. */
function runLoop(bin: string, calls: number, batches: number): Promise<Batch[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, [String(calls), String(batches)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const xs = out.trim().split('\n').map((l) => l.split(' ').map(Number)).map(([wall, cpu]) => ({ wall, cpu }));
      if (code === 0 && xs.length === batches && xs.every((x) => Number.isFinite(x.wall) && Number.isFinite(x.cpu))) resolve(xs);
      else reject(new Error(`uprobe-loop failed (${code}): ${out}`));
    });
  });
}

/** Attaches what the mode needs to the loop's charge(). */
function attach(mode: Mode, bin: string, emptyObj: string, ringBytes: number): Attached {
  if (mode === 'none') return { stats: () => ({ events: 0, drops: 0 }), close: () => {} };
  if (mode === 'empty') {
    const o = BpfObject.load(emptyObj);
    try { o.program('fl_empty').attachUprobe({ binary: bin, symbol: 'charge' }); } catch (err) { o.close(); throw err; }
    return { stats: () => ({ events: 0, drops: 0 }), close: () => o.close() };
  }
  let delivered = 0;
  const c = new BusinessCollector({ ringBytes, onEvents: (evs) => { delivered += evs.length; } }).start();
  const s = c.addProbe(BusinessProbeSchema.parse({
    name: 'bench_charge', target: bin, symbol: 'charge',
    args: [{ name: 'user', index: 0, type: 'string', maxLen: 32 }, { name: 'amount', index: 1, type: 'long' }, { name: 'cur', index: 2, type: 'string', maxLen: 8 }],
    ...(mode === 'entry+ret' ? { return: { name: 'status', type: 'int' } } : {}),
  }));
  if (!s.ok) { c.close(); throw new Error(s.error); }
  return { stats: () => ({ events: delivered, drops: Number(c.stats().drops) }), close: () => c.close() };
}

async function measure(round: number, mode: Mode, o: { loop: string; empty: string; calls: number; batches: number; ringBytes: number; bpfStats: boolean }): Promise<Sample> {
  const idsBefore = o.bpfStats ? new Set(progStats().keys()) : new Set<number>();
  const probe = attach(mode, o.loop, o.empty, o.ringBytes);
  try {
    // our programs: loaded by this attach, with one of our names (other tenants load programs too)
    const p0 = o.bpfStats && mode !== 'none' ? progStats() : new Map();
    const ours = [...p0.values()].filter((p) => !idsBefore.has(p.id) && OUR_PROGRAMS.has(p.name)).map((p) => p.id);
    const batches = await runLoop(o.loop, o.calls, o.batches);
    const bpf = ours.length ? statDelta(p0, progStats(), ours) : [];
    await new Promise((res) => setTimeout(res, 200)); // let the ring-buffer consumer catch up before counting
    return { round, mode, batches, ...probe.stats(),
      bpfNs: bpf.reduce((a, p) => a + p.runTimeNs, 0), bpfRuns: bpf.reduce((a, p) => a + p.runCnt, 0) };
  } finally {
    probe.close();
  }
}

async function main(): Promise<void> {
  const rounds = numArg('rounds', 3);
  const calls = numArg('calls', 100_000);
  const batches = numArg('batches', 5);
  const ringBytes = numArg('ring-mib', 16) * 1024 * 1024;
  const bpfStats = flag('bpf-stats');
  if (process.getuid?.() !== 0) throw new Error('uprobe-overhead needs root (it attaches uprobes)');
  for (const cmd of ['cc', 'clang', ...(bpfStats ? ['bpftool'] : [])]) {
    if (!hasCommand(cmd)) { console.error(`uprobe-overhead: '${cmd}' not found; skipping`); process.exitCode = 2; return; }
  }
  const dir = mkdtempSync(join(tmpdir(), 'fl-bench-uprobe-'));
  const restoreStats = bpfStats ? enableBpfStats() : () => {};
  try {
    const { loop, empty } = build(dir);
    console.log(`faultlens bench uprobe-overhead — ${machineHeader()}`);
    console.log(`charge(user, amount, cur) x ${calls} calls x ${batches} batches per mode per round; ${rounds} rounds, order rotated` +
      (bpfStats ? '; kernel.bpf_stats_enabled on' : '') + '\n');
    const samples: Sample[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const mode of MODES.map((_, i) => MODES[(i + r) % MODES.length])) {
        const s = await measure(r + 1, mode, { loop, empty, calls, batches, ringBytes, bpfStats });
        samples.push(s);
        const w = s.batches.map((b) => b.wall);
        const c = s.batches.map((b) => b.cpu);
        console.log(`round ${r + 1} ${mode.padEnd(9)} ns/call wall min ${fixed(min(w), 1)} med ${fixed(median(w), 1)}, cpu min ${fixed(min(c), 1)} med ${fixed(median(c), 1)}` +
          (mode.startsWith('entry') ? `; events ${s.events} drops ${s.drops}` : '') + (s.bpfRuns ? `; bpf ${fixed(s.bpfNs / calls / batches, 0)} ns/call` : '') + `  (${loadLine()})`);
      }
    }
    const pick = (m: Mode, k: keyof Batch) => samples.filter((s) => s.mode === m).flatMap((s) => s.batches.map((b) => b[k]));
    for (const k of ['wall', 'cpu'] as const) {
      const none = { min: min(pick('none', k)), med: median(pick('none', k)) };
      const emp = { min: min(pick('empty', k)), med: median(pick('empty', k)) };
      const rows = [['mode', 'min ns/call', 'median ns/call', 'x none (med)', 'x empty (med)', '- none ns (min / med)', '- empty ns (min / med)']];
      for (const m of MODES) {
        const s = { min: min(pick(m, k)), med: median(pick(m, k)) };
        rows.push([m, fixed(s.min, 1), fixed(s.med, 1), fixed(s.med / none.med, 0), m === 'none' ? '-' : fixed(s.med / emp.med, 2),
          m === 'none' ? '-' : `${fixed(s.min - none.min, 0)} / ${fixed(s.med - none.med, 0)}`,
          m === 'none' || m === 'empty' ? '-' : `${fixed(s.min - emp.min, 0)} / ${fixed(s.med - emp.med, 0)}`]);
      }
      console.log(`\n${k === 'wall' ? 'wall' : 'thread CPU'} time per call, over ${rounds} rounds x ${batches} batches of ${calls} calls per mode:`);
      console.log(table(rows));
    }
    console.log('\n- none: what a probed call costs more than an unprobed one; - empty: our program\'s work beyond the bare uprobe trap.');
    for (const m of MODES.filter((x) => x !== 'none')) {
      const sm = samples.filter((s) => s.mode === m);
      const parts = [];
      if (m.startsWith('entry')) parts.push(`events to JS ${sm.reduce((a, s) => a + s.events, 0)} of ${rounds * batches * calls} calls, ring drops ${sm.reduce((a, s) => a + s.drops, 0)}`);
      if (bpfStats) parts.push(`inside BPF (median of rounds) ${fixed(median(sm.map((s) => s.bpfNs / (calls * batches))), 0)} ns/call over ${fixed(median(sm.map((s) => s.bpfRuns / (calls * batches))), 1)} program runs/call`);
      if (parts.length) console.log(`${m}: ${parts.join('; ')}`);
    }
    console.log(`done — ${machineHeader()}`);
  } finally {
    restoreStats();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`uprobe-overhead: ${err.message}`);
  process.exitCode = 1;
});
