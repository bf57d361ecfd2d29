// Synthetic but realistically shaped incidents on the demo shop's graph: every second, every endpoint and edge
// gets a Poisson-ish number of requests with lognormal latencies (and rare errors); a fault adds latency or
// errors to the entities it reaches (propagating up call chains). The requests go through RedWindows, the
// same 5 s windowing and latency estimator the agent and the bench use, so the detectors see what they see
// live. `noise` adds what a real machine does to a healthy system: single slow requests (GC pauses) and
// short machine-wide stalls that slow every request of one second.
import type { SeriesPoint } from '../../src/detect/anomaly/detector.js';
import { ServiceGraph } from '../../src/detect/alerts/graph.js';
import { RedWindows } from '../../src/rca/red-series.js';
import { normal, rng } from '../detect/anomaly/series-gen.js';

export const SHOP_EDGES: [string, string][] = [
  ['gateway', 'frontend'], ['frontend', 'catalog'], ['frontend', 'cart'], ['frontend', 'orders'],
  ['orders', 'cart'], ['orders', 'catalog'], ['orders', 'payment'], ['orders', 'postgres'],
  ['catalog', 'postgres'], ['cart', 'redis'],
];
export const shopGraph = () => new ServiceGraph(SHOP_EDGES, { 'fl-gw': ['gateway'], 'fl-web': ['frontend', 'cart'], 'fl-cat': ['catalog'], 'fl-ord': ['orders'], 'fl-pay': ['payment'], 'fl-db': ['postgres', 'redis'] });

/** Entities with their baseline latency (ms) and which fault deltas reach them. */
export interface Fault {
  latencyMs?: Record<string, number>; // entity -> added latency during the fault
  errors?: Record<string, number>; // entity -> error ratio during the fault
  extra?: (i: number, inFault: boolean) => SeriesPoint[]; // evidence series
}

export const BASE: Record<string, number> = {
  'endpoint:gateway|GET /api/products/:id': 12, 'edge:gateway>frontend': 11,
  'endpoint:frontend|GET /api/products/:id': 10, 'edge:frontend>catalog': 6, 'endpoint:catalog|GET /products/:id': 5,
  'endpoint:gateway|POST /api/orders': 40, 'endpoint:frontend|POST /api/orders': 38, 'edge:frontend>orders': 37,
  'endpoint:orders|POST /orders': 35, 'edge:orders>payment': 4, 'endpoint:payment|POST /charge': 3,
  'edge:orders>postgres': 3, 'endpoint:postgres|INSERT orders': 2, 'edge:orders>cart': 4, 'endpoint:cart|GET /cart/:user': 3,
  'edge:cart>redis': 1, 'endpoint:redis|GET': 0.3, 'edge:frontend>cart': 4, 'endpoint:frontend|GET /api/cart/:user': 6,
  'endpoint:catalog|GET /products': 7, 'edge:catalog>postgres': 2, 'endpoint:postgres|SELECT products': 1.5,
};

export interface Noise {
  gcEvery?: number; // one request in this many is 20x slower
  stallEvery?: number; // seconds between one-second machine-wide stalls (every request of that second +stallMs)
  stallMs?: number;
}

export function incidentSeries(fault: Fault, o: { seed: number; n?: number; from?: number; to?: number; rps?: number; noise?: Noise }): SeriesPoint[] {
  const n = o.n ?? 240;
  const from = o.from ?? 150;
  const to = o.to ?? 200;
  const rps = o.rps ?? 3; // the demo's endpoints see 1-3 requests a second
  const inFault = (i: number) => i >= from && i < to;
  const r = rng(o.seed);
  const red = new RedWindows(5);
  const sec0 = T0 / 1000 - 1; // points of second s carry t = (s + 1) * 1000: second 0 -> T0
  const stall = (i: number) => !!o.noise?.stallEvery && i % o.noise.stallEvery === o.noise.stallEvery - 1;
  for (let i = 0; i < n; i++) {
    for (const [entity, med] of Object.entries(BASE)) {
      const k = Math.max(0, Math.round(rps + Math.sqrt(rps) * normal(r)));
      const add = inFault(i) ? fault.latencyMs?.[entity] ?? 0 : 0;
      const er = inFault(i) ? fault.errors?.[entity] ?? 0.002 : 0.002;
      const durs: number[] = [];
      let errs = 0;
      for (let q = 0; q < k; q++) {
        let d = med * Math.exp(0.4 * normal(r)) + add * (0.8 + 0.4 * r());
        if (o.noise?.gcEvery && r() < 1 / o.noise.gcEvery) d *= 20;
        if (stall(i)) d += o.noise!.stallMs ?? 200;
        durs.push(d);
        if (r() < er) errs++;
      }
      red.add(sec0 + i, entity, { durs, errs });
    }
  }
  const out = red.emitUpTo(sec0 + n - 1);
  if (fault.extra) for (let i = 0; i < n; i++) out.push(...fault.extra(i, inFault(i)).map((p) => ({ ...p, t: T0 + i * 1000 })));
  return out.sort((a, b) => a.t - b.t);
}

export const T0 = 1_700_000_000_000;
