// The read routes behind the incident pages (services, RED over time, slowest requests, traces, connections,
// timeline, root cause, business) and the fault-injection panel's routes. Request-derived views load the
// range's request rows once (a short-lived cache shared by the calls one page makes at the same time).
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod/v4';
import { rowToRequest } from '../correlate/apm.js';
import { ServiceGraph } from '../detect/alerts/graph.js';
import { incidentReport } from '../detect/alerts/report.js';
import { describeEntity, parseEntity } from '../detect/anomaly/entity.js';
import type { InjectEngine, InjectEvent } from '../inject/index.js';
import { faultEventRow } from '../inject/record.js';
import { FaultPipeline } from '../rca/pipeline.js';
import { endpointLabel, seriesFromRequests } from '../rca/red-series.js';
import type { Row, Store } from '../store/types.js';
import type { Route, RouteContext } from './routes.js';
import {
  connectionSamples,
  connections,
  endpointsOf,
  entryRequests,
  pickStep,
  red,
  redSeries,
  select,
  serviceGraph,
  slowest,
  traceTree,
  type Req,
  type Subject,
} from './views.js';
import { parseTime, RangeQuery } from './wire.js';

const MAX_REQUEST_ROWS = 200_000;

// ---- loading ------------------------------------------------------------------------------------

interface Loaded {
  reqs: Req[];
  truncated: boolean;
  fromMs: number;
  toMs: number;
}

function rangeMs(q: { from: string; to: string }): { fromMs: number; toMs: number } {
  const now = Date.now();
  // relative ranges are rounded to the second so the calls of one page share a range; up, so that "now"
  // still includes what was stored this very second (a finding ingested 200 ms ago)
  const r = (s: string) => Number(parseTime(s, Math.ceil(now / 1000) * 1000) / 1_000_000n);
  return { fromMs: r(q.from), toMs: r(q.to) };
}

const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(String(v ?? 0)));

function toReqs(rows: Row[]): { key: string; x: Req }[] {
  const out: { key: string; x: Req }[] = [];
  for (const row of rows) {
    try {
      const r = rowToRequest(row);
      const start = big(row.ts_ns);
      const host = String(row.host ?? '');
      out.push({ key: `${host}|${r.spanId ?? r.id}`, x: { r, startMs: Number(start / 1_000_000n), endMs: Number((start + r.durationNs) / 1_000_000n), host } });
    } catch {
      /* a row another version wrote that does not parse: skip it rather than fail the page */
    }
  }
  return out;
}

const LATE_MS = 60_000; // a request row lands after the request ended (+ linking + flush): re-read this much
const KEEP_MS = 6 * 3600_000; // the live window never holds more than this

/**
 * Requests of ranges that end now, kept in memory and topped up with only the rows written since the last
 * read (re-reading LATE_MS for late writes), so pages that refresh every few seconds do not re-parse the
 * whole range from the store each time.
 */
class LiveWindow {
  private items = new Map<string, Req>();
  private fromMs = Infinity;
  private readToMs = 0;
  private chain: Promise<unknown> = Promise.resolve();
  truncated = false;

  constructor(private readonly store: Store) {}

  get(fromMs: number, toMs: number): Promise<Req[]> {
    const p = this.chain.then(() => this.extend(fromMs, toMs));
    this.chain = p.catch(() => {});
    return p;
  }

  private async read(fromMs: number, toMs: number): Promise<void> {
    const rows = await this.store.list('requests', { fromNs: BigInt(fromMs) * 1_000_000n, toNs: BigInt(toMs) * 1_000_000n, limit: MAX_REQUEST_ROWS });
    if (rows.length >= MAX_REQUEST_ROWS) this.truncated = true;
    for (const { key, x } of toReqs(rows)) this.items.set(key, x);
  }

