// Rolling robust baseline: median and MAD of the last N samples that were judged normal. Median/MAD
// rather than mean/stddev because request latency is heavy-tailed and one 2-second outlier must neither
// alarm nor inflate the scale for the next minute; only normal samples enter, so a long fault does not
// become the new normal (the detector re-learns after the anomaly ends).
export class RobustBaseline {
  private readonly values: number[] = []; // arrival order (to evict the oldest)
  private readonly sorted: number[] = []; // same values, ascending: median in O(1), insert/evict in O(n)
  private madCache: number | undefined;
  private pushesSinceMad = 0;
  constructor(private readonly size = 120, private readonly madEvery = 10) {}

  get length(): number {
    return this.values.length;
  }

  push(v: number): void {
    this.values.push(v);
    this.sorted.splice(lowerBound(this.sorted, v), 0, v);
    if (this.values.length > this.size) {
      const old = this.values.shift()!;
      this.sorted.splice(lowerBound(this.sorted, old), 1);
    }
    // MAD moves slowly once the window is full: recompute it every few pushes (cheap for thousands of series)
    if (++this.pushesSinceMad >= this.madEvery || this.values.length < this.size) this.madCache = undefined;
  }

  median(): number {
    const s = this.sorted;
    if (s.length === 0) return NaN;
    const h = s.length >> 1;
    return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
  }

  /** Median absolute deviation scaled to a standard deviation under normality (x 1.4826). */
  scale(): number {
    if (this.madCache === undefined) {
      const m = this.median();
      this.madCache = 1.4826 * median(this.sorted.map((v) => Math.abs(v - m)));
      this.pushesSinceMad = 0;
    }
    return this.madCache;
  }
}

function lowerBound(xs: number[], v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

