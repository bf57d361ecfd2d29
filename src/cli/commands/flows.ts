// `faultlens flows`: the live flow table from socket capture — a refreshing top-like table sorted by bytes,
// or (--json) one JSON line per changed flow every interval.
import type { Command } from 'commander';
import { positive, runLive } from '../live.js';
import { SockCollector, requireRoot } from '../../collect/sock-collector.js';
import { FlowTable } from '../../correlate/flows.js';
import { listeningTcpPorts } from '../../correlate/listening-ports.js';
import { flowToJson, formatFlowTable, matchesFilter, type FlowFilter } from '../../correlate/flows-format.js';

interface FlowsOptions {
  json?: boolean;
  interval: number;
  netns?: number;
  pid?: number;
  duration?: number;
  rows: number;
  payload: number;
}

function monotonicNs(): number {
  return Number(process.hrtime.bigint()); // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns
}

async function runFlows(opts: FlowsOptions): Promise<void> {
  requireRoot('faultlens flows');
  const table = new FlowTable();
  // connections accepted before we started have no accept record: listening ports say who serves
  for (const port of listeningTcpPorts()) table.markServerPort(port);
  const filter: FlowFilter = { netns: opts.netns, pid: opts.pid };
  const collector = SockCollector.start({
    payloadBytes: opts.payload,
    // without payload heads nothing needs a record per syscall: count TCP data in the kernel
    countInKernel: opts.payload === 0,
    onBatch: (b, v) => table.foldBatch(b, v),
    onWarning: (m) => console.error(`faultlens flows: ${m}`),
  });
  const st = collector.stats();
  // stderr, so that --json stdout stays pure JSON lines; also tells scripts when capture is live
  console.error(`faultlens flows: capturing from ${st.attached} tracepoints` +
    (st.skipped.length ? ` (${st.skipped.length} missing: ${st.skipped.map((s) => s.tracepoint).join(', ')})` : ''));
  const started = Date.now();
  const out = process.stdout;

  const tick = () => {
    collector.drain();
    collector.pollCounts((v, final) => table.foldCounts(v, final));
    const evicted = table.evict(monotonicNs());
    if (opts.json) {
      for (const f of table.changed()) if (matchesFilter(f, filter)) out.write(`${flowToJson(f, { type: 'flow' })}\n`);
      for (const f of evicted) if (matchesFilter(f, filter)) out.write(`${flowToJson(f, { type: 'flow', final: true })}\n`);
      return;
    }
    const s = collector.stats();
    const flows = table.flows().filter((f) => matchesFilter(f, filter));
    const head = `faultlens flows — ${flows.length} flows, ${s.delivered} records, ${s.drops} dropped` +
      `${s.skipped.length ? `, ${s.skipped.length} tracepoints missing` : ''} — every ${opts.interval}s, Ctrl-C to quit`;
    const rows = Math.max(5, (out.rows ?? 50) - 4);
    const body = formatFlowTable(flows, { rows: opts.rows || rows, width: out.columns ?? 160 });
    out.write(out.isTTY ? `\x1b[H\x1b[2J${head}\n\n${body}\n` : `${head}\n${body}\n\n`);
  };

  await runLive({ intervalS: opts.interval, durationS: opts.duration, tick: tick, close: () => collector.close() });
}

export function register(program: Command): void {
  program
    .command('flows')
    .description('live flow table from socket capture (needs root): bytes, calls, owners and errors per 5-tuple')
    .option('--json', 'stream changed flows as JSON lines instead of the table')
    .option('--interval <seconds>', 'refresh / emit interval', positive('--interval'), 1)
    .option('--netns <inode>', 'only flows with an end in this network namespace (inode number)', positive('--netns'))
    .option('--pid <pid>', 'only flows with this process on one end', positive('--pid'))
    .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', positive('--duration'))
    .option('--rows <n>', 'table rows (default: fit the terminal)', positive('--rows', true), 0)
    .option('--payload <bytes>', 'payload bytes captured per record (0..4096)', positive('--payload', true), 0)
    .action(async (opts: FlowsOptions) => {
      await runFlows(opts);
    });
}
