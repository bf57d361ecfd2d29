// Benchmark: the kernel -> JS path, and the in-kernel cost of the socket probe per syscall.
// C generators (bench/lib/udp-gen.c) run a syscall loop: send+recv on a loopback UDP pair (default), the same
// over TCP, read/write on /dev/zero and /dev/null (a traced syscall on a non-socket fd, which the probe must
// look at and drop) or getppid (a syscall the probe does not trace). Modes, interleaved in every round (the
// order rotated per round): capture off, and each probe variant (raw = sock_raw.bpf.o, the raw sys_exit
// tracepoint; classic = sock.bpf.o, a sys_enter/sys_exit tracepoint pair per syscall) with 512-byte payload
// heads or none (payload 0 = flows-only). With capture on, this process runs the SockCollector and folds
// every batch into a FlowTable.
// Per round: generator syscalls/s, generator CPU ns per syscall (on minus off = what the probe costs the
// traced thread: dispatch + program + ring-buffer write), time inside the probe's BPF programs per generator
// syscall (kernel.bpf_stats_enabled, switched on for the run), records the kernel wrote, records delivered
// to JS, drops, and this process's CPU per record (drain + fold).
//   node --import tsx bench/ring-drain.ts [--rounds 3] [--duration 3] [--generators 1]
//        [--workloads udp,file,getppid] [--modes off,raw-512,raw-0,classic-512,classic-0] [--classic-object PATH] [--no-bpf-stats]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOCK_OBJECT, SOCK_RAW_OBJECT, SockCollector } from '../src/collect/sock-collector.js';
import { FlowTable } from '../src/correlate/flows.js';
import { flag, numArg, strArg } from './lib/args.js';
import { enableBpfStats, objectProgramNames, progStats, statDelta } from './lib/bpf-prog-stats.js';
import { cpuTimes, fixed, int, machineHeader, median, table } from './lib/report.js';
import { hasCommand } from './lib/servers.js';

const WORKLOADS = ['udp', 'tcp', 'file', 'getppid'] as const;
type Workload = (typeof WORKLOADS)[number];
const MODES = ['off', 'raw-512', 'raw-0', 'classic-512', 'classic-0'] as const;
type Mode = (typeof MODES)[number];
interface Round {
  mode: Mode; workload: Workload; syscallsPerSec: number; genNsPerSyscall: number; p10NsPerSyscall: number; bpfNsPerSyscall: number;
  runsPerSyscall: number; written: number; delivered: number; drops: number; cpuUsPerRecord: number; busyPct: number;
}

/** Runs n generators in parallel; returns total iterations and their total CPU seconds. */
function runGenerators(bin: string, n: number, seconds: number, workload: Workload): Promise<{ iterations: number; cpu: number; p10NsPerIteration: number }> {
  return Promise.all(Array.from({ length: n }, () => new Promise<[number, number, number]>((resolve, reject) => {
    const p = spawn(bin, [String(seconds), workload], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const [it, cpu, p10] = out.trim().split(' ').map(Number);
      if (code === 0 && Number.isFinite(it) && Number.isFinite(cpu) && Number.isFinite(p10)) resolve([it, cpu, p10]);
      else reject(new Error(`udp-gen failed (${code}): ${out}`));
    });
  }))).then((xs) => ({ iterations: xs.reduce((a, x) => a + x[0], 0), cpu: xs.reduce((a, x) => a + x[1], 0), p10NsPerIteration: median(xs.map((x) => x[2])) }));
}

function listArg<T extends string>(name: string, dflt: string, allowed: readonly T[]): T[] {
  const xs = strArg(name, dflt).split(',').map((x) => x.trim()).filter(Boolean);
  for (const x of xs) if (!allowed.includes(x as T)) throw new Error(`--${name}: unknown '${x}' (one of ${allowed.join(', ')})`);
  return xs as T[];
}

function startCapture(mode: Mode, t: FlowTable, classicObject: string): SockCollector {
  const [variant, payload] = mode.split('-');
  return SockCollector.start({
    objectPath: variant === 'raw' ? SOCK_RAW_OBJECT : classicObject,
    payloadBytes: Number(payload),
    onBatch: (b, v) => t.foldBatch(b, v),
    onWarning: () => {},
  });
}

