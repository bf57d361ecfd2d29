// Benchmark: the kernel -> JS path. C generators (bench/lib/udp-gen.c) do send+recv on a loopback UDP pair
// in a tight loop; rounds alternate capture OFF / ON with 512-byte payload heads / ON with no payload. With
// capture on, this process runs the SockCollector and folds every batch into a FlowTable.
// Per round: generator syscalls/s (so OFF vs ON gives the in-kernel probe cost per traced syscall),
// records the kernel wrote, records delivered to JS, ring-buffer drops, and this process's CPU time per
// record (drain + fold: 1e6 / that = records per CPU-second the user-space side can take).
//   node --import tsx bench/ring-drain.ts [--rounds 2] [--duration 5] [--generators 2]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SockCollector } from '../src/collect/sock-collector.js';
import { FlowTable } from '../src/correlate/flows.js';
import { numArg } from './lib/args.js';
import { cpuTimes, fixed, int, machineHeader, median, table } from './lib/report.js';
import { hasCommand } from './lib/servers.js';

type Mode = 'off' | 'on-512' | 'on-0';
interface Round { mode: Mode; syscallsPerSec: number; genNsPerSyscall: number; written: number; delivered: number; drops: number; cpuUsPerRecord: number; busyPct: number }

/** Runs n generators in parallel; returns total iterations and their total CPU seconds. */
function runGenerators(bin: string, n: number, seconds: number): Promise<{ iterations: number; cpu: number }> {
  return Promise.all(Array.from({ length: n }, () => new Promise<[number, number]>((resolve, reject) => {
    const p = spawn(bin, [String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const [it, cpu] = out.trim().split(' ').map(Number);
      if (code === 0 && Number.isFinite(it) && Number.isFinite(cpu)) resolve([it, cpu]);
      else reject(new Error(`udp-gen failed (${code}): ${out}`));
    });
  }))).then((xs) => ({ iterations: xs.reduce((a, x) => a + x[0], 0), cpu: xs.reduce((a, x) => a + x[1], 0) }));
}

async function main(): Promise<void> {
  const rounds = numArg('rounds', 2);
  const seconds = numArg('duration', 5);
  const generators = numArg('generators', 2);
  if (process.getuid?.() !== 0) throw new Error('ring-drain needs root (it attaches eBPF programs)');
  if (!hasCommand('cc')) { console.error('ring-drain: no C compiler (cc) to build the generator; skipping'); process.exitCode = 2; return; }
  const dir = mkdtempSync(join(tmpdir(), 'fl-bench-ring-'));
  const bin = join(dir, 'udp-gen');
  try {
    const cc = spawnSync('cc', ['-O2', '-o', bin, fileURLToPath(new URL('lib/udp-gen.c', import.meta.url))], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`building udp-gen failed: ${cc.stderr}`);
    console.log(`faultlens bench ring-drain — ${machineHeader()}`);
    console.log(`${generators} generator process(es) x send+recv on loopback UDP (32..731 B), ${seconds} s per round; ` +
      `rounds: ${rounds} x (off, on-512, on-0)\n`);
    const results: Round[] = [];
    const rows = [['round', 'capture', 'syscalls/s', 'gen CPU ns/syscall', 'records written', 'delivered', 'drops', 'agent CPU us/record', 'busy %']];
    for (let r = 0; r < rounds; r++) {
      for (const mode of ['off', 'on-512', 'on-0'] as Mode[]) {
        let collector: SockCollector | undefined;
        const t = new FlowTable();
        if (mode !== 'off') {
          collector = SockCollector.start({ payloadBytes: mode === 'on-512' ? 512 : 0, onBatch: (b, v) => t.foldBatch(b, v), onWarning: () => {} });
        }
        const s0 = collector?.stats();
        const c0 = process.cpuUsage();
        const m0 = cpuTimes();
        const gen = await runGenerators(bin, generators, seconds);
        collector?.drain();
        const cpu = process.cpuUsage(c0);
        const m1 = cpuTimes();
        const s1 = collector?.stats();
        collector?.close();
        const written = s0 && s1 ? Number(s1.records - s0.records) : 0;
        const delivered = s0 && s1 ? s1.delivered - s0.delivered : 0;
        const round: Round = {
          mode, syscallsPerSec: (2 * gen.iterations) / seconds, genNsPerSyscall: (gen.cpu * 1e9) / (2 * gen.iterations), written, delivered, drops: s0 && s1 ? Number(s1.drops - s0.drops) : 0,
          cpuUsPerRecord: delivered ? (cpu.user + cpu.system) / delivered : NaN, busyPct: (100 * (m1.busy - m0.busy)) / (m1.total - m0.total),
        };
        results.push(round);
        const row = [String(r + 1), mode, int(round.syscallsPerSec), int(round.genNsPerSyscall), mode === 'off' ? '-' : int(written), mode === 'off' ? '-' : int(delivered),
          mode === 'off' ? '-' : int(round.drops), mode === 'off' ? '-' : fixed(round.cpuUsPerRecord, 2), fixed(round.busyPct, 0)];
        rows.push(row);
        console.log(rows[0].map((h, i) => `${h} ${row[i]}`).slice(1).join(', '));
      }
    }
    console.log(`\n${table(rows)}\n`);
    const med = (mode: Mode, f: (x: Round) => number) => median(results.filter((x) => x.mode === mode).map(f));
    const off = med('off', (x) => x.syscallsPerSec);
    const genOff = med('off', (x) => x.genNsPerSyscall);
    const sum = [['median', 'syscalls/s', 'x off', 'gen CPU ns/syscall', 'probe ns/syscall', 'records/s to JS', 'drops', 'agent CPU us/record', 'records per agent CPU-s']];
    for (const mode of ['off', 'on-512', 'on-0'] as Mode[]) {
      const sps = med(mode, (x) => x.syscallsPerSec);
      const cpu = med(mode, (x) => x.cpuUsPerRecord);
      const gen = med(mode, (x) => x.genNsPerSyscall);
      sum.push([mode, int(sps), fixed(sps / off, 3), int(gen), mode === 'off' ? '-' : int(gen - genOff),
        mode === 'off' ? '-' : int(med(mode, (x) => x.delivered) / seconds), mode === 'off' ? '-' : int(med(mode, (x) => x.drops)),
        mode === 'off' ? '-' : fixed(cpu, 2), mode === 'off' ? '-' : int(1e6 / cpu)]);
    }
    console.log(table(sum));
    console.log('\nprobe ns/syscall: extra CPU time the generators spend per traced syscall (in-kernel probe + ring-buffer write), from their');
    console.log('getrusage off vs on; syscalls/s also drops because the agent competes for the same 2 CPUs.');
    console.log('records per agent CPU-s: what the user-space side (drain + fold) could take on one core at this record mix.');
    console.log(`done — ${machineHeader()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`ring-drain: ${err.message}`);
  process.exitCode = 1;
});
