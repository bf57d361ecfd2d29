// `faultlens tcp`: live per-connection TCP table from the kernel's own state (srtt, rtt-var, cwnd, windows,
// window scales, retransmits, in-flight bytes, delivery rate) plus listeners and their accept queues.
import type { Command } from 'commander';
import { positive, runLive } from '../live.js';
import { TcpCollector } from '../../collect/tcp-collector.js';
import { endpointText, toJsonLine } from '../../detect/finding.js';
import type { TcpConnSample, TcpListenerSample } from '../../model/tcp.js';

interface TcpOptions {
  json?: boolean;
  interval: number;
  netns?: number;
  pid?: number;
  duration?: number;
  rows: number;
  closed?: boolean;
}

const ms = (us: number) => (us / 1000).toFixed(us >= 10_000 ? 1 : 3);
const bytes = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)}M` : n >= 1024 ? `${Math.round(n / 1024)}K` : String(n));
const rate = (bps: number) => (bps >= 1e6 ? `${(bps * 8 / 1e6).toFixed(1)}Mb` : bps > 0 ? `${Math.round(bps * 8 / 1e3)}Kb` : '-');

const CONN_COLUMNS: [string, number, (c: TcpConnSample) => string][] = [
  ['PID', 7, (c) => String(c.pid || '-')],
  ['COMM', 15, (c) => c.comm || '-'],
  ['LOCAL', 22, (c) => endpointText(c.local)],
  ['REMOTE', 22, (c) => endpointText(c.remote)],
  ['STATE', 11, (c) => c.state],
  ['SRTT', 8, (c) => ms(c.srttUs)],
  ['RTTVAR', 8, (c) => ms(c.mdevUs)],
  ['MINRTT', 8, (c) => ms(c.rttMinUs)],
  ['CWND', 5, (c) => String(c.cwnd)],
  ['MSS', 5, (c) => String(c.mss)],
  ['RETR', 5, (c) => String(c.totalRetrans)],
  ['RTO', 4, (c) => String(c.rtoEvents)],
  ['INFLT', 6, (c) => bytes(c.bytesInFlight)],
  ['RATE', 8, (c) => rate(c.deliveryRateBps)],
  ['SNDWND', 6, (c) => bytes(c.sndWnd)],
  ['RCVWND', 6, (c) => bytes(c.rcvWnd)],
  ['WS r/s', 6, (c) => (c.wscaleOk ? `${c.rcvWscale}/${c.sndWscale}` : 'off')],
  ['RCVBUF', 6, (c) => bytes(c.rcvbuf)],
  ['NODELAY', 7, (c) => (c.nodelay ? 'yes' : 'no')],
  ['ZWND ms', 7, (c) => String(Math.round((c.zeroWndPeerNs + c.zeroWndLocalNs) / 1e6))],
];

const LISTENER_COLUMNS: [string, number, (l: TcpListenerSample) => string][] = [
  ['PID', 7, (l) => String(l.pid || '-')],
  ['COMM', 15, (l) => l.comm || '-'],
  ['LISTEN', 22, (l) => endpointText(l.local)],
  ['NETNS', 10, (l) => String(l.netns)],
  ['ACCEPTQ', 8, (l) => `${l.ackBacklog}/${l.maxAckBacklog}`],
  ['PEAK', 5, (l) => String(l.ackBacklogPeak)],
  ['SYNQ', 5, (l) => String(l.synQueue)],
  ['DROPS', 6, (l) => String(l.skDrops)],
  ['OVERFL', 6, (l) => String(l.overflowDrops)],
  ['ACCEPTED', 8, (l) => String(l.accepted)],
  ['RCVBUF', 6, (l) => bytes(l.rcvbuf)],
];

function table<T>(cols: [string, number, (x: T) => string][], rows: T[]): string {
  const line = (cells: string[]) => cells.map((c, i) => c.slice(0, cols[i]![1]).padEnd(cols[i]![1])).join(' ').trimEnd();
  return [line(cols.map((c) => c[0])), ...rows.map((r) => line(cols.map((c) => c[2](r))))].join('\n');
}

export function formatTcpTables(conns: TcpConnSample[], listeners: TcpListenerSample[], maxRows: number): string {
  const sorted = [...conns].sort((a, b) => b.totalRetrans - a.totalRetrans || b.srttUs - a.srttUs);
  return `${table(CONN_COLUMNS, sorted.slice(0, maxRows))}\n\n${table(LISTENER_COLUMNS, listeners)}`;
}

async function runTcp(opts: TcpOptions): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('faultlens tcp needs root (eBPF programs and sock_ops need CAP_BPF/CAP_PERFMON/CAP_NET_ADMIN): run it with sudo');
  }
  const collector = new TcpCollector({ netns: opts.netns }).start();
  for (const w of collector.warnings) console.error(`faultlens tcp: ${w}`);
  // stderr, so that --json stdout stays pure JSON lines; also tells scripts when the probes are live
  console.error(`faultlens tcp: watching TCP${opts.netns ? ` in netns ${opts.netns}` : ''}, every ${opts.interval}s`);
  const out = process.stdout;
  const keep = (c: TcpConnSample) => (opts.pid === undefined || c.pid === opts.pid) && (opts.closed || c.closedNs === 0n);

  const tick = () => {
    const conns = collector.readConns().filter(keep);
    const listeners = collector.readListeners().filter((l) => opts.pid === undefined || l.pid === opts.pid);
    if (opts.json) {
      for (const c of conns) out.write(`${toJsonLine({ type: 'tcp-conn', ...c })}\n`);
      for (const l of listeners) out.write(`${toJsonLine({ type: 'tcp-listener', ...l })}\n`);
    } else {
      const s = collector.stats();
      const head = `faultlens tcp — ${conns.length} connections, ${listeners.length} listeners, ${s.rttSamples} RTT samples, ` +
        `${s.eventDrops} events dropped — every ${opts.interval}s, Ctrl-C to quit`;
      const rows = opts.rows || Math.max(5, (out.rows ?? 50) - listeners.length - 8);
      const body = formatTcpTables(conns, listeners, rows);
      out.write(out.isTTY ? `\x1b[H\x1b[2J${head}\n\n${body}\n` : `${head}\n${body}\n\n`);
    }
    collector.pruneClosed(process.hrtime.bigint() - BigInt(Math.round(opts.interval * 2e9)));
  };

  await runLive({ intervalS: opts.interval, durationS: opts.duration, tick: tick, close: () => collector.close() });
}

export function register(program: Command): void {
  program
    .command('tcp')
    .description('live per-connection TCP table from the kernel (srtt, rtt-var, cwnd, windows, retransmits) and accept queues (needs root)')
    .option('--json', 'emit one JSON line per connection and listener every interval')
    .option('--interval <seconds>', 'refresh interval', positive('--interval'), 1)
    .option('--netns <inode>', 'only sockets in this network namespace (inode number)', positive('--netns'))
    .option('--pid <pid>', 'only sockets owned by this process', positive('--pid'))
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', positive('--duration'))
    .option('--rows <n>', 'table rows (default: fit the terminal)', positive('--rows', true), 0)
    .option('--closed', 'also show connections closed since the last refresh')
    .action(async (opts: TcpOptions) => {
      await runTcp(opts);
    });
}
