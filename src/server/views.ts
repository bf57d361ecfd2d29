// What the UI pages show, computed from stored request records: RED per service / endpoint / edge and over
// time, slowest requests, call trees, TCP health per connection, the service graph. Pure functions over
// records (the routes load them from the store), so they test without a server.
import type { RequestRecord } from '../model/request.js';
import { buildTraceTree, type TraceNode } from '../correlate/traces.js';
import { endpointLabel } from '../rca/red-series.js';

/** A stored request with its wall-clock start/end (ms since the epoch). */
export interface Req {
  r: RequestRecord;
  startMs: number;
  endMs: number;
  host: string;
}

export interface Red {
  count: number;
  rate: number; // per second over the range
  errors: number;
  errorPct: number;
  p50: number; // ms
  p90: number;
  p99: number;
}

export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const ms = (r: RequestRecord) => Number(r.durationNs) / 1e6;

export function red(reqs: Req[], seconds: number): Red {
  const d = reqs.map((x) => ms(x.r)).sort((a, b) => a - b);
  const errors = reqs.filter((x) => x.r.error).length;
  return {
    count: reqs.length,
    rate: seconds > 0 ? reqs.length / seconds : 0,
    errors,
    errorPct: reqs.length ? (100 * errors) / reqs.length : 0,
    p50: quantile(d, 0.5),
    p90: quantile(d, 0.9),
    p99: quantile(d, 0.99),
  };
}

/** What a page is about: a service, one endpoint of it, or a caller -> callee edge. */
export type Subject = { service: string; endpoint?: string } | { from: string; to: string } | { all: true };

/**
 * Records that describe a subject. A service's requests are its own (server-side) records, which time its
 * own work; an edge is the callers' view (client side) when the caller is traced, else the callee's.
 */
export function select(all: Req[], s: Subject): Req[] {
  if ('all' in s) return all.filter((x) => x.r.side === 'server');
  if ('service' in s) {
    return all.filter((x) => x.r.side === 'server' && x.r.serverService === s.service && (!s.endpoint || endpointLabel(x.r) === s.endpoint));
  }
  const both = all.filter((x) => x.r.clientService === s.from && x.r.serverService === s.to);
  const client = both.filter((x) => x.r.side === 'client');
  return client.length ? client : both;
}

export interface RedPoint extends Red {
  t: number; // bucket start, epoch ms
}

/** RED per time bucket over [fromMs, toMs); empty buckets are present (rate 0) so charts show gaps. */
export function redSeries(reqs: Req[], fromMs: number, toMs: number, stepMs: number): RedPoint[] {
  const n = Math.max(1, Math.ceil((toMs - fromMs) / stepMs));
  const buckets: Req[][] = Array.from({ length: n }, () => []);
  for (const x of reqs) {
    const i = Math.floor((x.endMs - fromMs) / stepMs);
    if (i >= 0 && i < n) buckets[i]!.push(x);
  }
  return buckets.map((b, i) => ({ t: fromMs + i * stepMs, ...red(b, stepMs / 1000) }));
}

/** A step that gives at most ~maxPoints buckets, rounded to a readable unit. */
export function pickStep(rangeMs: number, maxPoints = 120): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000);
  return steps.find((s) => rangeMs / s <= maxPoints) ?? 3600_000;
}

export interface RequestSummary {
  id: string;
  traceId?: string;
  startMs: number;
  durationMs: number;
  side: string;
  client: string;
  server: string;
  protocol: string;
  method: string;
  endpoint: string;
  status: string;
  error: boolean;
  flowId: string;
  pid: number;
  host: string;
  peer: string; // client ip:port -> server ip:port
  tcp?: RequestRecord['tcp'];
}

export function summary(x: Req): RequestSummary {
  const r = x.r;
  return {
    id: r.spanId ?? r.id,
    ...(r.traceId ? { traceId: r.traceId } : {}),
    startMs: x.startMs,
    durationMs: ms(r),
    side: r.side,
    client: r.clientService,
    server: r.serverService,
    protocol: r.protocol,
    method: r.method,
    endpoint: r.endpoint.length > 120 ? `${r.endpoint.slice(0, 117)}...` : r.endpoint,
    status: r.httpStatus ? String(r.httpStatus) : r.status || (r.incomplete ? 'no response' : ''),
    error: r.error,
    flowId: r.flowId,
    pid: r.pid,
    host: x.host,
    peer: r.client && r.server ? `${r.client.ip}:${r.client.port} → ${r.server.ip}:${r.server.port}` : '',
    ...(r.tcp ? { tcp: r.tcp } : {}),
  };
}

