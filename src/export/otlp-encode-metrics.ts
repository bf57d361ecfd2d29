// Metric snapshots -> OTLP ExportMetricsServiceRequest (opentelemetry-proto collector/metrics/v1), protobuf.
// Counters are cumulative Sums (monotonic), levels are Gauges, latency is a Summary (count, sum and the
// p50/p90/p99 of faultlens's log-linear histograms: the quantiles are what RED reports everywhere else).
import { attributes, double, fixed64, message, newWriter, resource, scope, SCOPE_NAME, SCOPE_VERSION, str, tag, uvarint, type Attributes } from './otlp-common.js';

export interface MetricPoint {
  attributes: Attributes;
  /** Sum / Gauge value: integers go out as as_int, the rest as as_double. */
  value?: number | bigint;
  /** Summary only. */
  count?: number;
  sum?: number;
  quantiles?: [q: number, value: number][];
}

export interface MetricData {
  name: string;
  description: string;
  unit: string; // UCUM: 's', 'By', '{request}', '1'
  type: 'sum' | 'gauge' | 'summary';
  monotonic?: boolean; // sum only (default true)
  points: MetricPoint[];
}

export interface MetricsBatch {
  resource: Attributes;
  /** Cumulative start (when counting began) and the snapshot time, wall-clock ns. */
  startNs: bigint;
  timeNs: bigint;
  metrics: MetricData[];
}

const CUMULATIVE = 2;

/** NumberDataPoint: start=2 time=3 as_double=4 as_int=6 attributes=7. */
function numberPoint(w: Parameters<typeof message>[0], p: MetricPoint, b: MetricsBatch): void {
  message(w, 1, (d) => {
    fixed64(d, 2, b.startNs);
    fixed64(d, 3, b.timeNs, true);
    const v = p.value ?? 0;
    // a oneof member is written even when zero: that is how a reader knows which one is set
    if (typeof v === 'bigint') fixed64(d, 6, v, true);
    else if (Number.isSafeInteger(v)) fixed64(d, 6, BigInt(v), true);
    else double(d, 4, v, true);
    attributes(d, 7, p.attributes);
  });
}

/** SummaryDataPoint: start=2 time=3 count=4 sum=5 quantile_values=6 {quantile=1 value=2} attributes=7. */
function summaryPoint(w: Parameters<typeof message>[0], p: MetricPoint, b: MetricsBatch): void {
  message(w, 1, (d) => {
    fixed64(d, 2, b.startNs);
    fixed64(d, 3, b.timeNs, true);
    fixed64(d, 4, BigInt(Math.max(0, Math.round(p.count ?? 0))));
    double(d, 5, p.sum ?? 0);
    for (const [q, v] of p.quantiles ?? []) {
      message(d, 6, (qv) => {
        double(qv, 1, q, true);
        double(qv, 2, v, true);
      });
    }
    attributes(d, 7, p.attributes);
  });
}

/** Metric: name=1 description=2 unit=3 gauge=5 sum=7 summary=11. */
function metric(w: Parameters<typeof message>[0], m: MetricData, b: MetricsBatch): void {
  message(w, 2, (x) => {
    str(x, 1, m.name);
    str(x, 2, m.description);
    str(x, 3, m.unit);
    if (m.type === 'gauge') message(x, 5, (g) => m.points.forEach((p) => numberPoint(g, p, b)));
    else if (m.type === 'sum') {
      message(x, 7, (s) => {
        m.points.forEach((p) => numberPoint(s, p, b));
        uvarint(s, 2, CUMULATIVE);
        if (m.monotonic !== false) tag(s, 3, 0).bool(true);
      });
    } else message(x, 11, (s) => m.points.forEach((p) => summaryPoint(s, p, b)));
  });
}

/** ExportMetricsServiceRequest { resource_metrics=1 { resource=1, scope_metrics=2 { scope=1, metrics=2 } } }. */
export function encodeMetrics(batches: MetricsBatch[]): Uint8Array {
  const w = newWriter();
  for (const b of batches) {
    const metrics = b.metrics.filter((m) => m.points.length);
    if (!metrics.length) continue;
    message(w, 1, (rm) => {
      resource(rm, 1, b.resource);
      message(rm, 2, (sm) => {
        scope(sm, 1, SCOPE_NAME, SCOPE_VERSION);
        for (const m of metrics) metric(sm, m, b);
      });
    });
  }
  return w.finish();
}