async function main(): Promise<void> {
  const rounds = numArg('rounds', 3);
  const seconds = numArg('duration', 3);
  const generators = numArg('generators', 1);
  const workloads = listArg('workloads', 'udp,file,getppid', WORKLOADS);
  const modes = listArg('modes', MODES.join(','), MODES);
  const classicObject = strArg('classic-object', SOCK_OBJECT); // e.g. an older build, for a before/after
  if (process.getuid?.() !== 0) throw new Error('ring-drain needs root (it attaches eBPF programs)');
  if (!hasCommand('cc')) { console.error('ring-drain: no C compiler (cc) to build the generator; skipping'); process.exitCode = 2; return; }
  const dir = mkdtempSync(join(tmpdir(), 'fl-bench-ring-'));
  const bin = join(dir, 'udp-gen');
  // bpf_stats adds two clock reads to every program run: --no-bpf-stats measures the probe without them
  const restoreStats = flag('no-bpf-stats') ? () => {} : enableBpfStats();
  const names = new Set([...objectProgramNames(SOCK_RAW_OBJECT), ...objectProgramNames(classicObject)]);
  try {
    const cc = spawnSync('cc', ['-O2', '-o', bin, fileURLToPath(new URL('lib/udp-gen.c', import.meta.url))], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`building udp-gen failed: ${cc.stderr}`);
    console.log(`faultlens bench ring-drain — ${machineHeader()}`);
    console.log(`${generators} generator process(es), workloads ${workloads.join(', ')}, ${seconds} s each; ` +
      `rounds: ${rounds} x (${modes.join(', ')}), order rotated per round\n`);
    const results: Round[] = [];
    const rows = [['round', 'capture', 'workload', 'syscalls/s', 'gen CPU ns/syscall', 'p10 ns/syscall', 'BPF ns/syscall', 'BPF runs/syscall', 'records written', 'delivered', 'drops', 'agent CPU us/record', 'busy %']];
    for (let r = 0; r < rounds; r++) {
      const order = modes.map((_, i) => modes[(i + r) % modes.length]);
      for (const mode of order) {
        const t = new FlowTable();
        const before = progStats();
        const collector = mode === 'off' ? undefined : startCapture(mode, t, classicObject);
        const ids = [...progStats().values()].filter((p) => !before.has(p.id) && names.has(p.name)).map((p) => p.id);
        try {
          for (const workload of workloads) {
            collector?.drain();
            const s0 = collector?.stats();
            const p0 = progStats();
            const c0 = process.cpuUsage();
            const m0 = cpuTimes();
            const gen = await runGenerators(bin, generators, seconds, workload);
            collector?.drain();
            const cpu = process.cpuUsage(c0);
            const m1 = cpuTimes();
            const bpf = statDelta(p0, progStats(), ids);
            const s1 = collector?.stats();
            const syscalls = 2 * gen.iterations;
            const written = s0 && s1 ? Number(s1.records - s0.records) : 0;
            const delivered = s0 && s1 ? s1.delivered - s0.delivered : 0;
            const round: Round = {
              mode, workload, syscallsPerSec: syscalls / seconds, genNsPerSyscall: (gen.cpu * 1e9) / syscalls, p10NsPerSyscall: gen.p10NsPerIteration / 2,
              bpfNsPerSyscall: bpf.reduce((a, p) => a + p.runTimeNs, 0) / syscalls, runsPerSyscall: bpf.reduce((a, p) => a + p.runCnt, 0) / syscalls,
              written, delivered, drops: s0 && s1 ? Number(s1.drops - s0.drops) : 0,
              cpuUsPerRecord: delivered ? (cpu.user + cpu.system) / delivered : NaN, busyPct: (100 * (m1.busy - m0.busy)) / (m1.total - m0.total),
            };
            results.push(round);
            const on = mode !== 'off';
            const row = [String(r + 1), mode, workload, int(round.syscallsPerSec), int(round.genNsPerSyscall), int(round.p10NsPerSyscall), on ? int(round.bpfNsPerSyscall) : '-',
              on ? fixed(round.runsPerSyscall, 2) : '-', on ? int(written) : '-', on ? int(delivered) : '-', on ? int(round.drops) : '-',
              on && delivered ? fixed(round.cpuUsPerRecord, 2) : '-', fixed(round.busyPct, 0)];
            rows.push(row);
            console.log(rows[0].map((h, i) => `${h} ${row[i]}`).slice(1).join(', '));
          }
        } finally {
          collector?.close();
        }
      }
    }
    console.log(`\n${table(rows)}\n`);
    for (const workload of workloads) {
      const med = (mode: Mode, f: (x: Round) => number) => median(results.filter((x) => x.mode === mode && x.workload === workload).map(f));
      const genOff = med('off', (x) => x.genNsPerSyscall);
      const off = med('off', (x) => x.syscallsPerSec);
      const p10Off = med('off', (x) => x.p10NsPerSyscall);
      const sum = [[`median (${workload})`, 'syscalls/s', 'x off', 'gen CPU ns/syscall', 'probe ns/syscall (- off)', 'p10 ns/syscall', 'p10 probe ns (- off)', 'BPF ns/syscall', 'records/s to JS', 'drops', 'agent CPU us/record', 'records per agent CPU-s']];
      for (const mode of modes) {
        const sps = med(mode, (x) => x.syscallsPerSec);
        const cpu = med(mode, (x) => x.cpuUsPerRecord);
        const gen = med(mode, (x) => x.genNsPerSyscall);
        const on = mode !== 'off';
        const recs = on && med(mode, (x) => x.delivered) > 0;
        const p10 = med(mode, (x) => x.p10NsPerSyscall);
        sum.push([mode, int(sps), fixed(sps / off, 3), int(gen), on ? int(gen - genOff) : '-', int(p10), on ? int(p10 - p10Off) : '-', on ? int(med(mode, (x) => x.bpfNsPerSyscall)) : '-',
          recs ? int(med(mode, (x) => x.delivered) / seconds) : '-', on ? int(med(mode, (x) => x.drops)) : '-',
          recs ? fixed(cpu, 2) : '-', recs ? int(1e6 / cpu) : '-']);
      }
      console.log(table(sum));
      console.log('');
    }
    console.log('probe ns/syscall: extra CPU time a generator spends per syscall with capture on (tracepoint dispatch + BPF programs +');
    console.log('ring-buffer write), from its getrusage, on minus off. p10: the 10th percentile of its thread CPU time per syscall over');
    console.log('batches of 256 iterations (robust against other tenants, which only add). BPF ns/syscall: time inside the probe\'s programs (bpf_stats)');
    console.log('per generator syscall; it includes other processes\' syscalls that hit the probe meanwhile (system-wide capture).');
    console.log('records per agent CPU-s: what the user-space side (drain + fold) could take on one core at this record mix.');
    console.log(`done — ${machineHeader()}`);
  } finally {
    restoreStats();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`ring-drain: ${err.message}`);
  process.exitCode = 1;
});
