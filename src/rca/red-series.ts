// Request records -> per-second golden-signal series per endpoint (server view) and per edge (client view),
// each second summarising a sliding window of `windowS` seconds (at demo rates an endpoint sees 1-3
// requests a second: too few for a p90). Pure; the live agent, the store/CLI path and the bench replay all
// go through RedWindows, so they judge exactly the same figures.
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

/**
 * Whether a request counts as an error of its server: a failure (5xx, a protocol-level error, a reset), not a
 * refusal of the request (HTTP 4xx: declined, not found, bad input). Why: a payment service declines a few %
 * of charges in bursts; those are business outcomes, not faults, and would look like error spikes on a
 * low-rate endpoint. The load generator's ground truth and availability SLIs count errors the same way.
 */
export function isFailure(r: Pick<RequestRecord, 'error' | 'httpStatus'>): boolean {
  return r.error && !(r.httpStatus !== undefined && r.httpStatus >= 400 && r.httpStatus < 500);
}

/**
 * The latency figure of a window — no single second and no two requests decide it: the lowest p90 of the
 * window with any one of its seconds left out, each capped so that at least three requests reach it. Why:
 * with < 10 requests a plain p90 is the window's maximum, so one slow request (a GC pause) would hold the
 * figure for the whole window length and look like a shift; a one-second machine-wide stall slows every
 * request of that second (plus a GC pause nearby: two bad seconds, but one of them with one request only).
 * A fault persists: it slows most requests, in every second, whichever second is left out.
 * `perSecond`: durations (ms) of each second of the window. Undefined when the window without its busiest
 * second holds fewer than 3 requests (no evidence either way).
 */
export function windowLatency(perSecond: readonly (readonly number[])[]): number | undefined {
  const filled = perSecond.filter((s) => s.length > 0);
  let best: number | undefined;
  for (let i = 0; i < filled.length; i++) {
    const rest: number[] = [];
    for (let j = 0; j < filled.length; j++) if (j !== i) for (const d of filled[j]!) rest.push(d);
    if (rest.length < 3) return undefined; // one second holds (nearly) all requests: it would decide
    rest.sort((a, b) => a - b);
    const v = rest[Math.min(rest.length - 3, Math.ceil(0.9 * rest.length) - 1)]!;
    if (best === undefined || v < best) best = v;
  }
  return best;
}

/** One entity's requests of one second. `connErrs`: calls that never became requests (refused, reset ...). */
export interface RedBucket {
  durs: number[]; // ms
  errs: number;
  connErrs?: number;
}

/**
 * Streaming RED windows: add request figures per (second, entity), then emit seconds in order. Every entity
 * gets a rate point every second from its first sighting (0 when idle: a callee that stops answering shows
 * as a rate drop); latency and errors when the window holds requests.
 */
export class RedWindows {
  private readonly buckets = new Map<number, Map<string, RedBucket>>();
  private readonly known = new Set<string>();
  private readonly window: Map<string, RedBucket>[] = [];
  private lastEmitted: number | undefined;

  constructor(readonly windowS = 5) {}

  /** Figures of second `sec` (epoch s) for an entity; ignored when that second was already emitted. */
  add(sec: number, entity: string, b: RedBucket): boolean {
    if (this.lastEmitted !== undefined && sec <= this.lastEmitted) return false;
    let m = this.buckets.get(sec);
    if (!m) this.buckets.set(sec, (m = new Map()));
    let e = m.get(entity);
    if (!e) m.set(entity, (e = { durs: [], errs: 0, connErrs: 0 }));
    for (const d of b.durs) e.durs.push(d);
    e.errs += b.errs;
    e.connErrs = (e.connErrs ?? 0) + (b.connErrs ?? 0);
    this.known.add(entity);
    return true;
  }

  addRequest(sec: number, entity: string, durMs: number, error: boolean): boolean {
    return this.add(sec, entity, { durs: [durMs], errs: error ? 1 : 0 });
  }

  /** Earliest second holding figures that has not been emitted yet. */
  firstPending(): number | undefined {
    let lo: number | undefined;
    for (const s of this.buckets.keys()) if (lo === undefined || s < lo) lo = s;
    return lo;
  }

  /** Emits every second up to and including `upTo` (each exactly once, idle ones too); points carry t = end of the second. */
  emitUpTo(upTo: number): SeriesPoint[] {
    const from = this.lastEmitted !== undefined ? this.lastEmitted + 1 : this.firstPending();
    if (from === undefined) return [];
    const out: SeriesPoint[] = [];
    for (let s = from; s <= upTo; s++) out.push(...this.emit(s));
    return out;
  }

  private emit(sec: number): SeriesPoint[] {
    const b = this.buckets.get(sec) ?? new Map<string, RedBucket>();
    this.buckets.delete(sec);
    this.lastEmitted = sec;
    this.window.push(b);
    if (this.window.length > this.windowS) this.window.shift();
    const t = (sec + 1) * 1000;
    const out: SeriesPoint[] = [];
    for (const k of this.known) {
      const perSecond: number[][] = [];
      let n = 0, errs = 0, connErrs = 0;
      for (const w of this.window) {
        const e = w.get(k);
        if (!e) continue;
        perSecond.push(e.durs);
        n += e.durs.length;
        errs += e.errs;
        connErrs += e.connErrs ?? 0;
      }
      out.push({ t, entity: k, signal: 'rate', value: n / this.window.length, count: n });
      const lat = n ? windowLatency(perSecond) : undefined;
      if (lat !== undefined) out.push({ t, entity: k, signal: 'latency', value: lat, count: n });
      if (n + connErrs) out.push({ t, entity: k, signal: 'errors', value: (errs + connErrs) / (n + connErrs), count: n + connErrs });
    }
    return out;
  }
}

/**
 * `wallMs(r)`: when the record ended, epoch ms. The whole span of the records as RED series (see RedWindows),
 * plus the call edges seen.
 */
export function seriesFromRequests(records: RequestRecord[], wallMs: (r: RequestRecord) => number, o: { windowS?: number; known?: (s: string) => boolean } = {}): { points: SeriesPoint[]; edges: [string, string][] } {
  const red = new RedWindows(o.windowS ?? 5);
  const edges = new Set<string>();
  let hi = -Infinity;
  const sorted = [...records].sort((a, b) => wallMs(a) - wallMs(b));
  for (const r of sorted) {
    const sec = Math.floor(wallMs(r) / 1000);
    for (const k of entitiesOf(r, o.known)) {
      if (r.side === 'client') edges.add(`${r.clientService}\0${r.serverService}`);
      red.addRequest(sec, k, Number(r.durationNs) / 1e6, isFailure(r));
      hi = Math.max(hi, sec);
    }
  }
  if (!Number.isFinite(hi)) return { points: [], edges: [] };
  return { points: red.emitUpTo(hi), edges: [...edges].map((e) => e.split('\0') as [string, string]) };
}
