// Call chains from request records, no instrumentation:
//  - exchange: a server-side record and the client-side record of the same flow that contains it in time
//    are the two ends of one call (deterministic);
//  - nesting: an outbound (client-side) request is a child of the inbound (server-side) request of the
//    same process that encloses it in time. An X-Request-Id/traceparent equal on both decides; else the same
//    thread decides (threaded servers); else (event loops: one thread serves many) the inbound request
//    that started last before it is chosen, scored 1/n for n overlapping candidates.
// Trace id: the W3C trace id of a traceparent in the tree, else a 32-hex X-Request-Id (nginx $request_id),
// else random. Span id = record id.
import { randomBytes } from 'node:crypto';
import type { RequestRecord } from '../model/request.js';

export interface LinkOptions {
  /** Use X-Request-Id / traceparent to decide between overlapping candidates (default true). */
  useHeaders?: boolean;
}

type Rec = RequestRecord;

function idHeader(r: Rec): string | undefined {
  if (r.traceparent) return r.traceparent.split('-')[1];
  return r.requestIdHeader;
}

/** Index of the records of one window: server-side by pid, client-side by flow, both by start time. */
class WindowIndex {
  readonly inbound = new Map<number, Rec[]>();
  readonly outboundByFlow = new Map<string, Rec[]>();
  /** Longest inbound request per pid: bounds how far back an enclosing request can have started. */
  readonly maxInbound = new Map<number, bigint>();
  constructor(records: Iterable<Rec>) {
    for (const r of records) {
      if (r.side === 'server') {
        push(this.inbound, r.pid, r);
        if (r.durationNs > (this.maxInbound.get(r.pid) ?? -1n)) this.maxInbound.set(r.pid, r.durationNs);
      } else push(this.outboundByFlow, r.flowId, r);
    }
    for (const l of this.inbound.values()) l.sort(byStart);
    for (const l of this.outboundByFlow.values()) l.sort(byStart);
  }
}

function push<K>(m: Map<K, Rec[]>, k: K, r: Rec): void {
  const l = m.get(k);
  if (l) l.push(r);
  else m.set(k, [r]);
}

const byStart = (a: Rec, b: Rec) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0);

