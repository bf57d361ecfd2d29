// `faultlens diagnose`: live diagnosis of TCP faults (Nagle × delayed ACK, ineffective SO_RCVBUF, listen
// overflows, retransmission storms, RTO/SYN timeouts, zero-window stalls, reset storms). Findings are
// printed as they happen; --json streams one JSON line per finding per window.
import type { Command } from 'commander';
import { positive, runLive } from '../live.js';
import { TcpCollector } from '../../collect/tcp-collector.js';
import { TcpDiagnosisEngine } from '../../detect/tcp/engine.js';
import { formatFinding, toJsonLine } from '../../detect/finding.js';
import type { Finding } from '../../model/finding.js';
import type { TcpEvent } from '../../model/tcp.js';

interface DiagnoseOptions {
  json?: boolean;
  interval: number;
  netns?: number;
  duration?: number;
  cgroup?: string;
  repeat: number;
}

function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('faultlens diagnose needs root (eBPF programs, tracepoints and sock_ops need CAP_BPF/CAP_PERFMON/CAP_NET_ADMIN): run it with sudo');
  }
}

async function runDiagnose(opts: DiagnoseOptions): Promise<void> {
  requireRoot();
  const events: TcpEvent[] = [];
  const collector = new TcpCollector({ netns: opts.netns, cgroupPath: opts.cgroup, onEvents: (e) => events.push(...e) }).start();
  for (const w of collector.warnings) console.error(`faultlens diagnose: ${w}`);
  console.error(`faultlens diagnose: watching TCP${opts.netns ? ` in netns ${opts.netns}` : ''}, window ${opts.interval}s, Ctrl-C to quit`);
  const engine = new TcpDiagnosisEngine();
  const lastPrinted = new Map<string, { atMs: number; severity: string }>();
  let prevTickNs = process.hrtime.bigint();

  const emit = (f: Finding) => {
    if (opts.json) {
      process.stdout.write(`${toJsonLine({ type: 'finding', ...f })}\n`);
      return;
    }
    const seen = lastPrinted.get(f.id);
    const now = Date.now();
    if (seen && seen.severity === f.severity && now - seen.atMs < opts.repeat * 1000) return;
    lastPrinted.set(f.id, { atMs: now, severity: f.severity });
    process.stdout.write(`${new Date().toISOString()} ${formatFinding(f)}\n\n`);
  };

  const tick = () => {
    collector.poll();
    engine.addEvents(events.splice(0));
    const nowNs = process.hrtime.bigint();
    const { findings } = engine.tick(nowNs, collector.readConns(), collector.readListeners());
    for (const f of findings) emit(f);
    collector.pruneClosed(prevTickNs); // closed before the previous window: their final figures were used
    prevTickNs = nowNs;
  };

  tick(); // baseline
  const safeTick = () => {
    try {
      tick();
    } catch (err) {
      console.error(`faultlens diagnose: ${(err as Error).message}`);
    }
  };
  await runLive({ intervalS: opts.interval, durationS: opts.duration, tick: safeTick, close: () => collector.close() });
}

export function register(program: Command): void {
  program
    .command('diagnose')
    .description('live diagnosis of hidden TCP faults with their evidence and fix (needs root)')
    .option('--json', 'stream findings as JSON lines')
    .option('--interval <seconds>', 'diagnosis window', positive('--interval'), 1)
    .option('--netns <inode>', 'only sockets in this network namespace (inode number)', positive('--netns'))
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', positive('--duration'))
    .option('--cgroup <path>', 'cgroup v2 directory for the sock_ops program (default: the cgroup v2 root)')
    .option('--repeat <seconds>', 'text mode: repeat an unchanged finding at most this often', positive('--repeat'), 30)
    .action(async (opts: DiagnoseOptions) => {
      await runDiagnose(opts);
    });
}
