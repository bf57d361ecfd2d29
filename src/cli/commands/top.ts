// `faultlens top`: per-process CPU, run-queue latency and block-IO latency from the kernel (sysio probe),
// refreshed every interval; per-device IO latency; slow-IO outliers as they happen; next to it live RED
// (rate, errors, latency) per service and endpoint over the same interval, from socket capture (the APM
// pipeline `faultlens services` uses, rendered by its formatter).
import type { Command } from 'commander';
import { positive, runLive } from '../live.js';
import { SysioCollector, type SlowIo } from '../../collect/sysio-collector.js';
import { SysioSampler, type DeviceView, type ProcView } from '../../collect/sysio-view.js';
import { loadServiceMappings, startApmCapture, type ApmCapture } from '../../correlate/apm-live.js';
import { RedAggregator } from '../../correlate/red.js';
import { formatServices } from './services.js';

interface TopOptions {
  json?: boolean;
  interval: number;
  duration?: number;
  rows: number;
  pid?: number;
  slowIoMs: number;
  red: boolean;
  endpoints: boolean;
  tls: boolean;
  serviceMap?: string;
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
  // RED of the records completed during each interval (requests are emitted once their call chain settled)
  let red = new RedAggregator();
  let apm: ApmCapture | undefined;
  if (opts.red) {
    try {
      apm = startApmCapture({
        tcp: false, tls: opts.tls, settleMs: 300,
        ...(opts.serviceMap ? { mappings: loadServiceMappings(opts.serviceMap) } : {}),
        onWarning: (m) => console.error(`faultlens top: ${m}`),
        onRecords: (rs) => { for (const r of rs) if (opts.pid === undefined || r.pid === opts.pid) red.add(r); },
      });
    } catch (e) {
      if (opts.serviceMap && /service map/.test((e as Error).message)) {
        collector.close();
        throw e;
      }
      console.error(`faultlens top: live RED is off: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  console.error(`faultlens top: watching CPU, run queues and block IO${apm ? ', and requests per service' : ''}, every ${opts.interval}s`);
  const sampler = new SysioSampler();
  const startNs = process.hrtime.bigint();
  const tick = () => {
    collector.poll();
    const now = process.hrtime.bigint();
    const view = sampler.sample(collector.readProcs(), collector.readIo(), now, now - startNs);
    const procs = view.procs.filter((p) => opts.pid === undefined || p.pid === opts.pid);
    apm?.tick();
    const interval = red;
    red = new RedAggregator();
    const sec = Math.max(1e-3, view.intervalNs / 1e9);
    if (opts.json) {
      for (const p of procs) out.write(`${json({ type: 'top-proc', intervalNs: view.intervalNs, ...p })}\n`);
      for (const d of view.devices) out.write(`${json({ type: 'top-device', intervalNs: view.intervalNs, ...d })}\n`);
      if (apm) {
        for (const x of interval.serviceStats(sec)) out.write(`${json({ type: 'top-service', intervalNs: view.intervalNs, ...x })}\n`);
        for (const x of interval.endpointStats(sec)) out.write(`${json({ type: 'top-endpoint', intervalNs: view.intervalNs, ...x })}\n`);
      }
    } else {
      const s = collector.stats();
      const head = `faultlens top — ${procs.length} active processes, ${s.slowEvents} slow IOs (>= ${opts.slowIoMs} ms), ` +
        `every ${opts.interval}s, Ctrl-C to quit`;
      const rows = opts.rows || Math.max(5, (out.rows ?? 50) - view.devices.length - 12);
      const recent = slow.splice(0).slice(-5).map((x) =>
        `slow IO: ${x.comm}[${x.pid}] ${x.op} ${size(x.bytes)} on ${x.device} took ${lat(x.latNs)} (queued ${lat(x.queueNs)})`);
      const requests = !apm ? '' : interval.total === 0 ? '\n\nno requests in this interval'
        : `\n\n${interval.total} requests in this interval:\n${formatServices(interval, sec, opts.endpoints)}`;
      const body = formatTop(procs, view.devices, view.intervalNs, rows) + (recent.length ? `\n\n${recent.join('\n')}` : '') + requests;
      out.write(out.isTTY ? `\x1b[H\x1b[2J${head}\n\n${body}\n` : `${head}\n${body}\n\n`);
    }
    collector.pruneExited();
  };
  await runLive({ intervalS: opts.interval, durationS: opts.duration, tick: tick, close: () => { apm?.stop(); collector.close(); } });
}

export function register(program: Command): void {
  program
    .command('top')
    .description('per-process CPU, run-queue latency and block-IO latency from the kernel, per-device IO latency, and live RED per service and endpoint (needs root)')
    .option('--json', 'emit JSON lines (top-proc, top-device, top-service, top-endpoint, slow-io) instead of tables')
    .option('--interval <seconds>', 'refresh interval', positive('--interval'), 1)
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', positive('--duration'))
    .option('--rows <n>', 'process rows (default: fit the terminal)', positive('--rows', true), 0)
    .option('--pid <pid>', 'only this process', positive('--pid'))
    .option('--slow-io-ms <ms>', 'report block IOs at least this slow one by one (0: never)', positive('--slow-io-ms', true), 20)
    .option('--no-red', 'no request capture: the resource view only')
    .option('--no-endpoints', 'hide the per-endpoint RED table')
    .option('--no-tls', 'do not attach the OpenSSL uprobes (HTTPS requests are then not seen)')
    .option('--service-map <file>', 'YAML list of {name, comm?, exe?, cmdline?, cgroup?, port?} naming services')
    .action(async (opts: TopOptions) => {
      await runTop(opts);
    });
}
