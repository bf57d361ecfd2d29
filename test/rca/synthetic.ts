// Synthetic but realistically shaped incidents on the demo shop's graph: per-second RED series of every
// endpoint and edge (lognormal latencies, Poisson-ish counts), with a fault that propagates up call chains.
import type { SeriesPoint } from '../../src/detect/anomaly/detector.js';
import { ServiceGraph } from '../../src/detect/alerts/graph.js';
import { latencySeries, rng } from '../detect/anomaly/series-gen.js';

export const SHOP_EDGES: [string, string][] = [
  ['gateway', 'frontend'], ['frontend', 'catalog'], ['frontend', 'cart'], ['frontend', 'orders'],
  ['orders', 'cart'], ['orders', 'catalog'], ['orders', 'payment'], ['orders', 'postgres'],
  ['catalog', 'postgres'], ['cart', 'redis'],
];
export const shopGraph = () => new ServiceGraph(SHOP_EDGES, { 'fl-web': ['frontend', 'cart'], 'fl-db': ['postgres', 'redis'] });

/** Entities with their baseline latency (ms) and which fault deltas reach them. */
export interface Fault {
  latencyMs?: Record<string, number>; // entity -> added latency during the fault
  errors?: Record<string, number>; // entity -> error ratio during the fault
  extra?: (i: number, inFault: boolean) => SeriesPoint[]; // evidence series
}

const BASE: Record<string, number> = {
  'endpoint:gateway|GET /api/products/:id': 12, 'edge:gateway>frontend': 11,
  'endpoint:frontend|GET /api/products/:id': 10, 'edge:frontend>catalog': 6, 'endpoint:catalog|GET /products/:id': 5,
  'endpoint:gateway|POST /api/orders': 40, 'endpoint:frontend|POST /api/orders': 38, 'edge:frontend>orders': 37,
  'endpoint:orders|POST /orders': 35, 'edge:orders>payment': 4, 'endpoint:payment|POST /charge': 3,
  'edge:orders>postgres': 3, 'endpoint:postgres|INSERT orders': 2, 'edge:orders>cart': 4, 'endpoint:cart|GET /cart/:user': 3,
  'edge:cart>redis': 1, 'endpoint:redis|GET': 0.3, 'edge:frontend>cart': 4, 'endpoint:frontend|GET /api/cart/:user': 6,
  'endpoint:catalog|GET /products': 7, 'edge:catalog>postgres': 2, 'endpoint:postgres|SELECT products': 1.5,
};

export function incidentSeries(fault: Fault, o: { seed: number; n?: number; from?: number; to?: number }): SeriesPoint[] {
  const n = o.n ?? 240;
  const from = o.from ?? 150;
  const to = o.to ?? 200;
  const inFault = (i: number) => i >= from && i < to;
  const out: SeriesPoint[] = [];
  let seed = o.seed * 1000;
  const r = rng(o.seed);
  for (const [entity, med] of Object.entries(BASE)) {
    const add = fault.latencyMs?.[entity] ?? 0;
    out.push(...latencySeries({ entity, n, rps: 15, medMs: med, sigma: 0.4, seed: ++seed, extraMs: (i) => (inFault(i) ? add * (0.8 + 0.4 * r()) : 0) }));
    const er = fault.errors?.[entity] ?? 0;
    for (let i = 0; i < n; i++) {
      const c = 15;
      let e = 0;
      for (let k = 0; k < c; k++) if (r() < (inFault(i) ? er : 0.002)) e++;
      out.push({ t: 1_700_000_000_000 + i * 1000, entity, signal: 'errors', value: e / c, count: c });
    }
  }
  if (fault.extra) for (let i = 0; i < n; i++) out.push(...fault.extra(i, inFault(i)).map((p) => ({ ...p, t: 1_700_000_000_000 + i * 1000 })));
  return out;
}

export const T0 = 1_700_000_000_000;
