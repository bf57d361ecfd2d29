// Series shaped like the demo's per-second RED figures: p90 of ~rps lognormal request latencies, seeded.
import type { SeriesPoint } from '../../../src/detect/anomaly/detector.js';
import type { Signal } from '../../../src/detect/anomaly/signals.js';

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

export function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Per-second p90 of `rps` requests with lognormal latency (median medMs, sigma), plus `extraMs(i)`. */
export function latencySeries(o: { entity: string; n: number; rps: number; medMs: number; sigma?: number; seed: number; t0?: number; extraMs?: (i: number) => number; signal?: Signal }): SeriesPoint[] {
  const r = rng(o.seed);
  const out: SeriesPoint[] = [];
  for (let i = 0; i < o.n; i++) {
    const k = Math.max(0, Math.round(o.rps + Math.sqrt(o.rps) * normal(r)));
    const xs = Array.from({ length: k }, () => o.medMs * Math.exp((o.sigma ?? 0.5) * normal(r)) + (o.extraMs?.(i) ?? 0)).sort((a, b) => a - b);
    const p90 = xs.length ? xs[Math.min(xs.length - 1, Math.ceil(0.9 * xs.length) - 1)]! : NaN;
    out.push({ t: (o.t0 ?? 1_700_000_000_000) + i * 1000, entity: o.entity, signal: o.signal ?? 'latency', value: p90, count: k });
  }
  return out;
}
