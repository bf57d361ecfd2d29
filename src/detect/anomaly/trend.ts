// Early-warning trend: ordinary least squares over the last W samples, accepted only when the fit is
// good (R^2) and the slope points at the limit, then extrapolated linearly to the limit. A linear fit over
// a short window rather than Holt/EWMA because the inputs that matter (an accept queue filling, retransmits
// climbing, IO latency creeping) ramp roughly linearly over tens of seconds and the fit quality gives a
// natural "is this really a trend" test; EWMA smoothing of the window's values is not needed on top.
export interface TrendFit {
  slopePerSec: number;
  fittedNow: number; // the line's value at the newest sample
  r2: number;
}

export function fitLine(points: readonly { t: number; v: number }[]): TrendFit | undefined {
  const n = points.length;
  if (n < 3) return undefined;
  const t0 = points[0]!.t;
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const p of points) {
    const x = (p.t - t0) / 1000;
    sx += x; sy += p.v; sxx += x * x; sxy += x * p.v;
  }
  const den = n * sxx - sx * sx;
  if (den === 0) return undefined;
  const slope = (n * sxy - sx * sy) / den;
  const icpt = (sy - slope * sx) / n;
  const mean = sy / n;
  let ssTot = 0, ssRes = 0;
  for (const p of points) {
    const x = (p.t - t0) / 1000;
    ssTot += (p.v - mean) ** 2;
    ssRes += (p.v - (icpt + slope * x)) ** 2;
  }
  const r2 = ssTot === 0 ? 0 : 1 - ssRes / ssTot;
  return { slopePerSec: slope, fittedNow: icpt + slope * ((points[n - 1]!.t - t0) / 1000), r2 };
}

export interface TrendWarning {
  predictedCrossT: number; // epoch ms when the line reaches the limit
  slopePerSec: number;
  fittedNow: number;
  limit: number;
  r2: number;
}

/** A warning when the recent samples climb (or fall, direction 'down') towards `limit` and reach it within `horizonMs`. */
export function predictCrossing(points: readonly { t: number; v: number }[], limit: number, direction: 'up' | 'down', horizonMs: number, minR2 = 0.7): TrendWarning | undefined {
  // A ramp usually starts inside the window (flat, then climbing): fit the longest recent suffix that is a
  // clean line (R^2 >= 0.9) so the knee's flat part does not halve the slope; else the whole window.
  let fit: TrendFit | undefined;
  for (let n = points.length; n >= 4 && !fit; n--) {
    const f = fitLine(points.slice(points.length - n));
    if (f && f.r2 >= 0.9) fit = f;
  }
  fit ??= fitLine(points);
  if (!fit || fit.r2 < minR2) return undefined;
  const toward = direction === 'up' ? fit.slopePerSec > 0 && fit.fittedNow < limit : fit.slopePerSec < 0 && fit.fittedNow > limit;
  if (!toward) return undefined;
  const secs = (limit - fit.fittedNow) / fit.slopePerSec;
  const now = points[points.length - 1]!.t;
  if (!(secs > 0) || secs * 1000 > horizonMs) return undefined;
  return { predictedCrossT: now + secs * 1000, slopePerSec: fit.slopePerSec, fittedNow: fit.fittedNow, limit, r2: fit.r2 };
}
