// The agent as the http-overhead benchmark runs it, in a separate process. Two variants (--agent):
//   flows-json (default): what `faultlens flows --json` does (socket capture with 512-byte payload heads,
//     every batch folded into the flow table, a 1 s tick that drains, evicts and serialises the changed
//     flows), with the JSON discarded instead of printed;
//   runtime --apm 0|1: the product's agent itself, startAgent() of src/cli/agent-runtime.ts (what
//     `faultlens up` / `faultlens agent` run) with a sink that drops everything: --apm 0 = flows only,
//     --apm 1 = flows + L7 requests (TCP collector, TLS uprobes, APM pipeline, TCP diagnosis).
// Driven over the IPC channel of child_process.fork: sends {type:'ready'} once attached, answers
// {type:'stats'} with counters, {type:'pause'|'resume'} (runtime --apm 0) detaches / re-attaches the
// probes in place, and {type:'stop'} detaches everything and exits.
//   (forked by bench/http-overhead.ts; standalone: node --import tsx bench/agent-child.ts [--agent runtime --apm 1])
import { SOCK_OBJECT, SOCK_RAW_OBJECT, SockCollector } from '../src/collect/sock-collector.js';
import { FlowTable } from '../src/correlate/flows.js';
import { flowToJson } from '../src/correlate/flows-format.js';
import { listeningTcpPorts } from '../src/correlate/listening-ports.js';
import { startAgent, type AgentSink } from '../src/cli/agent-runtime.js';
import { numArg, strArg } from './lib/args.js';

export interface AgentStats {
  type: 'stats';
  records: string; // written by the kernel side (bigint as text)
  drops: string;
  delivered: number; // records that reached JS (flows-json only)
  batches: number;
  folded: number;
  flows: number;
  jsonBytes: number; // what `flows --json` would have printed
  /** records of the --watch-pid process (the benchmarked server); null when the variant cannot see batches */
  watchedRecords: number | null;
  attached: number;
  skipped: number;
  requests: number; // L7 request rows handed to the sink (runtime --apm 1)
  findings: number;
}

interface Agent {
  stats(): AgentStats;
  close(): Promise<void> | void;
  /** runtime --apm 0 only: probes detached / attached again (http-overhead --alternate) */
  pause?(): void;
  resume?(): void;
}

const payloadBytes = numArg('payload', 512);
const watchPid = numArg('watch-pid', 0);
const variant = strArg('agent', 'flows-json');
// flows-json only: 'classic' = the classic tracepoint probe (sock.bpf.o), or the path of a probe object
const object = strArg('object', 'auto');
// flows-json only: 1 = TCP data counted per socket in the kernel (countInKernel), folded every tick
const countInKernel = numArg('count', 0) === 1;
const warnings: string[] = [];
const onWarning = (m: string) => {
  warnings.push(m);
  process.stderr.write(`agent-child: ${m}\n`);
};

function flowsJsonAgent(): Agent {
  let watchedRecords = 0;
  const table = new FlowTable();
  for (const port of listeningTcpPorts()) table.markServerPort(port);
  const collector = SockCollector.start({
    objectPath: object === 'classic' ? SOCK_OBJECT : object === 'raw' ? SOCK_RAW_OBJECT : object === 'auto' ? undefined : object,
    payloadBytes,
    countInKernel,
    onBatch: (b, v) => {
      table.foldBatch(b, v);
      // capture is system-wide: count the benchmarked server's own records (one pid compare per record)
      if (watchPid) for (let i = 0; i < b.count; i++) if (v.at(b.buf, b.offsets[i], b.lengths[i]).pid === watchPid) watchedRecords++;
    },
    onWarning,
  });
  let jsonBytes = 0;
  const timer = setInterval(() => {
    collector.drain();
    if (countInKernel) collector.pollCounts((v, final) => table.foldCounts(v, final));
    const now = Number(process.hrtime.bigint());
    for (const f of table.changed()) jsonBytes += flowToJson(f, { type: 'flow' }).length + 1;
    for (const f of table.evict(now)) jsonBytes += flowToJson(f, { type: 'flow', final: true }).length + 1;
  }, 1000);
  return {
    stats() {
      const s = collector.stats();
      return {
        type: 'stats', records: String(s.records), drops: String(s.drops), delivered: s.delivered, batches: s.batches,
        folded: table.stats.folded, flows: table.size, jsonBytes, watchedRecords: watchPid ? watchedRecords : null,
        attached: s.attached, skipped: s.skipped.length, requests: 0, findings: 0,
      };
    },
    close() {
      clearInterval(timer);
      collector.close();
    },
  };
}

function runtimeAgent(apm: boolean): Agent {
  // the sink of `faultlens up` minus the store: rows are built and handed over, then dropped
  const sink: AgentSink = { flows: () => {}, requests: () => {}, findings: () => {} };
  const agent = startAgent({ host: 'bench', sink, apm, payloadBytes, onWarning });
  return {
    stats() {
      const s = agent.stats();
      return {
        type: 'stats', records: String(s.records), drops: String(s.drops), delivered: 0, batches: 0, folded: 0, flows: s.liveFlows,
        jsonBytes: 0, watchedRecords: null, attached: s.tracepoints, skipped: s.skippedTracepoints.length,
        requests: s.requestsShipped, findings: s.findingsShipped,
      };
    },
    close: () => agent.close(),
    ...(apm ? {} : { pause: () => agent.pause(), resume: () => agent.resume() }),
  };
}

let agent: Agent;
if (variant === 'flows-json') agent = flowsJsonAgent();
else if (variant === 'runtime') agent = runtimeAgent(numArg('apm', 1) !== 0);
else throw new Error(`--agent must be flows-json or runtime, got '${variant}'`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await agent.close();
  } finally {
    process.exit(0);
  }
}

process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.on('disconnect', () => void stop()); // the bench died: never leave probes attached
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'stats') process.send?.(agent.stats());
  else if (m?.type === 'stop') void stop();
  else if (m?.type === 'pause' || m?.type === 'resume') {
    if (!agent.pause || !agent.resume) process.send?.({ type: 'error', message: `--agent ${variant} cannot pause` });
    else {
      if (m.type === 'pause') agent.pause();
      else agent.resume();
      process.send?.({ type: m.type === 'pause' ? 'paused' : 'resumed', attached: agent.stats().attached });
    }
  }
});
const st = agent.stats();
if (process.send) process.send({ type: 'ready', attached: st.attached, skipped: st.skipped, pid: process.pid, warnings });
else console.error(`agent-child: ${variant} capturing from ${st.attached} tracepoints (payload ${payloadBytes} B); Ctrl-C to stop`);
