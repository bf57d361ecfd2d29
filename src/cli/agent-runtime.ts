// The agent: kernel collectors -> correlation -> a sink (the local store + live hub in `faultlens up`,
// or a remote server's /api/ingest in `faultlens agent`). One socket probe feeds both the flow table
// (raw batches, zero-copy fold) and the APM pipeline (requests with their TCP snapshot, HTTPS via the
// OpenSSL uprobes). One tick per interval ships what changed.
import { SockCollector, requireRoot } from '../collect/sock-collector.js';
import { monoToWallOffsetNs, requestToRow } from '../correlate/apm.js';
import { startApmCapture, type ApmCapture } from '../correlate/apm-live.js';
import { FlowTable } from '../correlate/flows.js';
import { listeningTcpPorts } from '../correlate/listening-ports.js';
import type { RedAggregator } from '../correlate/red.js';
import { TcpDiagnosisEngine } from '../detect/tcp/engine.js';
import type { Finding } from '../model/finding.js';
import type { TcpConnSample, TcpEvent, TcpListenerSample } from '../model/tcp.js';
import type { Flow } from '../model/flow.js';
import type { Row } from '../store/types.js';
import type { Ingestor } from '../server/ingest.js';
import { LiveFaultMonitor, type LiveMonitorOptions } from '../rca/live-monitor.js';
import { alertToRow } from './alert-rows.js';
import { TcpSampleRows } from './tcp-sample-rows.js';

/** Where the agent's records go. Calls may be async (a remote POST); ticks never overlap them. */
export interface AgentSink {
  flows(host: string, flows: Flow[]): void | Promise<void>;
  /** L7 requests as `requests` table rows (ts_ns wall clock). */
  requests?(host: string, rows: Row[]): void | Promise<void>;
  /** TCP diagnoses (Nagle x delayed ACK, ineffective SO_RCVBUF, overflows ...) as `findings` rows. */
  findings?(host: string, rows: Row[]): void | Promise<void>;
  /** Early-warning / in-progress / resolved alerts of the live fault monitor, as `alerts` rows. */
  alerts?(host: string, rows: Row[]): void | Promise<void>;
  /** Periodic TCP state of the connections that moved (src/cli/tcp-sample-rows.ts), as `tcp_samples` rows. */
  tcpSamples?(host: string, rows: Row[]): void | Promise<void>;
}

/** A finding as a `findings` row: a new row each time it is (re)reported, the newest wins per id. */
export function findingToRow(f: Finding, monoToWallNs: bigint): Row {
  const s = f.subject;
  const subject = s.flow
    ? `${s.flow.local.ip}:${s.flow.local.port}->${s.flow.remote.ip}:${s.flow.remote.port}`
    : s.port
      ? `port ${s.port.port}`
      : s.process
        ? `${s.process.comm}[${s.process.pid}]`
        : '';
  return {
    ts_ns: f.window.endNs + monoToWallNs,
    id: f.id,
    kind: f.kind,
    severity: f.severity,
    subject: s.process ? `${subject} (${s.process.comm}[${s.process.pid}])` : subject,
    summary: f.title,
    data: { ...f, window: { startNs: (f.window.startNs + monoToWallNs).toString(), endNs: (f.window.endNs + monoToWallNs).toString() } },
  };
}

export interface AgentOptions {
  host: string;
  sink: AgentSink;
  intervalMs?: number; // default 1000
  payloadBytes?: number; // default 512 with APM, 0 for flows only
  /** L7 requests, services, call chains (default true); off = flows only, cheaper. */
  apm?: boolean;
  onWarning?: (message: string) => void;
  /** Live detection + alerting over the RED and TCP series (needs apm; default on when the sink takes alerts). */
  alerting?: boolean | LiveMonitorOptions;
}

export interface AgentStats {
  ticks: number;
  flowsShipped: number;
  shipErrors: number;
  lastShipError?: string;
  records: bigint;
  drops: bigint;
  liveFlows: number;
  requestsShipped: number;
  findingsShipped: number;
  alertsShipped: number;
  tracepoints: number;
  skippedTracepoints: string[];
}

export interface RunningAgent {
  stats(): AgentStats;
  /** RED per service/endpoint/edge when APM is on (for Prometheus series). */
  red?: RedAggregator;
  /** Flows-only agent: detaches its probes and stops ticking (counters so far are kept); resume() undoes it. */
  pause(): void;
  resume(): void;
  /** Ships what is pending, detaches every probe. Idempotent. */
  close(): Promise<void>;
}

const MAX_PENDING = 200_000; // request rows held while a slow sink ships (the oldest go first)

