// One-sided CUSUM (Page 1954) over standardised residuals: accumulates evidence of a sustained shift that
// is too small for the z-score rule to catch in one sample (e.g. +3 sigma for 5 samples). Residuals are
// clipped so a single huge outlier cannot trigger it alone; `onset` is the last time the sum was zero,
// i.e. the change point estimate.
export class Cusum {
  private sum = 0;
  private startT: number | undefined;
  constructor(private readonly k = 1, private readonly h = 12, private readonly clip = 5) {}

  /** Feeds one standardised residual (positive = the bad direction). Returns the onset time on alarm. */
  push(z: number, t: number): number | undefined {
    const next = Math.max(0, this.sum + Math.min(z, this.clip) - this.k);
    if (this.sum === 0 && next > 0) this.startT = t;
    this.sum = next;
    if (next === 0) this.startT = undefined;
    return this.sum > this.h ? this.startT : undefined;
  }

  get value(): number {
    return this.sum;
  }

  reset(): void {
    this.sum = 0;
    this.startT = undefined;
  }
}
