// RED metrics (rate, errors, duration) per endpoint and per edge (client service -> server service) from
// request records. Latency goes into log-linear histograms (HDR-ish: 8 sub-buckets per power of two of
// microseconds, so a quantile is off by at most ~6 %), mergeable and fixed in size.
//
// A call between two observed processes yields two records (caller's and callee's view): each key keeps
// both sides apart and reports the callee's (server) view when it has one — it is the service's own
// latency — else the caller's (peers we never see as processes: external services, databases elsewhere).
import type { RequestRecord } from '../model/request.js';

const SUB_BITS = 3;
const SUB = 1 << SUB_BITS;
const BUCKETS = (40 - SUB_BITS + 1) * SUB; // up to 2^40 µs (~12 days)

export class LatencyHistogram {
  readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  sumUs = 0;
  minUs = Infinity;
  maxUs = 0;

  static bucketOf(us: number): number {
    const v = Math.max(0, Math.floor(us));
    if (v < SUB) return v;
    let e = Math.floor(Math.log2(v));
    if (2 ** e > v) e--; // guard the float log at exact powers of two
    else if (2 ** (e + 1) <= v) e++;
    const sub = Math.floor(v / 2 ** (e - SUB_BITS)) - SUB; // 0..SUB-1
    return Math.min(BUCKETS - 1, (e - SUB_BITS + 1) * SUB + sub);
  }

  /** Lower bound (µs) of a bucket. */
  static lowerOf(b: number): number {
    if (b < SUB) return b;
    const e = Math.floor(b / SUB) + SUB_BITS - 1;
    return 2 ** e + (b % SUB) * 2 ** (e - SUB_BITS);
  }

  add(us: number): void {
    this.counts[LatencyHistogram.bucketOf(us)]!++;
    this.count++;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  merge(o: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += o.counts[i]!;
    this.count += o.count;
    this.sumUs += o.sumUs;
    this.minUs = Math.min(this.minUs, o.minUs);
    this.maxUs = Math.max(this.maxUs, o.maxUs);
  }

  /** q in [0, 1]; the middle of the bucket holding the q-th value, clamped to the observed min/max. */
  quantileUs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) {
        const lo = LatencyHistogram.lowerOf(b);
        const hi = b + 1 < BUCKETS ? LatencyHistogram.lowerOf(b + 1) : lo * 2;
        const mid = b < SUB ? lo + 0.5 : (lo + hi) / 2;
        return Math.min(this.maxUs, Math.max(this.minUs, mid));
      }
    }
    return this.maxUs;
  }
}

export interface RedStats {
  count: number;
  errors: number;
  ratePerSec: number;
  errorRate: number; // errors / count
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  side: 'server' | 'client'; // whose view the figures are
}

export interface EndpointRed extends RedStats {
  service: string;
  protocol: string;
  method: string;
  endpoint: string;
  statuses: Record<string, number>;
}

export interface EdgeRed extends RedStats {
  client: string;
  server: string;
  protocol: string;
}

class Side {
  readonly hist = new LatencyHistogram();
  errors = 0;
  firstNs = 0n;
  lastNs = 0n;
  readonly statuses = new Map<string, number>();
  add(r: RequestRecord): void {
    this.hist.add(Number(r.durationNs) / 1000);
    if (r.error) this.errors++;
    if (this.firstNs === 0n || r.startNs < this.firstNs) this.firstNs = r.startNs;
    if (r.endNs > this.lastNs) this.lastNs = r.endNs;
    const st = r.httpStatus ? String(r.httpStatus) : r.status || 'none';
    this.statuses.set(st, (this.statuses.get(st) ?? 0) + 1);
  }
}

class Entry {
  readonly server = new Side();
  readonly client = new Side();
  constructor(readonly labels: Record<string, string>) {}
  add(r: RequestRecord): void {
    (r.side === 'server' ? this.server : this.client).add(r);
  }
  best(): { side: Side; name: 'server' | 'client' } {
    return this.server.hist.count > 0 ? { side: this.server, name: 'server' } : { side: this.client, name: 'client' };
  }
}