function monotonicNs(): number {
  return Number(process.hrtime.bigint()); // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns
}

export function startAgent(opts: AgentOptions): RunningAgent {
  requireRoot('the faultlens agent');
  const warn = opts.onWarning ?? ((m: string) => console.error(`faultlens agent: ${m}`));
  const table = new FlowTable();
  // connections accepted before we started have no accept record: listening ports say who serves
  for (const port of listeningTcpPorts()) table.markServerPort(port);
  let pendingRequests: Row[] = [];
  let pendingFindings: Row[] = [];
  const tcpEvents: TcpEvent[] = [];
  const diagnosis = new TcpDiagnosisEngine();
  const lastReported = new Map<string, string>(); // finding id -> severity: store changes, not every tick
  const wallOffset = monoToWallOffsetNs();
  let apm: ApmCapture | undefined;
  let collector: SockCollector;
  let pendingAlerts: Row[] = [];
  let pendingTcpSamples: Row[] = [];
  const tcpSamples = new TcpSampleRows();
  const monitor = opts.apm !== false && opts.sink.alerts && opts.alerting !== false
    ? new LiveFaultMonitor({
      listenerService: (l) => apm?.pipeline.tracker.services.ofProcess(l.pid, l.comm, l.local.port),
      ...(typeof opts.alerting === 'object' ? opts.alerting : {}),
    }) : undefined;
  if (opts.apm !== false) {
    apm = startApmCapture({
      payloadBytes: Math.max(opts.payloadBytes ?? 512, 0),
      onSockBatch: (b, v) => table.foldBatch(b, v),
      onTcpEvents: (e) => {
        for (const x of e) tcpEvents.push(x);
      },
      onRecords: (rs) => {
        for (const r of rs) {
          pendingRequests.push(requestToRow(r, wallOffset));
          monitor?.addRequest(r, Number((r.endNs + wallOffset) / 1_000_000n));
        }
      },
      onWarning: warn,
    });
    collector = apm.sock;
  } else {
    collector = SockCollector.start({
      payloadBytes: opts.payloadBytes ?? 0, // flows read no payload: copying it is ~25 % of the probe's time
      // flows need totals, not syscalls: TCP data is counted per socket in the kernel (a few records per
      // connection instead of one per read/write); the tick folds the counters
      countInKernel: true,
      // a few records per connection, and the tick drains before it folds: a lone record may wait for
      // it instead of waking the agent 20 times a second (a full batch still wakes it at once)
      drainIntervalMs: 250,
      onBatch: (b, v) => table.foldBatch(b, v),
      onWarning: warn,
    });
  }
  const st = { ticks: 0, flowsShipped: 0, requestsShipped: 0, findingsShipped: 0, alertsShipped: 0, tcpSamplesShipped: 0, shipErrors: 0, lastShipError: undefined as string | undefined };
  let shipping: Promise<void> = Promise.resolve();

  // The TCP diagnosers over the APM capture's TCP collector (its table is read anyway for the
  // per-request TCP snapshot); a finding is shipped when it appears or its severity changes.
  let prevDiagNs = process.hrtime.bigint();
  let capturing = true; // false once the probes are closed: the last tick only ships what is pending
  const diagnose = (): void => {
    const tcp = apm?.tcp;
    if (!tcp || !capturing) return;
    try {
      tcp.poll();
      diagnosis.addEvents(tcpEvents.splice(0));
      const nowNs = process.hrtime.bigint();
      const conns = tcp.readConns();
      const listeners = tcp.readListeners();
      const { findings } = diagnosis.tick(nowNs, conns, listeners);
      tcpRead = { conns, listeners };
      if (opts.sink.tcpSamples) for (const row of tcpSamples.rows(conns, nowNs, wallOffset, () => tcp.readDrops())) pendingTcpSamples.push(row);
      for (const f of findings) {
        if (lastReported.get(f.id) === f.severity) continue;
        lastReported.set(f.id, f.severity);
        pendingFindings.push(findingToRow(f, wallOffset));
      }
      tcp.pruneClosed(prevDiagNs);
      prevDiagNs = nowNs;
    } catch (e) {
      warn(`TCP diagnosis: ${(e as Error).message}`);
    }
  };
  let busy = false;
  let tcpRead: { conns: TcpConnSample[]; listeners: TcpListenerSample[] } | undefined; // this tick's TCP samples
  // Detection over this tick's series; its alert rows ship with the tick's records.
  const detect = (): void => {
    if (!monitor) return;
    try {
      const now = Date.now();
      for (const ch of monitor.tick(now, tcpRead ?? {})) pendingAlerts.push(alertToRow(ch, now));
    } catch (e) {
      warn(`fault monitor: ${(e as Error).message}`);
    }
    tcpRead = undefined;
  };

  const tick = (): Promise<void> => {
    if (apm) {
      // capture and detection keep their pace while a slow sink ships: alerts are raised on time, and
      // what they produce waits in the pending lists for the next shipment
      if (capturing) apm.tick();
      diagnose();
      detect();
    }
    if (busy) {
      // a slow sink delays the next shipment instead of overlapping it; what waits meanwhile is bounded
      if (pendingRequests.length > MAX_PENDING) pendingRequests.splice(0, pendingRequests.length - MAX_PENDING);
      return shipping;
    }
    if (!apm && capturing) {
      collector.drain();
      collector.pollCounts((v, final) => table.foldCounts(v, final));
    }
    const evicted = table.evict(monotonicNs());
    const flows = [...table.changed(), ...evicted];
    const requests = opts.sink.requests ? pendingRequests : [];
    pendingRequests = [];
    const findings = opts.sink.findings ? pendingFindings : [];
    pendingFindings = [];
    const alerts = pendingAlerts;
    pendingAlerts = [];
    const samples = pendingTcpSamples;
    pendingTcpSamples = [];
    st.ticks++;
    if (!flows.length && !requests.length && !findings.length && !alerts.length && !samples.length) return shipping;
    busy = true;
    shipping = Promise.resolve()
      .then(async () => {
        if (flows.length) await opts.sink.flows(opts.host, flows);
        if (requests.length) await opts.sink.requests!(opts.host, requests);
        if (findings.length) await opts.sink.findings!(opts.host, findings);
        if (alerts.length) await opts.sink.alerts!(opts.host, alerts);
        if (samples.length) await opts.sink.tcpSamples!(opts.host, samples);
      })
      .then(
        () => {
          st.flowsShipped += flows.length;
          st.requestsShipped += requests.length;
          st.findingsShipped += findings.length;
          st.alertsShipped += alerts.length;
          st.tcpSamplesShipped += samples.length;
        },
        (e: Error) => {
          st.shipErrors++;
          st.lastShipError = e.message;
          warn(`shipping ${flows.length} flows / ${requests.length} requests failed: ${e.message}`);
        },
      )
      .finally(() => {
        busy = false;
      });
    return shipping;
  };
  const startTicking = () => setInterval(() => void tick(), opts.intervalMs ?? 1000);
  let timer = startTicking();
  let closed: Promise<void> | undefined;
  let paused = false;

  return {
    ...(apm ? { red: apm.pipeline.red } : {}),
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
    pause() {
      if (apm) throw new Error('pause() is for the flows-only agent (apm: false)');
      if (paused || closed) return;
      paused = true;
      clearInterval(timer);
      collector.pause();
    },
    resume() {
      if (!paused || closed) return;
      paused = false;
      collector.resume();
      timer = startTicking();
    },
    close() {
      closed ??= (async () => {
        clearInterval(timer);
        await shipping;
        if (apm) {
          apm.stop(); // emits what the close completes; the last tick ships it
          capturing = false;
        }
        await tick();
        if (!apm) {
          capturing = false;
          collector.close();
        }
      })();
      return closed;
    },
  };
}