  private async extend(fromMs: number, toMs: number): Promise<Req[]> {
    fromMs = Math.max(fromMs, toMs - KEEP_MS);
    if (this.items.size === 0 || fromMs < this.fromMs) {
      // older than what we hold: read that part (all of it the first time)
      await this.read(fromMs, this.items.size === 0 ? toMs : Math.min(this.fromMs, toMs));
      if (this.items.size === 0 || this.readToMs === 0) this.readToMs = toMs;
      this.fromMs = Math.min(this.fromMs, fromMs);
    }
    if (toMs > this.readToMs - LATE_MS) {
      await this.read(Math.max(this.fromMs, this.readToMs - LATE_MS), toMs);
      this.readToMs = Math.max(this.readToMs, toMs);
    }
    const cut = toMs - KEEP_MS;
    if (this.fromMs < cut) {
      for (const [k, x] of this.items) if (x.startMs < cut) this.items.delete(k);
      this.fromMs = cut;
    }
    const out: Req[] = [];
    for (const x of this.items.values()) if (x.startMs >= fromMs && x.startMs <= toMs) out.push(x);
    return out;
  }
}

const windows = new WeakMap<Store, LiveWindow>();
const fixed = new WeakMap<Store, Map<string, { at: number; p: Promise<Loaded> }>>();

/** The request rows of a range as records with wall-clock times. */
export async function loadRequests(store: Store, q: { from: string; to: string }): Promise<Loaded> {
  const { fromMs, toMs } = rangeMs(q);
  const now = Date.now();
  if (toMs >= now - 5000) {
    const w = windows.get(store) ?? windows.set(store, new LiveWindow(store)).get(store)!;
    const reqs = await w.get(fromMs, toMs);
    return { reqs, truncated: w.truncated, fromMs, toMs };
  }
  // a range in the past: read once, shared by the calls of one page for a minute
  const cache = fixed.get(store) ?? fixed.set(store, new Map()).get(store)!;
  for (const [k, v] of cache) if (now - v.at > 60_000) cache.delete(k);
  const key = `${fromMs}-${toMs}`;
  const hit = cache.get(key);
  if (hit) return hit.p;
  const p = (async (): Promise<Loaded> => {
    const rows = await store.list('requests', { fromNs: BigInt(fromMs) * 1_000_000n, toNs: BigInt(toMs) * 1_000_000n, limit: MAX_REQUEST_ROWS });
    return { reqs: toReqs(rows).map((e) => e.x), truncated: rows.length >= MAX_REQUEST_ROWS, fromMs, toMs };
  })();
  cache.set(key, { at: now, p });
  p.catch(() => cache.delete(key));
  return p;
}

// ---- schemas ------------------------------------------------------------------------------------

const name = z.string().min(1).max(200);
const Range = RangeQuery;
const SubjectQuery = Range.extend({
  service: name.optional().describe('a service (its own, server-side requests); none: every service'),
  endpoint: z.string().min(1).max(300).optional().describe('with service: one endpoint label, e.g. "POST /orders"'),
  from_service: name.optional().describe('with to_service: a caller -> callee edge'),
  to_service: name.optional(),
});
type SubjectQ = z.output<typeof SubjectQuery>;

/** The subject a query names, or why it names none. */
function subjectOf(q: SubjectQ): Subject | string {
  if (q.service) return { service: q.service, ...(q.endpoint ? { endpoint: q.endpoint } : {}) };
  if (q.from_service && q.to_service) return { from: q.from_service, to: q.to_service };
  if (q.endpoint || q.from_service || q.to_service) return 'give service (and optionally endpoint), or from_service and to_service';
  return { all: true }; // every service's own requests
}

const limitParam = (max: number, dflt: number) => z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1).max(max)).default(dflt);

const RedOut = z.object({ count: z.number(), rate: z.number(), errors: z.number(), errorPct: z.number(), p50: z.number(), p90: z.number(), p99: z.number() });
const Obj = z.record(z.string(), z.unknown());
const json = (schema: z.ZodType, description: string) => ({ description, contentType: 'application/json', schema });

const bad = (message: string) => ({ status: 400, json: { error: message } });

