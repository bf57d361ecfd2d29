// Business metrics from business events, as the probe specs declare them: count / sum / histogram per
// label set (labels are other captured values, or comm / pid). Pure: events in, series out.
import type { BusinessEvent, BusinessValue } from './business-decoder.js';
import type { BusinessProbeSpec } from './business-spec.js';
import { emptyHist, histSlot, percentile, type Hist } from './sysio-hist.js';

export interface MetricSeries {
  probe: string;
  metric: string;
  kind: 'count' | 'sum' | 'histogram';
  labels: Record<string, string>;
  count: number;
  sum: number; // sum of the value (count: number of calls); estimates (x sample) for sampled probes
  min?: number;
  max?: number;
  p50?: number;
  p90?: number;
  p99?: number;
}

interface Acc { labels: Record<string, string>; count: number; sum: number; min: number; max: number; hist?: Hist }

function num(v: BusinessValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v); // 64-bit beyond 2^53: approximate
  return undefined;
}

function labelValue(e: BusinessEvent, name: string): string {
  if (name === 'comm') return e.comm;
  if (name === 'pid') return String(e.pid);
  const v = e.values[name];
  return v === null || v === undefined ? '' : String(v);
}

export class BusinessMetrics {
  private readonly acc = new Map<string, Acc>(); // probe \0 metric \0 label values
  private readonly byProbe = new Map<string, BusinessProbeSpec>();
  /** Events whose metric value was missing or not numeric (e.g. an unreadable pointer). */
  skipped = 0;

  constructor(probes: readonly BusinessProbeSpec[]) {
    for (const p of probes) this.byProbe.set(p.name, p);
  }

  add(events: readonly BusinessEvent[]): void {
    for (const e of events) {
      const p = this.byProbe.get(e.probe);
      if (!p) continue;
      for (const m of p.metrics) {
        let value = 1;
        if (m.kind !== 'count') {
          const v = m.value === 'duration' ? (e.durNs === undefined ? undefined : Number(e.durNs)) : num(e.values[m.value!]);
          if (v === undefined || Number.isNaN(v)) { this.skipped++; continue; }
          value = v;
        }
        const lv = m.labels.map((l) => labelValue(e, l));
        const key = [p.name, m.name, ...lv].join('\0');
        let a = this.acc.get(key);
        if (!a) {
          a = { labels: Object.fromEntries(m.labels.map((l, i) => [l, lv[i]!])), count: 0, sum: 0, min: Infinity, max: -Infinity };
          if (m.kind === 'histogram') a.hist = emptyHist();
          this.acc.set(key, a);
        }
        const w = p.sample; // a sampled probe's event stands for `sample` calls
        a.count += w;
        a.sum += value * w;
        if (value < a.min) a.min = value;
        if (value > a.max) a.max = value;
        if (a.hist) a.hist[histSlot(Math.max(0, value))]! += w;
      }
    }
  }

  snapshot(): MetricSeries[] {
    const out: MetricSeries[] = [];
    for (const [key, a] of this.acc) {
      const [probe, metric] = key.split('\0') as [string, string];
      const kind = this.byProbe.get(probe)!.metrics.find((m) => m.name === metric)!.kind;
      const s: MetricSeries = { probe, metric, kind, labels: a.labels, count: a.count, sum: kind === 'count' ? a.count : a.sum };
      if (kind !== 'count') { s.min = a.min; s.max = a.max; }
      if (a.hist) { s.p50 = percentile(a.hist, 0.5); s.p90 = percentile(a.hist, 0.9); s.p99 = percentile(a.hist, 0.99); }
      out.push(s);
    }
    return out.sort((x, y) => x.probe.localeCompare(y.probe) || x.metric.localeCompare(y.metric) || y.count - x.count);
  }

  reset(): void {
    this.acc.clear();
    this.skipped = 0;
  }
}
