// Request records -> per-second golden-signal series per endpoint (server view) and per edge (client view),
// each second summarising a sliding window of `windowS` seconds (at demo rates an endpoint sees 1-3
// requests a second: too few for a p90). Pure; the store/CLI path and the bench recorder share the naming.
import type { RequestRecord } from '../model/request.js';
import type { SeriesPoint } from '../detect/anomaly/detector.js';
import { entityId } from '../detect/anomaly/entity.js';

/** Route labels as an operator groups them: ids in paths and keys collapse, long SQL is cut. */
export function normaliseEndpoint(label: string): string {
  const x = label.replace(/\{[^}]*\}/g, ':id').replace(/[^ /|:]*\d[^ /|]*/g, ':id');
  return x.length > 80 ? `${x.slice(0, 77)}...` : x;
}

export function endpointLabel(r: Pick<RequestRecord, 'method' | 'endpoint'>): string {
  return normaliseEndpoint(r.endpoint.startsWith(`${r.method} `) || !r.method ? r.endpoint : `${r.method} ${r.endpoint}`);
}

/** Entities a record counts for: its server's endpoint (server side) and the caller -> callee edge (client side). */
export function entitiesOf(r: RequestRecord, known?: (service: string) => boolean): string[] {
  const ok = known ?? (() => true);
  const out: string[] = [];
  if (r.side === 'server' && ok(r.serverService)) out.push(entityId({ kind: 'endpoint', service: r.serverService, endpoint: endpointLabel(r) }));
  if (r.side === 'client' && ok(r.clientService) && ok(r.serverService) && r.clientService !== r.serverService) out.push(entityId({ kind: 'edge', from: r.clientService, to: r.serverService }));
  return out;
}

function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)]!;
}

/**
 * `wallMs(r)`: when the record ended, epoch ms. Emits rate for every entity every second from its first
 * sighting (0 when idle: a callee that stops answering shows as a rate drop), latency/errors when the
 * window holds requests.
 */
export function seriesFromRequests(records: RequestRecord[], wallMs: (r: RequestRecord) => number, o: { windowS?: number; known?: (s: string) => boolean } = {}): { points: SeriesPoint[]; edges: [string, string][] } {
  const windowS = o.windowS ?? 5;
  const buckets = new Map<number, Map<string, { durs: number[]; errs: number }>>();
  const first = new Map<string, number>();
  const edges = new Set<string>();
  for (const r of records) {
    const sec = Math.floor(wallMs(r) / 1000);
    for (const k of entitiesOf(r, o.known)) {
      if (r.side === 'client') edges.add(`${r.clientService}\0${r.serverService}`);
      if (!first.has(k) || first.get(k)! > sec) first.set(k, sec);
      let b = buckets.get(sec);
      if (!b) buckets.set(sec, (b = new Map()));
      let e = b.get(k);
      if (!e) b.set(k, (e = { durs: [], errs: 0 }));
      e.durs.push(Number(r.durationNs) / 1e6);
      if (r.error) e.errs++;
    }
  }
  const points: SeriesPoint[] = [];
  if (!buckets.size) return { points, edges: [] };
  const secs = [...buckets.keys()];
  const lo = Math.min(...secs);
  const hi = Math.max(...secs);
  for (let s = lo; s <= hi; s++) {
    const t = (s + 1) * 1000;
    const span = Math.min(windowS, s - lo + 1);
    for (const [k, f] of first) {
      if (f > s) continue;
      const durs: number[] = [];
      let errs = 0;
      for (let w = s - span + 1; w <= s; w++) {
        const e = buckets.get(w)?.get(k);
        if (e) {
          durs.push(...e.durs);
          errs += e.errs;
        }
      }
      points.push({ t, entity: k, signal: 'rate', value: durs.length / span, count: durs.length });
      if (durs.length) {
        points.push({ t, entity: k, signal: 'latency', value: p90(durs), count: durs.length });
        points.push({ t, entity: k, signal: 'errors', value: errs / durs.length, count: durs.length });
      }
    }
  }
  return { points, edges: [...edges].map((e) => e.split('\0') as [string, string]) };
}