// ---- timeline -----------------------------------------------------------------------------------

export interface TimelineEvent {
  t: number; // epoch ms
  type: 'finding' | 'alert' | 'fault' | 'incident';
  id: string;
  severity: string;
  title: string;
  subject: string;
  endT?: number;
  evidence?: Record<string, unknown>;
  why?: string;
  fix?: string;
  data?: unknown;
}

const msOf = (ns: unknown) => Number(big(ns) / 1_000_000n);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

function findingEvents(rows: Row[]): TimelineEvent[] {
  const seen = new Set<string>();
  const out: TimelineEvent[] = [];
  for (const row of rows) {
    const id = String(row.id);
    if (seen.has(id)) continue; // newest first: the newest report of a finding wins
    seen.add(id);
    const d = obj(row.data);
    const w = obj(d.window);
    out.push({
      t: w.startNs ? msOf(w.startNs) : msOf(row.ts_ns),
      endT: msOf(row.ts_ns),
      type: 'finding',
      id,
      severity: String(row.severity),
      title: String(row.summary),
      subject: `${String(row.subject)}${row.host ? ` on ${String(row.host)}` : ''}`,
      evidence: obj(d.evidence),
      ...(d.why ? { why: String(d.why) } : {}),
      ...(d.fix ? { fix: String(d.fix) } : {}),
      data: { kind: row.kind },
    });
  }
  return out;
}

function faultEvents(rows: Row[]): TimelineEvent[] {
  return rows.map((row) => ({
    t: msOf(row.ts_ns),
    type: 'fault' as const,
    id: `${String(row.id)}:${String(row.state)}`,
    severity: row.state === 'injected' ? 'warning' : 'info',
    title: `fault ${String(row.state)}: ${String(row.kind)} ${String(row.target)}`,
    subject: String(row.target),
    ...(row.expires_ns ? { endT: msOf(row.expires_ns) } : {}),
    data: row.data,
  }));
}

/** Figures of a stored alert: its `evidence` object, else the plain values of its data. */
function alertEvidence(data: Record<string, unknown>): Record<string, unknown> {
  if (data.evidence && typeof data.evidence === 'object') return data.evidence as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  // the figures of an Alert (src/detect/alerts/types.ts) as the agent stores it
  for (const k of ['signal', 'value', 'baseline', 'peakValue', 'peakZ', 'limit']) if (['number', 'string'].includes(typeof data[k])) out[k === 'peakValue' ? 'peak' : k] = data[k];
  if (typeof data.predictedCrossT === 'number') out.predictedCross = new Date(data.predictedCrossT).toISOString();
  return out;
}

function storedAlertEvents(rows: Row[]): TimelineEvent[] {
  const seen = new Set<string>();
  const out: TimelineEvent[] = [];
  for (const row of rows) {
    const id = String(row.id);
    if (seen.has(id)) continue; // newest first: an alert's latest state wins
    seen.add(id);
    const d = obj(row.data);
    out.push({
      t: typeof d.onsetT === 'number' ? d.onsetT : msOf(row.ts_ns),
      ...(typeof d.endT === 'number' ? { endT: d.endT } : {}),
      type: 'alert',
      id,
      severity: String(row.severity),
      title: `${String(row.state)}: ${String(row.summary)}`,
      subject: typeof d.entity === 'string' ? describeEntitySafe(d.entity) : String(row.rule),
      evidence: alertEvidence(d),
      data: { rule: row.rule, stored: true, ...(d.incidentId ? { incidentId: d.incidentId } : {}) },
    });
  }
  return out;
}

function describeEntitySafe(id: string): string {
  try {
    return describeEntity(parseEntity(id));
  } catch {
    return id;
  }
}

/** Detection + alerting + RCA over the range's request records, as `faultlens rca` does over the store. */
export function analyse(reqs: Req[]) {
  const ends = new Map(reqs.map((x) => [x.r, x.endMs]));
  const { points, edges } = seriesFromRequests(reqs.map((x) => x.r), (r) => ends.get(r)!);
  const graph = new ServiceGraph(edges);
  const p = new FaultPipeline(graph).replay(points.sort((a, b) => a.t - b.t));
  return { graph, pipeline: p, points: points.length };
}