/** Index of the first record starting after t (binary search over a start-sorted list). */
function upperBound(l: Rec[], t: bigint): number {
  let lo = 0;
  let hi = l.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (l[mid]!.startNs <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const EXCHANGE_LOOKBACK = 16; // pipelined requests on one connection we look past
// Socket timestamps are taken at syscall exit: the peer can receive bytes (and its recv return) before the
// sender's send returns (on loopback the receiver runs while the sender is still in the kernel, or is
// preempted by it). So the callee's view may start slightly before the caller's and end slightly after.
/** How much earlier the callee's first request byte may be stamped than the caller's (ns). */
export const EXCHANGE_START_SKEW_NS = 1_000_000n;
const EXCHANGE_END_SKEW_NS = 5_000_000n;

/** The parent of one record within the index, or undefined (a root as far as the window knows). */
function findParent(r: Rec, ix: WindowIndex, useHeaders: boolean): { parent: Rec; score: number; by: NonNullable<Rec['linkedBy']> } | undefined {
  if (r.side === 'server') {
    // the caller's view of this very exchange: the client record on the flow that encloses it (within the
    // timestamp skew) and overlaps it most in time — on keep-alive the previous exchange ended about when
    // this one started and the next one starts about when it ended, so neither overlaps it much
    const l = ix.outboundByFlow.get(r.flowId);
    if (!l) return undefined;
    const top = upperBound(l, r.startNs + EXCHANGE_START_SKEW_NS);
    let best: Rec | undefined;
    let bestOverlap = 0n;
    let bestD = 0n;
    for (let i = top - 1; i >= 0 && i >= top - EXCHANGE_LOOKBACK; i--) {
      const c = l[i]!;
      if (!(c.endNs + EXCHANGE_END_SKEW_NS >= r.endNs || c.incomplete)) continue;
      const end = c.incomplete || c.endNs > r.endNs ? r.endNs : c.endNs;
      const overlap = end - (c.startNs > r.startNs ? c.startNs : r.startNs);
      const d = c.startNs > r.startNs ? c.startNs - r.startNs : r.startNs - c.startNs;
      if (!best || overlap > bestOverlap || (overlap === bestOverlap && d < bestD)) {
        best = c;
        bestOverlap = overlap;
        bestD = d;
      }
    }
    return best ? { parent: best, score: 1, by: 'exchange' } : undefined;
  }
  const l = ix.inbound.get(r.pid);
  if (!l) return undefined;
  const cands: Rec[] = [];
  const earliest = r.startNs - (ix.maxInbound.get(r.pid) ?? 0n);
  for (let i = upperBound(l, r.startNs) - 1; i >= 0; i--) {
    const s = l[i]!;
    if (s.startNs < earliest) break; // it ended before r started, and so did everything before it
    if (s.flowId === r.flowId) continue;
    if (s.endNs >= r.endNs || s.incomplete) cands.push(s);
  }
  if (cands.length === 0) return undefined;
  cands.reverse(); // start order
  const h = idHeader(r);
  if (useHeaders && h) {
    const same = cands.filter((s) => idHeader(s) === h);
    if (same.length === 1) return { parent: same[0]!, score: 1, by: 'header' };
  }
  const sameTid = cands.filter((s) => s.tid === r.tid);
  const pool = sameTid.length ? sameTid : cands;
  const latest = pool[pool.length - 1]!; // started last: the request the thread/event loop took most recently
  const threaded = sameTid.length > 0 && sameTid.length < cands.length; // other threads serve the rest
  return { parent: latest, score: 1 / pool.length, by: pool.length === 1 && (threaded || sameTid.length === 1) ? 'thread' : 'process' };
}

function newTraceId(): string {
  return randomBytes(16).toString('hex');
}

/** Trace id for a tree: traceparent, else a 32-hex request id anywhere in it (breadth first), else random. */
function traceIdOf(members: Rec[]): string {
  for (const r of members) if (r.traceparent) return r.traceparent.split('-')[1]!;
  for (const r of members) if (r.requestIdHeader && /^[0-9a-f]{32}$/i.test(r.requestIdHeader)) return r.requestIdHeader.toLowerCase();
  return newTraceId();
}

/**
 * Links a closed set of records (e.g. one capture) in place: parentSpanId, linkScore, linkedBy, traceId.
 * Returns the records grouped by trace id.
 */
export function linkRecords(records: Rec[], opts: LinkOptions = {}): Map<string, Rec[]> {
  const ix = new WindowIndex(records);
  const useHeaders = opts.useHeaders ?? true;
  const children = new Map<Rec, Rec[]>();
  const roots: Rec[] = [];
  for (const r of records) {
    r.spanId ??= r.id;
    const p = findParent(r, ix, useHeaders);
    if (!p) {
      delete r.parentSpanId;
      roots.push(r);
      continue;
    }
    r.parentSpanId = p.parent.spanId ?? p.parent.id;
    r.linkScore = p.score;
    r.linkedBy = p.by;
    const l = children.get(p.parent);
    if (l) l.push(r);
    else children.set(p.parent, [r]);
  }
  const traces = new Map<string, Rec[]>();
  for (const root of roots) {
    const members: Rec[] = [];
    const queue = [root];
    while (queue.length) {
      const r = queue.shift()!;
      members.push(r);
      for (const c of children.get(r) ?? []) queue.push(c);
    }
    const tid = traceIdOf(members);
    for (const m of members) m.traceId = tid;
    const l = traces.get(tid);
    if (l) l.push(...members);
    else traces.set(tid, members);
  }
  return traces;
}

export interface TraceLinkerOptions extends LinkOptions {
  /** A record with no parent yet waits this long after its end before it is taken as a root (ns). */
  settleNs?: bigint;
  /** Records kept for linking later ones (ns after their end). */
  windowNs?: bigint;
  /** Window size cap (records). */
  maxRecords?: number;
  /**
   * Whether a parent of this parentless record may still arrive (e.g. its process is still serving a
   * request that started before it: RequestTracker.openInboundSince). Such records wait, up to maxWaitNs.
   */
  parentMayArrive?: (r: RequestRecord) => boolean;
  /** Longest wait for a parent that may arrive (default 60 s). */
  maxWaitNs?: bigint;
}

/**
 * Streaming form: records in as the tracker completes them; out, with trace ids, once their tree has
 * settled (the topmost ancestor ended `settleNs` ago) — children end before parents, so they wait.
 */
export class TraceLinker {
  private window: Rec[] = [];
  private pending = new Set<Rec>();
  private readonly settleNs: bigint;
  private readonly windowNs: bigint;
  private readonly maxRecords: number;
  private readonly useHeaders: boolean;

  constructor(opts: TraceLinkerOptions = {}) {
    this.settleNs = opts.settleNs ?? 1_000_000_000n;
    this.windowNs = opts.windowNs ?? 10_000_000_000n;
    this.maxRecords = opts.maxRecords ?? 50_000;
    this.useHeaders = opts.useHeaders ?? true;
    this.parentMayArrive = opts.parentMayArrive;
    this.maxWaitNs = opts.maxWaitNs ?? 60_000_000_000n;
  }
  private readonly parentMayArrive: ((r: RequestRecord) => boolean) | undefined;
  private readonly maxWaitNs: bigint;

  add(r: Rec): void {
    r.spanId ??= r.id;
    this.window.push(r);
    this.pending.add(r);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Records whose trace is decided, with traceId/parentSpanId set. `nowNs`: CLOCK_MONOTONIC. */
  flush(nowNs: bigint, force = false): Rec[] {
    if (this.pending.size === 0) return [];
    const ix = new WindowIndex(this.window);
    const parentOf = new Map<Rec, Rec>();
    for (const r of this.pending) {
      const p = findParent(r, ix, this.useHeaders);
      if (!p) {
        delete r.parentSpanId;
        continue;
      }
      parentOf.set(r, p.parent);
      r.parentSpanId = p.parent.spanId ?? p.parent.id;
      r.linkScore = p.score;
      r.linkedBy = p.by;
    }
    // decide per tree: the top of each pending record's ancestry
    const ready = new Map<Rec, Rec[]>(); // top -> pending members
    for (const r of this.pending) {
      let top = r;
      for (let guard = 0; guard < 64; guard++) {
        const p = parentOf.get(top);
        if (!p) break;
        top = p;
        if (!this.pending.has(top)) break; // an emitted ancestor: its trace id is final
      }
      const l = ready.get(top);
      if (l) l.push(r);
      else ready.set(top, [r]);
    }
    const out: Rec[] = [];
    for (const [top, members] of ready) {
      const settled = force || !this.pending.has(top) || (top.endNs + this.settleNs <= nowNs &&
        (top.endNs + this.maxWaitNs <= nowNs || !this.parentMayArrive?.(top)));
      if (!settled) continue;
      const tid = top.traceId ?? traceIdOf(this.pending.has(top) ? [top, ...members.filter((m) => m !== top)] : members);
      for (const m of members) {
        m.traceId = tid;
        this.pending.delete(m);
        out.push(m);
      }
    }
    this.prune(nowNs);
    return out.sort(byStart);
  }

  private prune(nowNs: bigint): void {
    const cut = nowNs - this.windowNs;
    if (this.window.length > this.maxRecords || (this.window[0] && this.window[0].endNs < cut)) {
      this.window = this.window.filter((r) => this.pending.has(r) || r.endNs >= cut);
      if (this.window.length > this.maxRecords) {
        const drop = this.window.length - this.maxRecords;
        for (const r of this.window.slice(0, drop)) this.pending.delete(r);
        this.window = this.window.slice(drop);
      }
    }
  }
}

// ---- trees for display -------------------------------------------------------------------------

export interface TraceNode {
  record: Rec;
  /** The callee's own record of this call when both ends were observed (the server side). */
  server?: Rec;
  children: TraceNode[];
}

/** The records of one trace as trees; a client span and its exchange partner are one node. */
export function buildTraceTree(records: Rec[]): TraceNode[] {
  const bySpan = new Map<string, Rec>();
  for (const r of records) bySpan.set(r.spanId ?? r.id, r);
  const kids = new Map<string, Rec[]>();
  const roots: Rec[] = [];
  for (const r of [...records].sort(byStart)) {
    if (r.parentSpanId && bySpan.has(r.parentSpanId)) {
      const l = kids.get(r.parentSpanId);
      if (l) l.push(r);
      else kids.set(r.parentSpanId, [r]);
    } else roots.push(r);
  }
  const build = (r: Rec): TraceNode => {
    const direct = kids.get(r.spanId ?? r.id) ?? [];
    const partner = r.side === 'client' ? direct.find((c) => c.side === 'server' && c.linkedBy === 'exchange') : undefined;
    const node: TraceNode = { record: r, children: [] };
    const childRecs = direct.filter((c) => c !== partner);
    if (partner) {
      node.server = partner;
      childRecs.push(...(kids.get(partner.spanId ?? partner.id) ?? []));
    }
    node.children = childRecs.sort(byStart).map(build);
    return node;
  };
  return roots.map(build);
}

function ms(ns: bigint): string {
  const v = Number(ns) / 1e6;
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

/** Indented text, one line per call. */
export function formatTraceTree(roots: TraceNode[]): string {
  const lines: string[] = [];
  const t0 = roots.reduce((m, n) => (n.record.startNs < m ? n.record.startNs : m), roots[0]?.record.startNs ?? 0n);
  const walk = (n: TraceNode, depth: number) => {
    const r = n.record;
    const s = n.server;
    const what = r.protocol === 'http1' ? `${r.method} ${r.endpoint}` : `${r.method} ${r.endpoint.slice(0, 60)}`;
    const status = r.httpStatus ? String(r.httpStatus) : r.status || (r.incomplete ? 'no response' : '');
    const took = s ? `${ms(r.durationNs)} ms (server ${ms(s.durationNs)} ms)` : `${ms(r.durationNs)} ms`;
    const link = r.linkedBy && r.linkedBy !== 'header' && r.linkedBy !== 'exchange' && (r.linkScore ?? 1) < 1 ? ` [link ${r.linkedBy} p=${(r.linkScore ?? 1).toFixed(2)}]` : '';
    lines.push(`${'  '.repeat(depth)}+${ms(r.startNs - t0).padStart(7)} ms  ${r.clientService} -> ${r.serverService}  ${r.protocol} ${what}  ${status}${r.error ? ' ERROR' : ''}  ${took}${r.tls ? ' tls' : ''}${link}`);
    for (const c of n.children) walk(c, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  return lines.join('\n');
}

/** service -> service paths of a trace (root to each leaf), for aggregation. */
export function tracePaths(roots: TraceNode[]): string[] {
  const out: string[] = [];
  const walk = (n: TraceNode, path: string[]) => {
    const p = path.length ? [...path, n.record.serverService] : [n.record.clientService, n.record.serverService];
    if (n.children.length === 0) out.push(p.join(' > '));
    for (const c of n.children) walk(c, p);
  };
  for (const r of roots) walk(r, []);
  return out;
}
