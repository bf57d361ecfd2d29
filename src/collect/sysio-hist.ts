// The latency histograms of bpf/sysio.h: log2 buckets split in 4 linear sub-buckets. Pure helpers to map
// slots to value ranges, merge and subtract histograms (interval views) and read percentiles.

export const HIST_SLOTS = 160;

/** The slot bpf/sysio.bpf.c puts a value (ns) in. */
export function histSlot(ns: number): number {
  if (ns < 4) return Math.max(0, Math.floor(ns));
  const l = Math.floor(Math.log2(ns));
  const slot = 4 * (l - 1) + (Math.floor(ns / 2 ** (l - 2)) & 3);
  return Math.min(slot, HIST_SLOTS - 1);
}

/** [low, high) of a slot in ns. */
export function slotRange(slot: number): [number, number] {
  if (slot < 4) return [slot, slot + 1];
  const l = Math.floor(slot / 4) + 1;
  const width = 2 ** (l - 2);
  const low = (4 + (slot % 4)) * width;
  return [low, low + width];
}

export type Hist = number[];

export function emptyHist(): Hist {
  return new Array<number>(HIST_SLOTS).fill(0);
}

export function histCount(h: Hist): number {
  let n = 0;
  for (const c of h) n += c;
  return n;
}

export function addHist(into: Hist, h: Hist): Hist {
  for (let i = 0; i < h.length; i++) into[i] = (into[i] ?? 0) + (h[i] ?? 0);
  return into;
}

/** cur - prev, per slot (an interval's samples); a slot that went down (entry re-created) counts cur. */
export function diffHist(cur: Hist, prev: Hist | undefined): Hist {
  if (!prev) return [...cur];
  return cur.map((c, i) => (c >= (prev[i] ?? 0) ? c - (prev[i] ?? 0) : c));
}

/** The q-quantile (0..1) in ns, interpolated linearly inside its slot; undefined for an empty histogram. */
export function percentile(h: Hist, q: number): number | undefined {
  const total = histCount(h);
  if (total === 0) return undefined;
  const rank = Math.min(total, Math.max(1, Math.ceil(q * total)));
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    const c = h[i] ?? 0;
    if (c === 0) continue;
    if (seen + c >= rank) {
      const [lo, hi] = slotRange(i);
      return lo + ((rank - seen - 0.5) / c) * (hi - lo);
    }
    seen += c;
  }
  return undefined;
}

/** Reads a u64 histogram array from a map value. */
export function readHist(buf: Buffer, offset: number, slots = HIST_SLOTS): Hist {
  const h = new Array<number>(slots);
  for (let i = 0; i < slots; i++) h[i] = Number(buf.readBigUInt64LE(offset + 8 * i));
  return h;
}
