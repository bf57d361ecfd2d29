// What the OTLP metrics export sends: RED per endpoint, service and edge (from a RedAggregator), TCP health
// per edge (from the requests' TCP snapshots), and any Prometheus families of the server's registry
// (flows, store, business ...) converted as they are, so both exports carry the same series.
import type { RedAggregator, RedStats } from '../correlate/red.js';
import type { RequestRecord } from '../model/request.js';
import type { MetricFamily } from '../server/metrics.js';
import type { Attributes } from './otlp-common.js';
import type { MetricData, MetricPoint } from './otlp-encode-metrics.js';

const QUANTILES = [0.5, 0.9, 0.99] as const;

function summary(attrs: Attributes, s: RedStats): MetricPoint {
  return {
    attributes: { ...attrs, side: s.side },
    count: s.count,
    sum: (s.meanMs * s.count) / 1000,
    quantiles: QUANTILES.map((q) => [q, (q === 0.5 ? s.p50Ms : q === 0.9 ? s.p90Ms : s.p99Ms) / 1000]),
  };
}

function red(prefix: string, what: string, rows: { attrs: Attributes; s: RedStats }[]): MetricData[] {
  return [
    { name: `${prefix}.requests`, description: `L7 requests per ${what} (the server's view when it was observed).`, unit: '{request}', type: 'sum', points: rows.map((r) => ({ attributes: r.attrs, value: r.s.count })) },
    { name: `${prefix}.request.errors`, description: `Failed L7 requests (5xx, protocol errors) per ${what}.`, unit: '{request}', type: 'sum', points: rows.map((r) => ({ attributes: r.attrs, value: r.s.errors })) },
    { name: `${prefix}.request.duration`, description: `L7 request latency per ${what}: count, sum and p50/p90/p99.`, unit: 's', type: 'summary', points: rows.map((r) => summary(r.attrs, r.s)) },
  ];
}

/** RED of everything the aggregator has seen (cumulative since it started). */
export function redMetrics(agg: RedAggregator): MetricData[] {
  return [
    ...red('faultlens.endpoint', 'endpoint', agg.endpointStats().map((e) => ({ attrs: { service: e.service, protocol: e.protocol, method: e.method, endpoint: e.endpoint }, s: e }))),
    ...red('faultlens.service', 'service', agg.serviceStats().map((e) => ({ attrs: { service: e.service }, s: e }))),
    ...red('faultlens.edge', 'edge (client service -> server service)', agg.edgeStats().map((e) => ({ attrs: { client: e.client, server: e.server, protocol: e.protocol }, s: e }))),
  ];
}

interface EdgeTcpEntry {
  attrs: { client: string; server: string; protocol: string };
  retransmits: number; // cumulative, during requests
  requestsWithRetrans: number;
  srttSumUs: number; // since the last snapshot
  srttN: number;
  lastSrttUs: number;
}

/** TCP health per edge from the per-request TCP snapshots: retransmits (cumulative) and mean srtt. */
export class EdgeTcpAggregator {
  private readonly edges = new Map<string, EdgeTcpEntry>();
  constructor(private readonly maxKeys = 20_000) {}

  add(r: RequestRecord): void {
    if (!r.tcp) return;
    const key = `${r.clientService}\0${r.serverService}\0${r.protocol}`;
    let e = this.edges.get(key);
    if (!e) {
      if (this.edges.size >= this.maxKeys) return;
      e = { attrs: { client: r.clientService, server: r.serverService, protocol: r.protocol }, retransmits: 0, requestsWithRetrans: 0, srttSumUs: 0, srttN: 0, lastSrttUs: 0 };
      this.edges.set(key, e);
    }
    e.retransmits += r.tcp.retransmits;
    if (r.tcp.retransmits > 0) e.requestsWithRetrans++;
    if (r.tcp.srttUs > 0) {
      e.srttSumUs += r.tcp.srttUs;
      e.srttN++;
      e.lastSrttUs = r.tcp.srttUs;
    }
  }

  /** The series now; the srtt mean restarts for the next snapshot (a level, not a counter). */
  snapshot(): MetricData[] {
    const all = [...this.edges.values()];
    const out: MetricData[] = [
      { name: 'faultlens.edge.tcp.retransmits', description: 'TCP segments retransmitted while requests on the edge were in flight.', unit: '{segment}', type: 'sum', points: all.map((e) => ({ attributes: e.attrs, value: e.retransmits })) },
      { name: 'faultlens.edge.tcp.retransmitting_requests', description: 'Requests during which their connection retransmitted.', unit: '{request}', type: 'sum', points: all.map((e) => ({ attributes: e.attrs, value: e.requestsWithRetrans })) },
      {
        name: 'faultlens.edge.tcp.srtt',
        description: 'Mean smoothed RTT of the edge connections at the end of requests since the last export (the last one when none).',
        unit: 's',
        type: 'gauge',
        points: all.filter((e) => e.lastSrttUs > 0).map((e) => ({ attributes: e.attrs, value: (e.srttN ? e.srttSumUs / e.srttN : e.lastSrttUs) / 1e6 })),
      },
    ];
    for (const e of all) {
      e.srttSumUs = 0;
      e.srttN = 0;
    }
    return out;
  }
}

/** Prometheus families of the metrics registry; counters become cumulative Sums, gauges Gauges. */
export function familyMetrics(families: MetricFamily[], skip: (name: string) => boolean = () => false): MetricData[] {
  return families
    .filter((f) => !skip(f.name) && f.samples.length)
    .map((f) => ({
      name: f.name,
      description: f.help,
      unit: /_seconds(_|$)/.test(f.name) ? 's' : /_bytes(_|$)/.test(f.name) ? 'By' : '',
      type: f.type === 'counter' ? ('sum' as const) : ('gauge' as const),
      points: f.samples.map((s) => ({ attributes: { ...(s.labels ?? {}) }, value: s.value })),
    }));
}
