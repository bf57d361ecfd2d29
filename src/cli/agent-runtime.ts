// The agent: kernel collectors -> correlation -> a sink (the local store + live hub in `faultlens up`,
// or a remote server's /api/ingest in `faultlens agent`). One tick per interval ships what changed.
import { SockCollector, requireRoot } from '../collect/sock-collector.js';
import { FlowTable } from '../correlate/flows.js';
import { listeningTcpPorts } from '../correlate/listening-ports.js';
import type { Flow } from '../model/flow.js';

/** Where the agent's records go. `flows` may be async (a remote POST); ticks never overlap it. */
export interface AgentSink {
  flows(host: string, flows: Flow[]): void | Promise<void>;
}

export interface AgentOptions {
  host: string;
  sink: AgentSink;
  intervalMs?: number; // default 1000
  payloadBytes?: number; // default 512
  onWarning?: (message: string) => void;
}

export interface AgentStats {
  ticks: number;
  flowsShipped: number;
  shipErrors: number;
  lastShipError?: string;
  records: bigint;
  drops: bigint;
  liveFlows: number;
  tracepoints: number;
  skippedTracepoints: string[];
}

export interface RunningAgent {
  stats(): AgentStats;
  /** Ships what is pending, detaches every probe. Idempotent. */
  close(): Promise<void>;
}

function monotonicNs(): number {
  return Number(process.hrtime.bigint()); // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns
}

export function startAgent(opts: AgentOptions): RunningAgent {
  requireRoot('the faultlens agent');
  const warn = opts.onWarning ?? ((m: string) => console.error(`faultlens agent: ${m}`));
  const table = new FlowTable();
  // connections accepted before we started have no accept record: listening ports say who serves
  for (const port of listeningTcpPorts()) table.markServerPort(port);
  const collector = SockCollector.start({
    payloadBytes: opts.payloadBytes ?? 512,
    onBatch: (b, v) => table.foldBatch(b, v),
    onWarning: warn,
  });
  const st = { ticks: 0, flowsShipped: 0, shipErrors: 0, lastShipError: undefined as string | undefined };
  let shipping: Promise<void> = Promise.resolve();
  let busy = false;

  const tick = (): Promise<void> => {
    if (busy) return shipping; // a slow sink delays the next tick instead of piling up requests
    collector.drain();
    const evicted = table.evict(monotonicNs());
    const flows = [...table.changed(), ...evicted];
    st.ticks++;
    if (!flows.length) return shipping;
    busy = true;
    shipping = Promise.resolve()
      .then(() => opts.sink.flows(opts.host, flows))
      .then(
        () => {
          st.flowsShipped += flows.length;
        },
        (e: Error) => {
          st.shipErrors++;
          st.lastShipError = e.message;
          warn(`shipping ${flows.length} flows failed: ${e.message}`);
        },
      )
      .finally(() => {
        busy = false;
      });
    return shipping;
  };
  const timer = setInterval(() => void tick(), opts.intervalMs ?? 1000);
  let closed: Promise<void> | undefined;

  return {
    stats() {
      const c = collector.stats();
      return {
        ...st,
        records: c.records,
        drops: c.drops,
        liveFlows: table.size,
        tracepoints: c.attached,
        skippedTracepoints: c.skipped.map((s) => s.tracepoint),
      };
    },
    close() {
      closed ??= (async () => {
        clearInterval(timer);
        await shipping;
        await tick();
        collector.close();
      })();
      return closed;
    },
  };
}

/** A sink that POSTs batches to a faultlens server's /api/ingest (bigints as decimal strings). */
export function remoteSink(serverUrl: string, token?: string): AgentSink {
  const url = new URL('/api/ingest', serverUrl).toString();
  return {
    async flows(host, flows) {
      const tsNs = BigInt(Date.now()) * 1_000_000n;
      const body = JSON.stringify({ host, flows: flows.map((f) => ({ ...f, tsNs })) }, (_k, v) =>
        typeof v === 'bigint' ? v.toString() : v,
      );
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    },
  };
}
