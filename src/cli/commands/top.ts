// `faultlens top`: per-process CPU, run-queue latency and block-IO latency from the kernel (sysio probe),
// refreshed every interval; per-device IO latency; slow-IO outliers as they happen.
import type { Command } from 'commander';
import { positive, runLive } from '../live.js';
import { SysioCollector, type SlowIo } from '../../collect/sysio-collector.js';
import { SysioSampler, type DeviceView, type ProcView } from '../../collect/sysio-view.js';

interface TopOptions {
  json?: boolean;
  interval: number;
  duration?: number;
  rows: number;
  pid?: number;
  slowIoMs: number;
}

const lat = (ns: number | undefined) => (ns === undefined ? '-' : ns >= 1e9 ? `${(ns / 1e9).toFixed(2)}s` : ns >= 1e6 ? `${(ns / 1e6).toFixed(1)}ms` : `${(ns / 1e3).toFixed(0)}us`);
const size = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)}M` : n >= 1024 ? `${Math.round(n / 1024)}K` : String(n));
const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

const PROC_COLUMNS: [string, number, (p: ProcView) => string][] = [
  ['PID', 7, (p) => String(p.pid)],
  ['COMM', 15, (p) => p.comm || '-'],
  ['CPU%', 6, (p) => p.cpuPct.toFixed(1)],
  ['RUNQ/s', 7, (p) => String(p.runqWaits)],
  ['RQ p50', 8, (p) => lat(p.runqP50Ns)],
  ['RQ p99', 8, (p) => lat(p.runqP99Ns)],
  ['RQ WAIT%', 8, (p) => ((100 * p.runqWaitNs) / 1e9).toFixed(1)],
  ['IO ops', 7, (p) => String(p.ioOps || '-')],
  ['IO bytes', 8, (p) => (p.ioOps ? size(p.ioBytes) : '-')],
  ['IO p50', 8, (p) => lat(p.ioP50Ns)],
  ['IO p99', 8, (p) => lat(p.ioP99Ns)],
];
const DEV_COLUMNS: [string, number, (d: DeviceView) => string][] = [
  ['DEVICE', 10, (d) => d.device],
  ['OP', 7, (d) => d.op],
  ['OPS', 7, (d) => String(d.ops)],
  ['BYTES', 8, (d) => size(d.bytes)],
  ['MEAN', 8, (d) => lat(d.meanNs)],
  ['p50', 8, (d) => lat(d.p50Ns)],
  ['p99', 8, (d) => lat(d.p99Ns)],
  ['MAX', 8, (d) => lat(d.maxNs)],
];

function table<T>(cols: [string, number, (x: T) => string][], rows: T[]): string {
  const line = (cells: string[]) => cells.map((c, i) => c.slice(0, cols[i]![1]).padEnd(cols[i]![1])).join(' ').trimEnd();
  return [line(cols.map((c) => c[0])), ...rows.map((r) => line(cols.map((c) => c[2](r))))].join('\n');
}

/** Per-second rates for the table when the interval is not one second. */
function perSecond(p: ProcView, intervalNs: number): ProcView {
  const k = 1e9 / intervalNs;
  return { ...p, runqWaits: Math.round(p.runqWaits * k), runqWaitNs: p.runqWaitNs * k };
}

export function formatTop(procs: ProcView[], devices: DeviceView[], intervalNs: number, rows: number): string {
  return `${table(PROC_COLUMNS, procs.slice(0, rows).map((p) => perSecond(p, intervalNs)))}\n\n${table(DEV_COLUMNS, devices)}`;
}

async function runTop(opts: TopOptions): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('faultlens top needs root (eBPF tracepoints need CAP_BPF/CAP_PERFMON): run it with sudo');
  }
  const out = process.stdout;
  const slow: SlowIo[] = [];
  const collector = new SysioCollector({
    slowIoNs: Math.round(opts.slowIoMs * 1e6),
    onSlowIo: (ios) => {
      for (const s of ios) {
        if (opts.pid !== undefined && s.pid !== opts.pid) continue;
        if (opts.json) out.write(`${json({ type: 'slow-io', ...s })}\n`);
        else slow.push(s);
      }
    },
  }).start();
  for (const w of collector.warnings) console.error(`faultlens top: ${w}`);
  console.error(`faultlens top: watching CPU, run queues and block IO, every ${opts.interval}s`);
  const sampler = new SysioSampler();
  const startNs = process.hrtime.bigint();
  const tick = () => {
    collector.poll();
    const now = process.hrtime.bigint();
    const view = sampler.sample(collector.readProcs(), collector.readIo(), now, now - startNs);
    const procs = view.procs.filter((p) => opts.pid === undefined || p.pid === opts.pid);
    if (opts.json) {
      for (const p of procs) out.write(`${json({ type: 'top-proc', intervalNs: view.intervalNs, ...p })}\n`);
      for (const d of view.devices) out.write(`${json({ type: 'top-device', intervalNs: view.intervalNs, ...d })}\n`);
    } else {
      const s = collector.stats();
      const head = `faultlens top — ${procs.length} active processes, ${s.slowEvents} slow IOs (>= ${opts.slowIoMs} ms), ` +
        `every ${opts.interval}s, Ctrl-C to quit`;
      const rows = opts.rows || Math.max(5, (out.rows ?? 50) - view.devices.length - 12);
      const recent = slow.splice(0).slice(-5).map((x) =>
        `slow IO: ${x.comm}[${x.pid}] ${x.op} ${size(x.bytes)} on ${x.device} took ${lat(x.latNs)} (queued ${lat(x.queueNs)})`);
      const body = formatTop(procs, view.devices, view.intervalNs, rows) + (recent.length ? `\n\n${recent.join('\n')}` : '');
      out.write(out.isTTY ? `\x1b[H\x1b[2J${head}\n\n${body}\n` : `${head}\n${body}\n\n`);
    }
    collector.pruneExited();
  };
  await runLive({ intervalS: opts.interval, durationS: opts.duration, tick: tick, close: () => collector.close() });
}

export function register(program: Command): void {
  program
    .command('top')
    .description('per-process CPU, run-queue latency and block-IO latency from the kernel, plus per-device IO latency (needs root)')
    .option('--json', 'emit JSON lines (top-proc, top-device, slow-io) instead of a table')
    .option('--interval <seconds>', 'refresh interval', positive('--interval'), 1)
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', positive('--duration'))
    .option('--rows <n>', 'process rows (default: fit the terminal)', positive('--rows', true), 0)
    .option('--pid <pid>', 'only this process', positive('--pid'))
    .option('--slow-io-ms <ms>', 'report block IOs at least this slow one by one (0: never)', positive('--slow-io-ms', true), 20)
    .action(async (opts: TopOptions) => {
      await runTop(opts);
    });
}