/** A sink into this process's server (`faultlens up`): every table the agent produces, durable when written. */
export function localSink(ingestor: Ingestor): AgentSink {
  return {
    flows: (host, flows) => ingestor.ingestFlows(host, flows).durable,
    requests: (host, rows) => ingestor.ingest(host, [], { requests: rows }).durable,
    findings: (host, rows) => ingestor.ingest(host, [], { findings: rows }).durable,
    alerts: (host, rows) => ingestor.ingest(host, [], { alerts: rows }).durable,
    tcpSamples: (host, rows) => ingestor.ingest(host, [], { tcp_samples: rows }).durable,
  };
}

/** A sink that POSTs batches to a faultlens server's /api/ingest (bigints as decimal strings). */
export function remoteSink(serverUrl: string, token?: string): AgentSink {
  const url = new URL('/api/ingest', serverUrl).toString();
  const post = async (body: object): Promise<void> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  };
  return {
    async flows(host, flows) {
      const tsNs = BigInt(Date.now()) * 1_000_000n;
      await post({ host, flows: flows.map((f) => ({ ...f, tsNs })) });
    },
    async requests(host, rows) {
      await post({ host, requests: rows });
    },
    async findings(host, rows) {
      await post({ host, findings: rows });
    },
    async alerts(host, rows) {
      await post({ host, alerts: rows });
    },
    async tcpSamples(host, rows) {
      await post({ host, tcp_samples: rows });
    },
  };
}
