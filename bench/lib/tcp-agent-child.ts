// The agent as bench/tcp-overhead.ts runs it, in a separate process so that its CPU time can be read:
//   --mode sock      socket capture (512-byte payload heads) folded into the flow table, with the 1 s tick of
//                    `faultlens flows --json` (JSON built and discarded), as bench/agent-child.ts does
//   --mode sock+tcp  the same plus the TCP probes (bpf/tcp.bpf.o: tracepoints, raw tracepoints, sock_ops on
//                    the cgroup v2 root) with the 1 s tick of `faultlens diagnose` (events drained, every
//                    connection sampled, the diagnosers run, closed connections pruned)
// Driven over the fork IPC channel: {type:'ready'} once attached; {type:'stats'} answers counters;
// {type:'stop'} (or a lost parent) detaches everything and exits.
import { SockCollector } from '../../src/collect/sock-collector.js';
import { TcpCollector } from '../../src/collect/tcp-collector.js';
import { FlowTable } from '../../src/correlate/flows.js';
import { flowToJson } from '../../src/correlate/flows-format.js';
import { listeningTcpPorts } from '../../src/correlate/listening-ports.js';
import { TcpDiagnosisEngine } from '../../src/detect/tcp/engine.js';
import type { TcpEvent } from '../../src/model/tcp.js';
import { strArg } from './args.js';

export interface TcpAgentStats {
  type: 'stats';
  sockRecords: string; sockDrops: string; tcpConns: number; tcpEvents: number; tcpRttSamples: string; findings: number;
}

const mode = strArg('mode', 'sock');
if (mode !== 'sock' && mode !== 'sock+tcp') throw new Error(`--mode must be sock or sock+tcp, got ${mode}`);

const table = new FlowTable();
for (const port of listeningTcpPorts()) table.markServerPort(port);
const sock = SockCollector.start({
  payloadBytes: 512,
  onBatch: (b, v) => table.foldBatch(b, v),
  onWarning: (m) => process.stderr.write(`tcp-agent-child: ${m}\n`),
});

const events: TcpEvent[] = [];
let tcpEvents = 0;
let findings = 0;
let tcp: TcpCollector | undefined;
let engine: TcpDiagnosisEngine | undefined;
let prevTickNs = process.hrtime.bigint();
if (mode === 'sock+tcp') {
  tcp = new TcpCollector({ onEvents: (e) => { tcpEvents += e.length; events.push(...e); } }).start();
  for (const w of tcp.warnings) process.stderr.write(`tcp-agent-child: ${w}\n`);
  engine = new TcpDiagnosisEngine();
}

function tick(): void {
  sock.drain();
  const now = Number(process.hrtime.bigint());
  for (const f of table.changed()) flowToJson(f, { type: 'flow' });
  for (const f of table.evict(now)) flowToJson(f, { type: 'flow', final: true });
  if (tcp && engine) {
    tcp.poll();
    engine.addEvents(events.splice(0));
    const nowNs = process.hrtime.bigint();
    findings += engine.tick(nowNs, tcp.readConns(), tcp.readListeners()).findings.length;
    tcp.pruneClosed(prevTickNs);
    prevTickNs = nowNs;
  }
}
const timer = setInterval(tick, 1000);

function stats(): TcpAgentStats {
  const s = sock.stats();
  return {
    type: 'stats', sockRecords: String(s.records), sockDrops: String(s.drops), tcpConns: tcp ? tcp.readConns().length : 0, tcpEvents,
    tcpRttSamples: String(tcp ? tcp.stats().rttSamples ?? 0n : 0n), findings,
  };
}

function stop(): void {
  clearInterval(timer);
  tcp?.close();
  sock.close();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop); // the bench died: never leave probes attached
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'stats') process.send?.(stats());
  else if (m?.type === 'stop') stop();
});
process.send?.({ type: 'ready', pid: process.pid, attached: sock.stats().attached });
