// The OTLP exporter: `requests` rows (from the local agent or remote agents, via the ingest path) become
// spans in a bounded batch queue and feed RED/TCP aggregates; a timer sends the metric snapshot. Nothing
// here blocks the caller: rows are converted and queued synchronously, network work happens on its own.
import { rowToRequest } from '../correlate/apm.js';
import { RedAggregator } from '../correlate/red.js';
import type { MetricFamily } from '../server/metrics.js';
import type { Row } from '../store/types.js';
import { BatchQueue, within, type BatchQueueStats } from './batch-queue.js';
import { DEFAULT_RETRY, type RetryPolicy } from './http-post.js';
import { OtlpClient } from './otlp-client.js';
import { encodeMetrics, type MetricData } from './otlp-encode-metrics.js';
import { encodeTracesChunked, type SpanInput } from './otlp-encode-traces.js';
import { EdgeTcpAggregator, familyMetrics, redMetrics } from './otlp-metrics-source.js';

export interface OtlpExporterOptions {
  endpoint: string;
  headers?: Record<string, string>;
  /** This server's host name (the metrics resource). */
  host: string;
  batchSpans?: number; // default 512
  maxQueueSpans?: number; // default 20 000
  flushMs?: number; // default 1000
  metricsIntervalMs?: number; // default 10 000; 0 = no metrics export
  retry?: Partial<RetryPolicy>;
  /** Extra families to export with the metrics (the server's Prometheus registry). */
  families?: () => Promise<MetricFamily[]>;
  log?: (message: string) => void;
}

export interface OtlpExporterStats {
  spans: BatchQueueStats;
  badRows: number; // rows that could not be read as requests
  metricExports: number;
  metricExportsFailed: number;
  retries: number;
  lastError?: string;
}

// RED families the server's registry may carry too (the agent's redCollector): sent natively instead.
const NATIVE = /^faultlens_(request|edge_request)/;

export class OtlpExporter {
  readonly red = new RedAggregator();
  private readonly tcp = new EdgeTcpAggregator();
  private readonly client: OtlpClient;
  private readonly queue: BatchQueue<SpanInput>;
  private readonly abort = new AbortController();
  private readonly startNs = BigInt(Date.now()) * 1_000_000n;
  private readonly metricsTimer: NodeJS.Timeout | undefined;
  private metricsInFlight: Promise<void> | undefined;
  private readonly st = { badRows: 0, metricExports: 0, metricExportsFailed: 0, lastError: undefined as string | undefined };
  private lastWarnMs = 0;
  private readonly log: (m: string) => void;

  constructor(private readonly o: OtlpExporterOptions) {
    this.log = o.log ?? ((m) => console.error(`faultlens: otlp: ${m}`));
    this.client = new OtlpClient({
      endpoint: o.endpoint,
      ...(o.headers ? { headers: o.headers } : {}),
      policy: { ...DEFAULT_RETRY, ...o.retry },
      signal: this.abort.signal,
    });
    this.queue = new BatchQueue<SpanInput>({
      maxQueue: o.maxQueueSpans ?? 20_000,
      maxBatch: o.batchSpans ?? 512,
      flushMs: o.flushMs ?? 1000,
      send: (batch) => this.sendSpans(batch),
    });
    const every = o.metricsIntervalMs ?? 10_000;
    if (every > 0) {
      this.metricsTimer = setInterval(() => void this.exportMetrics(), every);
      this.metricsTimer.unref();
    }
  }

  get urls() {
    return this.client.urls;
  }

  /** `requests` rows of one host; returns how many spans were queued (the rest were dropped, counted). */
  addRequestRows(host: string, rows: Row[]): number {
    const spans: SpanInput[] = [];
    for (const row of rows) {
      try {
        const record = rowToRequest(row);
        const startWallNs = BigInt(row.ts_ns as bigint | string | number);
        // a row without the record's body (an old agent, a hand-made POST) cannot become a span
        if ((record.side !== 'server' && record.side !== 'client') || !record.client?.ip || !record.server?.ip) throw new Error('not a request record');
        this.red.add(record);
        this.tcp.add(record);
        spans.push({ record, host: String(row.host ?? host), startWallNs });
      } catch {
        this.st.badRows++;
      }
    }
    const before = this.queue.counts.droppedQueueFull;
    const n = this.queue.push(spans);
    if (this.queue.counts.droppedQueueFull > before) this.warn(`span queue full: dropped ${this.queue.counts.droppedQueueFull} spans so far (endpoint slow or down?)`);
    return n;
  }

  private async sendSpans(batch: SpanInput[]): Promise<boolean> {
    const out = await this.client.send('traces', await encodeTracesChunked(batch));
    if (!out.ok) {
      this.st.lastError = `traces: ${out.error}`;
      this.warn(`dropped a batch of ${batch.length} spans after ${out.attempts} attempt(s): ${out.error}`);
    }
    return out.ok;
  }

  /** The metric snapshot now (also what a test decodes). */
  async metricsSnapshot(): Promise<MetricData[]> {
    const families = this.o.families ? await this.o.families().catch(() => [] as MetricFamily[]) : [];
    return [...redMetrics(this.red), ...this.tcp.snapshot(), ...familyMetrics(families, (n) => NATIVE.test(n))];
  }

  /** Sends one metric snapshot (skipped while the previous one is still being delivered). */
  exportMetrics(): Promise<void> {
    this.metricsInFlight ??= (async () => {
      try {
        const metrics = await this.metricsSnapshot();
        const body = encodeMetrics([{ resource: { 'service.name': 'faultlens', 'host.name': this.o.host }, startNs: this.startNs, timeNs: BigInt(Date.now()) * 1_000_000n, metrics }]);
        const out = await this.client.send('metrics', body);
        if (out.ok) this.st.metricExports++;
        else {
          this.st.metricExportsFailed++;
          this.st.lastError = `metrics: ${out.error}`;
          this.warn(`metrics export failed after ${out.attempts} attempt(s): ${out.error}`);
        }
      } finally {
        this.metricsInFlight = undefined;
      }
    })();
    return this.metricsInFlight;
  }

  /** Warnings at most every 10 s: an endpoint that is down must not flood the log. */
  private warn(m: string): void {
    const now = Date.now();
    if (now - this.lastWarnMs < 10_000) return;
    this.lastWarnMs = now;
    this.log(m);
  }

  stats(): OtlpExporterStats {
    return { spans: this.queue.stats(), ...this.st, retries: this.client.retries };
  }

  /** Sends what is queued and a last metric snapshot, within `timeoutMs`; then stops retrying. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    const deadline = Date.now() + timeoutMs;
    await this.queue.close(timeoutMs);
    if (this.metricsInFlight) await within(this.metricsInFlight, deadline - Date.now());
    if ((this.o.metricsIntervalMs ?? 10_000) > 0 && Date.now() < deadline) await within(this.exportMetrics(), deadline - Date.now());
    this.abort.abort();
  }
}