export function slowest(reqs: Req[], limit: number): RequestSummary[] {
  return [...reqs].sort((a, b) => Number(b.r.durationNs - a.r.durationNs)).slice(0, limit).map(summary);
}

/** Per endpoint of a service, busiest first. */
export function endpointsOf(reqs: Req[], seconds: number): ({ endpoint: string } & Red)[] {
  const by = new Map<string, Req[]>();
  for (const x of reqs) {
    const k = endpointLabel(x.r);
    (by.get(k) ?? by.set(k, []).get(k)!).push(x);
  }
  return [...by].map(([endpoint, l]) => ({ endpoint, ...red(l, seconds) })).sort((a, b) => b.count - a.count);
}

export interface GraphEdge extends Red {
  from: string;
  to: string;
  protocol: string;
  srttMs?: number; // mean smoothed RTT of the edge's connections (TCP snapshots of its requests)
  retransmits: number; // retransmitted segments during its requests
  connections: number;
}

export interface GraphNode extends Red {
  id: string;
  inbound: number; // requests it served
  endpoints: number;
  external: boolean; // never seen serving (a client or a peer we do not trace)
}

/** The service graph: services as nodes (their server-side RED), calls as edges (RED + TCP health). */
export function serviceGraph(all: Req[], seconds: number): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const served = new Map<string, Req[]>();
  const edgeRecs = new Map<string, Req[]>();
  for (const x of all) {
    if (x.r.side === 'server') (served.get(x.r.serverService) ?? served.set(x.r.serverService, []).get(x.r.serverService)!).push(x);
    if (x.r.clientService === x.r.serverService) continue;
    const k = `${x.r.clientService}\0${x.r.serverService}`;
    (edgeRecs.get(k) ?? edgeRecs.set(k, []).get(k)!).push(x);
  }
  const edges: GraphEdge[] = [];
  for (const [k, l] of edgeRecs) {
    const [from, to] = k.split('\0') as [string, string];
    const recs = select(l, { from, to });
    const withTcp = recs.filter((x) => x.r.tcp && x.r.tcp.srttUs > 0);
    edges.push({
      from,
      to,
      protocol: recs[0]!.r.protocol,
      ...red(recs, seconds),
      ...(withTcp.length ? { srttMs: withTcp.reduce((a, x) => a + x.r.tcp!.srttUs, 0) / withTcp.length / 1000 } : {}),
      retransmits: recs.reduce((a, x) => a + (x.r.tcp?.retransmits ?? 0), 0),
      connections: new Set(recs.map((x) => x.r.flowId)).size,
    });
  }
  const names = new Set<string>([...served.keys(), ...edges.flatMap((e) => [e.from, e.to])]);
  const nodes: GraphNode[] = [...names].sort().map((id) => {
    const l = served.get(id) ?? [];
    return { id, ...red(l, seconds), inbound: l.length, endpoints: new Set(l.map((x) => endpointLabel(x.r))).size, external: l.length === 0 };
  });
  return { nodes, edges: edges.sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to)) };
}

export interface ConnectionHealth {
  flowId: string;
  host: string;
  client: string;
  server: string;
  peer: string;
  requests: number;
  errors: number;
  p90: number;
  srttMs?: number; // last seen
  maxSrttMs?: number;
  retransmits: number; // during requests
  totalRetrans?: number; // cumulative on the connection (last seen)
  cwnd?: number;
  state?: string;
  lastMs: number;
}