// ---- fault injection ----------------------------------------------------------------------------

const engines = new WeakMap<RouteContext, InjectEngine>();

async function injectUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'the server does not run as root: it cannot load eBPF programs';
  const { INJECT_OBJECT } = await import('../inject/index.js');
  if (!existsSync(INJECT_OBJECT)) return `${INJECT_OBJECT} is not built (make -C bpf)`;
  return undefined;
}

/** The server's own injection engine: its faults live as long as the server (or their TTL). */
async function engineOf(ctx: RouteContext): Promise<InjectEngine> {
  let e = engines.get(ctx);
  if (!e) {
    const { InjectEngine } = await import('../inject/index.js');
    const record = (ev: InjectEvent) => void ctx.ingestor.ingest(hostname(), [], { faults: [faultEventRow(ev)] }).durable.catch(() => {});
    e = new InjectEngine({ onEvent: record });
    engines.set(ctx, e);
  }
  return e;
}

/** Detaches every fault the server injected (server shutdown). */
export function closeInjection(ctx: RouteContext): void {
  engines.get(ctx)?.close();
  engines.delete(ctx);
}

const FaultBody = z
  .looseObject({
    kind: z.enum(['loss', 'blackhole', 'bandwidth', 'refuse', 'request', 'tcp']),
    ttlSec: z.number().positive().max(24 * 3600),
    scope: z.record(z.string(), z.unknown()),
  })
  .describe('a fault spec as `faultlens inject` takes it (kind, ttlSec, scope, kind-specific fields); checked in full by the engine');

// ---- routes -------------------------------------------------------------------------------------

