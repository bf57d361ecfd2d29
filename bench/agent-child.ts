// The agent as the http-overhead benchmark runs it: a separate process doing what `faultlens flows --json`
// does (socket capture with 512-byte payload heads, every batch folded into the flow table, a 1 s tick that
// drains, evicts and serialises the changed flows), with the JSON discarded instead of printed.
// Driven over the IPC channel of child_process.fork: sends {type:'ready'} once attached, answers
// {type:'stats'} with counters, and {type:'stop'} detaches everything and exits.
//   (forked by bench/http-overhead.ts; standalone: node --import tsx bench/agent-child.ts)
import { SockCollector } from '../src/collect/sock-collector.js';
import { FlowTable } from '../src/correlate/flows.js';
import { flowToJson } from '../src/correlate/flows-format.js';
import { listeningTcpPorts } from '../src/correlate/listening-ports.js';
import { numArg } from './lib/args.js';

export interface AgentStats {
  type: 'stats';
  records: string; // written by the kernel side (bigint as text)
  drops: string;
  delivered: number; // records that reached JS
  batches: number;
  folded: number;
  flows: number;
  jsonBytes: number; // what `flows --json` would have printed
  watchedRecords: number; // records of the --watch-pid process (the benchmarked server), to tell them from other traffic
  attached: number;
  skipped: number;
}

const payloadBytes = numArg('payload', 512);
const watchPid = numArg('watch-pid', 0);
let watchedRecords = 0;
const table = new FlowTable();
for (const port of listeningTcpPorts()) table.markServerPort(port);
const collector = SockCollector.start({
  payloadBytes,
  onBatch: (b, v) => {
    table.foldBatch(b, v);
    // capture is system-wide: count the benchmarked server's own records (one pid compare per record)
    if (watchPid) for (let i = 0; i < b.count; i++) if (v.at(b.buf, b.offsets[i], b.lengths[i]).pid === watchPid) watchedRecords++;
  },
  onWarning: (m) => process.stderr.write(`agent-child: ${m}\n`),
});
let jsonBytes = 0;

function tick(): void {
  collector.drain();
  const now = Number(process.hrtime.bigint());
  for (const f of table.changed()) jsonBytes += flowToJson(f, { type: 'flow' }).length + 1;
  for (const f of table.evict(now)) jsonBytes += flowToJson(f, { type: 'flow', final: true }).length + 1;
}
const timer = setInterval(tick, 1000);

function stats(): AgentStats {
  const s = collector.stats();
  return {
    type: 'stats', records: String(s.records), drops: String(s.drops), delivered: s.delivered, batches: s.batches,
    folded: table.stats.folded, flows: table.size, jsonBytes, watchedRecords, attached: s.attached, skipped: s.skipped.length,
  };
}

function stop(): void {
  clearInterval(timer);
  collector.close();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop); // the bench died: never leave probes attached
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'stats') process.send?.(stats());
  else if (m?.type === 'stop') stop();
});
const st = collector.stats();
if (process.send) process.send({ type: 'ready', attached: st.attached, skipped: st.skipped.length, pid: process.pid });
else console.error(`agent-child: capturing from ${st.attached} tracepoints (payload ${payloadBytes} B); Ctrl-C to stop`);