/** TCP health per connection, from the snapshots the agent attaches to each request. */
export function connections(reqs: Req[]): ConnectionHealth[] {
  const by = new Map<string, Req[]>();
  for (const x of reqs) (by.get(x.r.flowId) ?? by.set(x.r.flowId, []).get(x.r.flowId)!).push(x);
  const out: ConnectionHealth[] = [];
  for (const [flowId, l] of by) {
    l.sort((a, b) => a.startMs - b.startMs);
    const last = l[l.length - 1]!;
    const tcp = l.filter((x) => x.r.tcp);
    const lastTcp = tcp[tcp.length - 1]?.r.tcp;
    // both ends of an exchange may be recorded: count and time it once, from the side seen more
    const server = l.filter((x) => x.r.side === 'server');
    const client = l.filter((x) => x.r.side === 'client');
    const one = server.length >= client.length ? server : client;
    const d = one.map((x) => ms(x.r)).sort((a, b) => a - b);
    out.push({
      flowId,
      host: last.host,
      client: last.r.clientService,
      server: last.r.serverService,
      peer: summary(last).peer,
      requests: one.length,
      errors: one.filter((x) => x.r.error).length,
      p90: quantile(d, 0.9),
      ...(lastTcp ? { srttMs: lastTcp.srttUs / 1000, maxSrttMs: Math.max(...tcp.map((x) => x.r.tcp!.srttUs)) / 1000, totalRetrans: lastTcp.totalRetrans } : {}),
      ...(lastTcp?.cwnd !== undefined ? { cwnd: lastTcp.cwnd } : {}),
      ...(lastTcp?.state ? { state: lastTcp.state } : {}),
      retransmits: tcp.reduce((a, x) => a + x.r.tcp!.retransmits, 0),
      lastMs: last.endMs,
    });
  }
  return out.sort((a, b) => b.retransmits - a.retransmits || (b.maxSrttMs ?? 0) - (a.maxSrttMs ?? 0) || b.requests - a.requests);
}

export interface TraceView {
  span: RequestSummary;
  server?: RequestSummary;
  offsetMs: number; // start relative to the trace's first request
  children: TraceView[];
}

/** One trace's records as call trees (client span + the callee's own record of the call as one node). */
export function traceTree(reqs: Req[]): TraceView[] {
  const byRec = new Map(reqs.map((x) => [x.r, x]));
  const roots = buildTraceTree(reqs.map((x) => x.r));
  const t0 = Math.min(...reqs.map((x) => x.startMs));
  const view = (n: TraceNode): TraceView => {
    const x = byRec.get(n.record)!;
    return {
      span: summary(x),
      ...(n.server ? { server: summary(byRec.get(n.server)!) } : {}),
      offsetMs: x.startMs - t0,
      children: n.children.map(view),
    };
  };
  return roots.map(view);
}

/** Requests of one connection in time order: its TCP state as the agent saw it at each request's end. */
export function connectionSamples(reqs: Req[]): { t: number; side: string; srttMs?: number; retransmits?: number; totalRetrans?: number; cwnd?: number; state?: string; durationMs: number; endpoint: string; status: string; error: boolean }[] {
  return [...reqs].sort((a, b) => a.endMs - b.endMs).map((x) => {
    const s = summary(x);
    const t = x.r.tcp;
    return {
      t: x.endMs,
      side: x.r.side,
      ...(t ? { srttMs: t.srttUs / 1000, retransmits: t.retransmits, totalRetrans: t.totalRetrans } : {}),
      ...(t?.cwnd !== undefined ? { cwnd: t.cwnd } : {}),
      ...(t?.state ? { state: t.state } : {}),
      durationMs: s.durationMs,
      endpoint: `${s.method} ${s.endpoint}`,
      status: s.status,
      error: s.error,
    };
  });
}

/**
 * Where transactions start: server-side records with no server-side record above them in their trace (the
 * first service a user's or a client's request reaches), whatever the caller is called.
 */
export function entryRequests(all: Req[]): Req[] {
  const bySpan = new Map<string, Req>();
  for (const x of all) bySpan.set(x.r.spanId ?? x.r.id, x);
  return all.filter((x) => {
    if (x.r.side !== 'server') return false;
    let p = x.r.parentSpanId ? bySpan.get(x.r.parentSpanId) : undefined;
    for (let guard = 0; p && guard < 64; guard++) {
      if (p.r.side === 'server') return false;
      p = p.r.parentSpanId ? bySpan.get(p.r.parentSpanId) : undefined;
    }
    return true;
  });
}
