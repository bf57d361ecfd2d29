// Streaming detector for one series (entity x signal), one sample per interval (1 s by default).
//
// Why this combination:
// - robust z-score on a rolling median/MAD baseline (robust.ts): catches steps within 2 samples, immune to
//   single outliers, no seasonality model needed for the minutes-long horizons an incident lives in; the
//   baseline only learns from normal samples, after a seasonality-free warm-up of `warmup` samples.
// - one-sided CUSUM on the same residuals (cusum.ts): catches sustained small shifts the z rule misses and
//   gives a change-point (onset) estimate, which root-cause ranking needs (who changed first).
// - linear trend + extrapolation to a limit (trend.ts): the early warning (time until the limit is hit).
// - minimum evidence (signals.ts): samples with fewer than minCount requests are not judged, deviations
//   below absolute/relative floors never alarm, 'down' signals with a tiny baseline never alarm.
import { Cusum } from './cusum.js';
import { RobustBaseline } from './robust.js';
import { POLICIES, type Signal, type SignalPolicy } from './signals.js';
import { predictCrossing, type TrendWarning } from './trend.js';

export interface SeriesPoint {
  t: number; // epoch ms, end of the interval the value summarises
  entity: string; // entityId()
  signal: Signal;
  value: number;
  count?: number; // requests behind the figure (latency, errors)
  limit?: number; // known hard limit (accept queue: 1.0 of max backlog; disk SLO ...), for early warning
}

export interface DetectorOptions {
  warmup: number; // samples before any judgement
  baselineSize: number;
  zThreshold: number; // robust z for a hit
  hitsOf: [number, number]; // [h, m]: alarm when h of the last m judged samples are hits
  softZ: number; // onset backtracking and "back to normal" level
  clearSamples: number; // consecutive normal samples that end an anomaly
  trendWindow: number;
  trendHorizonMs: number;
  maxActiveSamples: number; // an anomaly this long is the new normal: re-learn
  windowS: number; // samples a windowed (RED) figure spans: CUSUM takes one of every windowS of those
  policy?: Partial<SignalPolicy>;
}

export const DEFAULT_DETECTOR: DetectorOptions = {
  warmup: 20, baselineSize: 120, zThreshold: 4, hitsOf: [2, 3], softZ: 2, clearSamples: 5,
  trendWindow: 10, trendHorizonMs: 180_000, maxActiveSamples: 600, windowS: 5,
};

export interface AnomalyState {
  entity: string;
  signal: Signal;
  onsetT: number; // change-point estimate
  detectT: number; // when the rule fired
  lastT: number; // newest anomalous sample
  endT?: number; // set once it ended
  baseline: number; // median before onset
  scale: number;
  value: number; // newest value
  peakValue: number;
  peakZ: number;
  by: 'z' | 'cusum';
}

export type DetectorEvent =
  | { type: 'anomaly-start'; state: AnomalyState }
  | { type: 'anomaly-end'; state: AnomalyState }
  | { type: 'trend'; entity: string; signal: Signal; t: number; value: number; warning: TrendWarning };

export class SeriesDetector {
  readonly policy: SignalPolicy;
  private readonly baseline: RobustBaseline;
  private readonly cusum = new Cusum();
  private readonly hits: boolean[] = [];
  private softStart: number | undefined;
  private normalRun = 0;
  private activeSamples = 0;
  private readonly recent: { t: number; v: number }[] = [];
  active: AnomalyState | undefined;
  judged = 0;

  constructor(readonly entity: string, readonly signal: Signal, private readonly o: DetectorOptions = DEFAULT_DETECTOR) {
    this.policy = { ...POLICIES[signal], ...o.policy };
    this.baseline = new RobustBaseline(o.baselineSize);
  }

  /** Robust z of a value against the current baseline (positive = the bad direction), floors applied. */
  zOf(v: number): { z: number; median: number; scale: number } {
    const p = this.policy;
    const median = this.baseline.median();
    if (p.direction === 'down' && median < p.minBaseline) return { z: 0, median, scale: 1 };
    const floor = Math.max(p.absFloor, p.relFloor * Math.abs(median));
    const scale = Math.max(this.baseline.scale(), floor / this.o.zThreshold);
    const dev = p.direction === 'up' ? v - median : median - v;
    return { z: dev / scale, median, scale };
  }

