// Statistics, formatting and machine facts shared by the benchmarks (a shared 2-core box makes the
// load part of every result, so it is printed next to the figures).
import { cpus, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { seededRandom } from '../../src/util/random.js';

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The q-quantile (0..1) by linear interpolation between order statistics. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  return lo + 1 < s.length ? s[lo] + (s[lo + 1] - s[lo]) * (at - lo) : s[lo];
}

/** A percentile-bootstrap confidence interval (level 0.9 = 5th..95th percentile) of `stat` over xs,
 * resampled with a fixed seed so a run's verdict can be reproduced from its figures. */
export function bootstrapCi(xs: number[], stat: (s: number[]) => number, level = 0.9, iterations = 4000): [number, number] {
  if (xs.length < 2) return [NaN, NaN];
  const rand = seededRandom(1);
  const stats: number[] = [];
  const sample = new Array<number>(xs.length);
  for (let i = 0; i < iterations; i++) {
    for (let j = 0; j < xs.length; j++) sample[j] = xs[Math.floor(rand() * xs.length)];
    stats.push(stat(sample));
  }
  return [quantile(stats, (1 - level) / 2), quantile(stats, 1 - (1 - level) / 2)];
}

export function min(xs: number[]): number {
  return xs.length ? Math.min(...xs) : NaN;
}

export function max(xs: number[]): number {
  return xs.length ? Math.max(...xs) : NaN;
}

/** 1234567.8 -> "1,234,568" */
export function int(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : String(x);
}

export function fixed(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

/** Right-aligned table from rows of cells (first row = header). */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

export function loadLine(): string {
  const [l1, l5, l15] = loadavg();
  return `loadavg ${l1.toFixed(2)} ${l5.toFixed(2)} ${l15.toFixed(2)} on ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`;
}

export function machineHeader(): string {
  return `${new Date().toISOString()}  node ${process.version}  ${loadLine()}`;
}

const TICKS_PER_SEC = 100; // USER_HZ on Linux x86_64 (sysconf(_SC_CLK_TCK))

/** utime + stime of a process from /proc/PID/stat, in seconds (includes all its threads). */
export function procCpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm may contain spaces or parentheses: fields start after the last ')'
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state); utime = field 14, stime = field 15
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SEC;
}

/** Aggregate CPU time counters from /proc/stat (jiffies): busy (all but idle/iowait) and steal. */
export function cpuTimes(): { busy: number; steal: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  const total = f.slice(0, 8).reduce((a, x) => a + (x || 0), 0);
  return { busy: user + nice + system + irq + softirq, steal: steal || 0, total };
}
