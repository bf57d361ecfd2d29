// Published baseline for comparison: BARO-style ranking (Pham et al., FSE 2024, "BARO: Robust Root Cause
// Analysis for Microservices"): scale every metric with a RobustScaler fitted on the anomaly-free period
// (median, inter-quartile range) and rank by the largest absolute scaled value after the anomaly was
// detected. Here restricted to the latency series of every entity, i.e. "rank by largest robust z-score
// of latency", computed on the same points as our ranking.
import type { SeriesPoint } from '../detect/anomaly/detector.js';
import { describeEntity, parseEntity } from '../detect/anomaly/entity.js';
import { median, quantile } from '../detect/anomaly/robust.js';

export interface BaselineRank {
  entity: string;
  label: string;
  score: number;
}

export function baroRank(points: readonly SeriesPoint[], anomalyT: number, o: { signals?: string[]; afterMs?: number; beforeMs?: number } = {}): BaselineRank[] {
  const signals = new Set(o.signals ?? ['latency']);
  const after = o.afterMs ?? 60_000;
  const before = o.beforeMs ?? 300_000;
  const series = new Map<string, { pre: number[]; post: number[] }>();
  for (const p of points) {
    if (!signals.has(p.signal) || !Number.isFinite(p.value)) continue;
    const key = p.entity;
    let s = series.get(key);
    if (!s) series.set(key, (s = { pre: [], post: [] }));
    if (p.t < anomalyT && p.t >= anomalyT - before) s.pre.push(p.value);
    else if (p.t >= anomalyT && p.t <= anomalyT + after) s.post.push(p.value);
  }
  const out: BaselineRank[] = [];
  for (const [entity, s] of series) {
    if (s.pre.length < 3 || s.post.length === 0) continue;
    const med = median(s.pre);
    const iqr = quantile(s.pre, 0.75) - quantile(s.pre, 0.25);
    const scale = iqr > 0 ? iqr : Math.max(1e-6, Math.abs(med) * 1e-3); // sklearn RobustScaler leaves scale 1 for iqr 0; BARO's data never has it
    const score = Math.max(...s.post.map((v) => Math.abs(v - med) / scale));
    out.push({ entity, label: describeEntity(parseEntity(entity)), score });
  }
  return out.sort((a, b) => b.score - a.score);
}
