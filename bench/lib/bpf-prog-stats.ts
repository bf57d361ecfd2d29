// Run-time statistics of loaded BPF programs (kernel.bpf_stats_enabled, read with bpftool): how much time
// the probes themselves spend in the kernel, independent of how loaded the machine is.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

export interface ProgStat { id: number; name: string; type: string; runTimeNs: number; runCnt: number }

/** Turns the kernel's BPF run-time accounting on; returns a function that restores the previous setting. */
export function enableBpfStats(): () => void {
  const prev = readFileSync(SYSCTL, 'utf8').trim();
  writeFileSync(SYSCTL, '1');
  return () => writeFileSync(SYSCTL, prev);
}

/** Every loaded program with its cumulative run time and count (0 while stats are off). */
export function progStats(): Map<number, ProgStat> {
  const list = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as
    { id: number; name?: string; type: string; run_time_ns?: number; run_cnt?: number }[];
  return new Map(list.map((p) => [p.id, { id: p.id, name: p.name ?? '?', type: p.type, runTimeNs: p.run_time_ns ?? 0, runCnt: p.run_cnt ?? 0 }]));
}

/** Names of the programs (functions) an object file defines: in full (bpftool shows BTF names) and cut to the
 * kernel's 15 characters (what it shows without BTF). */
export function objectProgramNames(objectPath: string): Set<string> {
  const out = execFileSync('readelf', ['--syms', '-W', objectPath], { encoding: 'utf8' });
  const names = new Set<string>();
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[3] === 'FUNC' && f[4] === 'GLOBAL' && f[7]) names.add(f[7]).add(f[7].slice(0, 15));
  }
  return names;
}

/** Per-program run-time deltas between two snapshots, for the given program ids. */
export function statDelta(before: Map<number, ProgStat>, after: Map<number, ProgStat>, ids: number[]): ProgStat[] {
  return ids.flatMap((id) => {
    const a = after.get(id);
    const b = before.get(id);
    return a && b ? [{ ...a, runTimeNs: a.runTimeNs - b.runTimeNs, runCnt: a.runCnt - b.runCnt }] : [];
  });
}