export const uiRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/services',
    summary: 'Service graph from request records: services with their RED, calls between them with RED and TCP health',
    query: Range.strict(),
    response: json(z.object({ fromMs: z.number(), toMs: z.number(), truncated: z.boolean(), nodes: z.array(Obj), edges: z.array(Obj) }), 'nodes and edges'),
    async handle({ query: q }, ctx) {
      const l = await loadRequests(ctx.store, q);
      return { json: { fromMs: l.fromMs, toMs: l.toMs, truncated: l.truncated, ...serviceGraph(l.reqs, (l.toMs - l.fromMs) / 1000) } };
    },
  },
  {
    method: 'GET',
    path: '/api/red',
    summary: 'RED over time (rate, errors, p50/p90/p99 per bucket) of a service, endpoint or edge, with its totals and endpoints',
    query: SubjectQuery.extend({ step: z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1).max(86400)).optional().describe('bucket seconds (default: ~120 buckets)') }).strict(),
    response: json(z.object({ stepMs: z.number(), totals: RedOut, series: z.array(RedOut.extend({ t: z.number() })), endpoints: z.array(Obj) }), 'series'),
    async handle({ query: q }, ctx) {
      const s = subjectOf(q);
      if (typeof s === 'string') return bad(s);
      const l = await loadRequests(ctx.store, q);
      const reqs = select(l.reqs, s);
      const stepMs = q.step ? q.step * 1000 : pickStep(l.toMs - l.fromMs);
      const from = Math.floor(l.fromMs / stepMs) * stepMs;
      const seconds = (l.toMs - l.fromMs) / 1000;
      return {
        json: {
          fromMs: l.fromMs,
          toMs: l.toMs,
          stepMs,
          truncated: l.truncated,
          totals: red(reqs, seconds),
          series: redSeries(reqs, from, l.toMs, stepMs),
          endpoints: 'service' in s && !s.endpoint ? endpointsOf(reqs, seconds) : [],
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/api/requests/slowest',
    summary: 'Slowest requests of a service, endpoint or edge (with trace ids and the TCP snapshot of their connection)',
    query: SubjectQuery.extend({ limit: limitParam(500, 20) }).strict(),
    response: json(z.object({ requests: z.array(Obj) }), 'requests, slowest first'),
    async handle({ query: q }, ctx) {
      const s = subjectOf(q);
      if (typeof s === 'string') return bad(s);
      const l = await loadRequests(ctx.store, q);
      return { json: { requests: slowest(select(l.reqs, s), q.limit) } };
    },
  },
  {
    method: 'GET',
    path: '/api/traces/{traceId}',
    summary: 'One trace as call trees (caller span + callee record per call), from the stored request records',
    params: { traceId: z.string().regex(/^[0-9A-Za-z_-]{1,64}$/, 'a trace id') },
    query: Range.extend({ from: RangeQuery.shape.from.default('now-1h') }).strict(),
    response: json(z.object({ traceId: z.string(), spans: z.number(), roots: z.array(Obj) }), 'call trees'),
    async handle({ query: q, params }, ctx) {
      const l = await loadRequests(ctx.store, q);
      const members = l.reqs.filter((x) => x.r.traceId === params.traceId);
      if (!members.length) return { status: 404, json: { error: `no request of trace ${params.traceId} in the range` } };
      return { json: { traceId: params.traceId, spans: members.length, roots: traceTree(members) } };
    },
  },
  {
    method: 'GET',
    path: '/api/connections',
    summary: "TCP health of a service's (or an edge's) connections: requests, RTT, retransmits, cwnd per connection",
    query: SubjectQuery.extend({ limit: limitParam(1000, 50) }).strict(),
    response: json(z.object({ connections: z.array(Obj) }), 'connections, worst first'),
    async handle({ query: q }, ctx) {
      const s = subjectOf(q);
      if (typeof s === 'string') return bad(s);
      const l = await loadRequests(ctx.store, q);
      // a service's connections: the ones it serves and the ones it calls out on (both ends' records)
      const mine = 'all' in s ? l.reqs : 'service' in s && !s.endpoint ? l.reqs.filter((x) => (x.r.side === 'server' && x.r.serverService === s.service) || (x.r.side === 'client' && x.r.clientService === s.service)) : select(l.reqs, s);
      const flows = new Set(mine.map((x) => x.r.flowId));
      const reqs = l.reqs.filter((x) => flows.has(x.r.flowId));
      return { json: { connections: connections(reqs).slice(0, q.limit) } };
    },
  },
  {
    method: 'GET',
    path: '/api/connections/{id}',
    summary: "One connection's life: its flow snapshot, its TCP state at each request (RTT, retransmits, cwnd), stored TCP samples and findings",
    params: { id: z.string().min(3).max(512).describe('flow id (URL-encoded)') },
    query: Range.strict(),
    response: json(z.object({ id: z.string(), flow: Obj.nullable(), samples: z.array(Obj), tcpSamples: z.array(Obj), findings: z.array(Obj) }), 'the connection'),
    async handle({ query: rq, params }, ctx) {
      const q = { ...rq, id: params.id as string };
      const l = await loadRequests(ctx.store, q);
      const reqs = l.reqs.filter((x) => x.r.flowId === q.id);
      const r = { fromNs: BigInt(l.fromMs) * 1_000_000n, toNs: BigInt(l.toMs) * 1_000_000n };
      // flow ids end with "<ip>:<port>-<ip>:<port>": narrow the flow query by the server port
      const port = /:(\d+)$/.exec(q.id)?.[1];
      const flows = await ctx.store.queryFlows({ ...r, ...(port ? { port: Number(port) } : {}), limit: 10_000, order: 'recent' });
      const flow = flows.find((f) => f.id === q.id) ?? null;
      const cookies = new Set((flow?.socketCookies ?? []).map(String));
      const tcpSamples = (await ctx.store.list('tcp_samples', { ...r, limit: 10_000 })).filter((s) => s.flow_id === q.id || cookies.has(String(s.cookie)));
      const ends = flow ? [`${flow.client.ip}:${flow.client.port}`, `${flow.server.ip}:${flow.server.port}`] : [];
      const findings = findingEvents(await ctx.store.list('findings', { ...r, limit: 10_000 })).filter((f) => ends.length && ends.every((e) => f.subject.includes(e)));
      return {
        json: {
          id: q.id,
          flow,
          requests: reqs.length,
          summary: reqs.length ? connections(reqs)[0] : null,
          samples: connectionSamples(reqs),
          tcpSamples: tcpSamples.reverse(),
          findings,
          slowest: slowest(reqs, 10),
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/api/timeline',
    summary: 'Findings (with evidence, why and fix), alerts and incidents detected over the request records, and injected faults, oldest first',
    query: Range.strict(),
    response: json(z.object({ events: z.array(Obj), incidents: z.number() }), 'events'),
    async handle({ query: q }, ctx) {
      const l = await loadRequests(ctx.store, q);
      const r = { fromNs: BigInt(l.fromMs) * 1_000_000n, toNs: BigInt(l.toMs) * 1_000_000n, limit: 10_000 };
      const [findings, alerts, faults] = await Promise.all([ctx.store.list('findings', r), ctx.store.list('alerts', r), ctx.store.list('faults', r)]);
      const events: TimelineEvent[] = [...findingEvents(findings), ...storedAlertEvents(alerts), ...faultEvents(faults)];
      const { pipeline } = analyse(l.reqs);
      const stored = new Set(events.filter((e) => e.type === 'alert').map((e) => e.id));
      for (const a of [...pipeline.warnings, ...pipeline.incidents.flatMap((i) => i.alerts)]) {
        if (stored.has(a.id)) continue; // the agent raised and stored this one live
        events.push({
          t: a.onsetT,
          ...(a.endT !== undefined ? { endT: a.endT } : {}),
          type: 'alert',
          id: a.id,
          severity: a.severity,
          title: `${a.tense}: ${a.title}`,
          subject: describeEntity(parseEntity(a.entity)),
          evidence: { signal: a.signal, value: a.value, ...(a.baseline !== undefined ? { baseline: a.baseline } : {}), ...(a.peakValue !== undefined ? { peak: a.peakValue } : {}), ...(a.peakZ !== undefined ? { peakZ: a.peakZ } : {}) },
          data: { entity: a.entity, incidentId: a.incidentId },
        });
      }
      for (const i of pipeline.incidents) {
        events.push({ t: i.startT, ...(i.endT !== undefined ? { endT: i.endT } : {}), type: 'incident', id: i.id, severity: 'critical', title: `incident: ${i.alerts.length} symptom(s) on ${i.services.join(', ')}`, subject: i.services.join(', ') });
      }
      events.sort((a, b) => a.t - b.t);
      return { json: { fromMs: l.fromMs, toMs: l.toMs, events, incidents: pipeline.incidents.length } };
    },
  },
  {
    method: 'GET',
    path: '/api/rca',
    summary: 'Root-cause ranking of the incidents in the range (as `faultlens rca` over the store): candidates, evidence, affected call chains',
    query: Range.strict(),
    response: json(z.object({ source: z.string(), incidents: z.array(Obj), graph: z.object({ edges: z.array(z.array(z.string())) }) }), 'incidents with their ranking'),
    async handle({ query: q }, ctx) {
      const l = await loadRequests(ctx.store, q);
      const { graph, pipeline, points } = analyse(l.reqs);
      const incidents = pipeline.incidents.map((inc) => {
        const rca = pipeline.rca(inc);
        const top = rca.candidates[0];
        let focus: unknown;
        if (top) {
          try {
            focus = parseEntity(top.entity);
          } catch {
            /* a label we cannot place on the map */
          }
        }
        return { report: incidentReport(inc, graph), rca, focus };
      });
      return {
        json: {
          source: `store: ${l.reqs.length} request records${l.truncated ? ' (truncated)' : ''}, ${points} series points`,
          incidents: incidents.reverse(), // newest first
          graph: { edges: graph.edges },
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/api/business',
    summary: 'Business view: captured business events by name over time, and the transactions (requests where call chains start) per entry service and route',
    query: Range.strict(),
    response: json(z.object({ events: z.array(Obj), recent: z.array(Obj), transactions: z.array(Obj) }), 'business metrics'),
    async handle({ query: q }, ctx) {
      const l = await loadRequests(ctx.store, q);
      const stepMs = pickStep(l.toMs - l.fromMs, 60);
      const from = Math.floor(l.fromMs / stepMs) * stepMs;
      const n = Math.max(1, Math.ceil((l.toMs - from) / stepMs));
      const rows = await ctx.store.list('business_events', { fromNs: BigInt(l.fromMs) * 1_000_000n, toNs: BigInt(l.toMs) * 1_000_000n, limit: 10_000 });
      const byName = new Map<string, { name: string; count: number; series: number[] }>();
      for (const row of rows) {
        const k = String(row.name);
        const e = byName.get(k) ?? byName.set(k, { name: k, count: 0, series: new Array(n).fill(0) }).get(k)!;
        e.count++;
        const i = Math.floor((msOf(row.ts_ns) - from) / stepMs);
        if (i >= 0 && i < n) e.series[i]!++;
      }
      // transactions: what the first service a request reaches serves (the entry of each call chain)
      const seconds = (l.toMs - l.fromMs) / 1000;
      const entries = entryRequests(l.reqs);
      const byService = new Map<string, Req[]>();
      for (const x of entries) (byService.get(x.r.serverService) ?? byService.set(x.r.serverService, []).get(x.r.serverService)!).push(x);
      const transactions = [...byService].flatMap(([service, reqs]) =>
        endpointsOf(reqs, seconds).map((ep) => {
          const mine = reqs.filter((x) => endpointLabel(x.r) === ep.endpoint);
          const ok = new Array(n).fill(0);
          const failed = new Array(n).fill(0);
          for (const x of mine) {
            const i = Math.floor((x.endMs - from) / stepMs);
            if (i >= 0 && i < n) (x.r.error ? failed : ok)[i]++;
          }
          return { service, ...ep, ok, failed };
        }),
      ).sort((a, b) => b.count - a.count).slice(0, 30);
      return {
        json: {
          fromMs: from,
          stepMs,
          events: [...byName.values()].sort((a, b) => b.count - a.count),
          recent: rows.slice(0, 50).map((r) => ({ t: msOf(r.ts_ns), name: r.name, pid: r.pid, host: r.host, data: r.data })),
          transactions,
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/api/search',
    summary: 'What a search text names: services, endpoints, and flows by IP, port or pid',
    query: Range.extend({ q: z.string().max(200).default('') }).strict(),
    response: json(z.object({ results: z.array(z.object({ kind: z.string(), label: z.string(), link: z.string() })) }), 'matches'),
    async handle({ query: q }, ctx) {
      const text = q.q.trim().toLowerCase();
      if (!text) return { json: { results: [] } };
      const l = await loadRequests(ctx.store, q);
      const results: { kind: string; label: string; link: string }[] = [];
      const services = new Set<string>();
      const endpoints = new Map<string, string>();
      for (const x of l.reqs) {
        if (x.r.side !== 'server') continue;
        services.add(x.r.serverService);
        endpoints.set(`${x.r.serverService}\0${endpointLabel(x.r)}`, x.r.serverService);
      }
      for (const s of [...services].sort()) if (s.toLowerCase().includes(text)) results.push({ kind: 'service', label: s, link: `#/service?name=${encodeURIComponent(s)}` });
      for (const k of [...endpoints.keys()].sort()) {
        const [s, ep] = k.split('\0') as [string, string];
        if (`${s} ${ep}`.toLowerCase().includes(text)) results.push({ kind: 'endpoint', label: `${s} ${ep}`, link: `#/service?name=${encodeURIComponent(s)}&endpoint=${encodeURIComponent(ep)}` });
        if (results.length > 40) break;
      }
      // flows: an IP, a port or a pid (prefixes ip:, port:, pid: as in the flow table, or bare values)
      const m = /^(?:(ip|port|pid|comm):)?(.+)$/.exec(text)!;
      const [key, val] = [m[1], m[2]!];
      if ((key === 'ip' || (!key && /^[0-9a-f.:]+$/.test(val) && /[.:]/.test(val))) && /^[0-9a-f.:]{2,45}$/.test(val)) results.push({ kind: 'ip', label: `flows of ${val}`, link: `#/overview?q=${encodeURIComponent(val)}` });
      if ((key === 'port' || (!key && /^\d{1,5}$/.test(val))) && Number(val) <= 65535) results.push({ kind: 'port', label: `flows on port ${val}`, link: `#/overview?q=${encodeURIComponent(`port:${val}`)}` });
      if ((key === 'pid' || (!key && /^\d{1,7}$/.test(val)))) results.push({ kind: 'pid', label: `flows of pid ${val}`, link: `#/overview?q=${encodeURIComponent(`pid:${val}`)}` });
      if (key === 'comm' || (!key && /^[a-z][\w.-]*$/.test(val))) results.push({ kind: 'process', label: `flows of processes named ${val}`, link: `#/overview?q=${encodeURIComponent(`comm:${val}`)}` });
      return { json: { results } };
    },
  },
  {
    method: 'GET',
    path: '/api/inject',
    summary: 'Fault injection: whether this server can inject, the active faults on this host, and the recorded fault events',
    query: Range.strict(),
    response: json(z.object({ available: z.boolean(), reason: z.string().optional(), active: z.array(Obj), history: z.array(Obj) }), 'faults'),
    async handle({ query: q }, ctx) {
      const reason = await injectUnavailable();
      let active: unknown[] = [];
      if (!reason) {
        active = (await engineOf(ctx)).list();
      } else {
        const { FaultRegistry } = await import('../inject/index.js');
        active = new FaultRegistry().read().map((f) => ({ ...f, local: false }));
      }
      const { fromMs, toMs } = rangeMs(q);
      const history = faultEvents(await ctx.store.list('faults', { fromNs: BigInt(fromMs) * 1_000_000n, toNs: BigInt(toMs) * 1_000_000n, limit: 500 }));
      return { json: { available: !reason, ...(reason ? { reason } : {}), active, history } };
    },
  },
  {
    method: 'POST',
    path: '/api/inject',
    summary: 'Inject a fault (the server holds it until its TTL or a stop); needs the ingest token when the server has one',
    auth: true,
    body: FaultBody,
    response: json(Obj, 'the active fault'),
    async handle({ body }, ctx) {
      const reason = await injectUnavailable();
      if (reason) return { status: 503, json: { error: reason } };
      const { FaultSpecError } = await import('../inject/index.js');
      try {
        return { json: (await engineOf(ctx)).inject(body) };
      } catch (e) {
        if (e instanceof FaultSpecError) return bad(e.message);
        return { status: 422, json: { error: (e as Error).message } }; // the kernel refused (scope names a missing netns, ...)
      }
    },
  },
  {
    method: 'POST',
    path: '/api/inject/{id}/stop',
    summary: 'Stop a fault (this server\'s, or ask its owner process); needs the ingest token when the server has one',
    auth: true,
    params: { id: z.string().regex(/^[\w.-]{1,64}$/, 'a fault id') },
    response: json(z.object({ stopped: z.array(z.string()) }), 'ids stopped or asked to stop'),
    async handle({ params }, ctx) {
      const reason = await injectUnavailable();
      if (reason) return { status: 503, json: { error: reason } };
      const { FaultSpecError } = await import('../inject/index.js');
      try {
        return { json: { stopped: (await engineOf(ctx)).stop(params.id) } };
      } catch (e) {
        if (e instanceof FaultSpecError) return { status: 404, json: { error: e.message } };
        throw e;
      }
    },
  },
];