  push(pt: SeriesPoint): DetectorEvent[] {
    const out: DetectorEvent[] = [];
    const v = pt.value;
    if (!Number.isFinite(v)) return out;
    if (this.policy.minCount > 0 && (pt.count ?? Infinity) < this.policy.minCount) return out; // not enough evidence to judge
    this.recent.push({ t: pt.t, v });
    if (this.recent.length > this.o.trendWindow) this.recent.shift();
    const limit = pt.limit ?? this.policy.limit;
    if (limit !== undefined && this.recent.length >= this.o.trendWindow) {
      const w = predictCrossing(this.recent, limit, this.policy.direction, this.o.trendHorizonMs);
      const rise = w ? Math.abs(w.slopePerSec) * ((pt.t - this.recent[0]!.t) / 1000) : 0;
      if (w && rise >= this.policy.absFloor * 0.5) out.push({ type: 'trend', entity: this.entity, signal: this.signal, t: pt.t, value: v, warning: w });
    }
    if (this.baseline.length < (this.policy.warmup ?? this.o.warmup)) {
      this.baseline.push(v);
      return out;
    }
    this.judged++;
    const { z, median, scale } = this.zOf(v);
    const enoughEvents = this.policy.minEvents === undefined || pt.count === undefined || v * pt.count >= this.policy.minEvents - 1e-9;
    const hit = z >= this.o.zThreshold && enoughEvents;
    this.hits.push(hit);
    if (this.hits.length > this.o.hitsOf[1]) this.hits.shift();
    if (z >= this.o.softZ) this.softStart ??= pt.t;
    else this.softStart = undefined;
    // CUSUM assumes independent samples; consecutive windowed samples share (windowS-1)/windowS of their
    // requests, so one burst would be counted windowS times. It takes one sample per window length.
    const cusumTurn = !this.policy.windowed || this.judged % this.o.windowS === 0;
    const cusumOnset = cusumTurn ? this.cusum.push(enoughEvents ? z : Math.min(z, 0), pt.t) : undefined;

    if (this.active) {
      const a = this.active;
      this.activeSamples++;
      a.value = v;
      if (z >= this.o.softZ) {
        a.lastT = pt.t;
        this.normalRun = 0;
        if (z > a.peakZ) {
          a.peakZ = z;
          a.peakValue = v;
        }
      } else this.normalRun++;
      if (this.normalRun >= this.o.clearSamples || this.activeSamples >= this.o.maxActiveSamples) {
        a.endT = a.lastT;
        out.push({ type: 'anomaly-end', state: { ...a } });
        this.active = undefined;
        this.cusum.reset();
        this.hits.length = 0;
        if (this.activeSamples >= this.o.maxActiveSamples) for (const r of this.recent) this.baseline.push(r.v); // the new normal
      }
      return out;
    }

    const nHits = this.hits.filter(Boolean).length;
    const byZ = nHits >= this.o.hitsOf[0];
    if (byZ || cusumOnset !== undefined) {
      const onsetT = Math.min(this.softStart ?? pt.t, cusumOnset ?? pt.t);
      this.active = {
        entity: this.entity, signal: this.signal, onsetT, detectT: pt.t, lastT: pt.t, baseline: median, scale,
        value: v, peakValue: v, peakZ: z, by: byZ ? 'z' : 'cusum',
      };
      this.activeSamples = 0;
      this.normalRun = 0;
      out.push({ type: 'anomaly-start', state: { ...this.active } });
    } else if (!hit && z < this.o.softZ) {
      this.baseline.push(v); // only clearly normal samples teach the baseline
    }
    return out;
  }
}

/** All series of a system: one detector per (entity, signal), created on first sight. */
export class DetectorBank {
  readonly detectors = new Map<string, SeriesDetector>();
  constructor(private readonly o: DetectorOptions = DEFAULT_DETECTOR, private readonly perSignal: Partial<Record<Signal, Partial<SignalPolicy>>> = {}) {}

  push(points: Iterable<SeriesPoint>): DetectorEvent[] {
    const out: DetectorEvent[] = [];
    for (const p of points) {
      const key = `${p.entity}\u0000${p.signal}`;
      let d = this.detectors.get(key);
      if (!d) {
        d = new SeriesDetector(p.entity, p.signal, { ...this.o, policy: this.perSignal[p.signal] ?? {} });
        this.detectors.set(key, d);
      }
      out.push(...d.push(p));
    }
    return out;
  }

  active(): AnomalyState[] {
    return [...this.detectors.values()].flatMap((d) => (d.active ? [{ ...d.active }] : []));
  }
}