function stats(e: Entry, windowSec?: number): RedStats {
  const { side, name } = e.best();
  const h = side.hist;
  const span = windowSec ?? Math.max(1, Number(side.lastNs - side.firstNs) / 1e9);
  return {
    count: h.count,
    errors: side.errors,
    ratePerSec: h.count / span,
    errorRate: h.count ? side.errors / h.count : 0,
    p50Ms: h.quantileUs(0.5) / 1000,
    p90Ms: h.quantileUs(0.9) / 1000,
    p99Ms: h.quantileUs(0.99) / 1000,
    meanMs: h.count ? h.sumUs / h.count / 1000 : 0,
    maxMs: h.maxUs / 1000,
    side: name,
  };
}

export class RedAggregator {
  private readonly endpoints = new Map<string, Entry>();
  private readonly edges = new Map<string, Entry>();
  /** Services seen owning a socket (the rest of the names are external peers). */
  readonly observed = new Set<string>();
  total = 0;

  constructor(private readonly maxKeys = 20_000) {}

  add(r: RequestRecord): void {
    this.total++;
    this.observed.add(r.side === 'server' ? r.serverService : r.clientService);
    const ek = `${r.serverService}\0${r.protocol}\0${r.method}\0${r.endpoint}`;
    let e = this.endpoints.get(ek);
    if (!e) {
      if (this.endpoints.size >= this.maxKeys) return; // the route normaliser caps routes; this caps the rest
      e = new Entry({ service: r.serverService, protocol: r.protocol, method: r.method, endpoint: r.endpoint });
      this.endpoints.set(ek, e);
    }
    e.add(r);
    const gk = `${r.clientService}\0${r.serverService}\0${r.protocol}`;
    let g = this.edges.get(gk);
    if (!g) {
      g = new Entry({ client: r.clientService, server: r.serverService, protocol: r.protocol });
      this.edges.set(gk, g);
    }
    g.add(r);
  }

  /** Per endpoint, busiest first. `windowSec`: the rate's denominator (default: the span of the data). */
  endpointStats(windowSec?: number): EndpointRed[] {
    const out: EndpointRed[] = [];
    for (const e of this.endpoints.values()) {
      const l = e.labels;
      out.push({ service: l.service!, protocol: l.protocol!, method: l.method!, endpoint: l.endpoint!, ...stats(e, windowSec), statuses: Object.fromEntries(e.best().side.statuses) });
    }
    return out.sort((a, b) => b.count - a.count);
  }

  edgeStats(windowSec?: number): EdgeRed[] {
    const out: EdgeRed[] = [];
    for (const e of this.edges.values()) out.push({ client: e.labels.client!, server: e.labels.server!, protocol: e.labels.protocol!, ...stats(e, windowSec) });
    return out.sort((a, b) => b.count - a.count);
  }

  /** Per service (as a server): all its endpoints merged. */
  serviceStats(windowSec?: number): (RedStats & { service: string; endpoints: number })[] {
    const merged = new Map<string, { entry: Entry; endpoints: number }>();
    for (const e of this.endpoints.values()) {
      const s = e.labels.service!;
      let m = merged.get(s);
      if (!m) {
        m = { entry: new Entry({ service: s }), endpoints: 0 };
        merged.set(s, m);
      }
      m.endpoints++;
      for (const k of ['server', 'client'] as const) {
        const from = e[k];
        const to = m.entry[k];
        to.hist.merge(from.hist);
        to.errors += from.errors;
        if (from.firstNs && (!to.firstNs || from.firstNs < to.firstNs)) to.firstNs = from.firstNs;
        if (from.lastNs > to.lastNs) to.lastNs = from.lastNs;
      }
    }
    return [...merged].map(([service, m]) => ({ service, endpoints: m.endpoints, ...stats(m.entry, windowSec) })).sort((a, b) => b.count - a.count);
  }
}
