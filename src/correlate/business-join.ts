// Joins business events (uprobe captures) to the inbound request their thread was serving at that moment,
// so "payment amount by user" can be sliced by endpoint, trace and the flow that carried the request.
// Pure: records in, joined records out. RequestRecord (src/model/request.ts) satisfies ServedRequest.
//
// Rule: an event at time t on (pid, tid) belongs to the server-side request of that same thread whose
// [startNs, endNs] contains t; with several (a nested or pipelined exchange) the one that started last.
// When no request of that thread contains t, a request of the same process is used only if it is the
// only one of that process containing t (thread pools that hand work over; event-loop runtimes with
// overlapping requests on one thread stay unjoined rather than guessed).

/** What the join needs from a request record. */
export interface ServedRequest {
  id?: string;
  pid: number;
  tid: number;
  startNs: bigint;
  endNs: bigint;
  side?: 'client' | 'server'; // only server-side (inbound) requests are joined; absent = inbound
  serverService?: string;
  endpoint?: string;
  method?: string;
  httpStatus?: number;
  traceId?: string;
  flowId?: string;
}

/** What the join needs from a business event. */
export interface TimedThreadEvent {
  pid: number;
  tid: number;
  tsNs: bigint;
}

export interface RequestContext {
  requestId?: string;
  service?: string;
  endpoint?: string;
  method?: string;
  httpStatus?: number;
  traceId?: string;
  flowId?: string;
  joinedBy: 'thread' | 'process';
}

export type Joined<E> = E & { request?: RequestContext };

function contextOf(r: ServedRequest, joinedBy: RequestContext['joinedBy']): RequestContext {
  const c: RequestContext = { joinedBy };
  if (r.id !== undefined) c.requestId = r.id;
  if (r.serverService !== undefined) c.service = r.serverService;
  if (r.endpoint !== undefined) c.endpoint = r.endpoint;
  if (r.method !== undefined) c.method = r.method;
  if (r.httpStatus !== undefined) c.httpStatus = r.httpStatus;
  if (r.traceId !== undefined) c.traceId = r.traceId;
  if (r.flowId !== undefined) c.flowId = r.flowId;
  return c;
}

/** Requests of one thread (or process) sorted by start, for "which contained t" lookups. */
class Timeline {
  readonly items: ServedRequest[] = [];
  private sorted = true;
  add(r: ServedRequest): void {
    const last = this.items[this.items.length - 1];
    if (last && last.startNs > r.startNs) this.sorted = false;
    this.items.push(r);
  }
  /** Requests containing t, the latest start first. */
  containing(t: bigint): ServedRequest[] {
    if (!this.sorted) { this.items.sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0)); this.sorted = true; }
    // last index with startNs <= t
    let lo = 0;
    let hi = this.items.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.items[mid]!.startNs <= t) { at = mid; lo = mid + 1; } else hi = mid - 1;
    }
    const out: ServedRequest[] = [];
    for (let i = at; i >= 0; i--) {
      const r = this.items[i]!;
      if (r.endNs >= t) out.push(r);
    }
    return out;
  }
}

/** An index of served requests, reusable across many events (add requests as they complete). */
export class RequestIndex {
  private readonly byThread = new Map<string, Timeline>();
  private readonly byProcess = new Map<number, Timeline>();

  constructor(requests: Iterable<ServedRequest> = []) {
    for (const r of requests) this.add(r);
  }

  add(r: ServedRequest): void {
    if (r.side === 'client') return;
    const tk = `${r.pid}:${r.tid}`;
    let t = this.byThread.get(tk);
    if (!t) this.byThread.set(tk, (t = new Timeline()));
    t.add(r);
    let p = this.byProcess.get(r.pid);
    if (!p) this.byProcess.set(r.pid, (p = new Timeline()));
    p.add(r);
  }

  /** The request (pid, tid) was serving at tsNs, or undefined. */
  lookup(e: TimedThreadEvent): RequestContext | undefined {
    const own = this.byThread.get(`${e.pid}:${e.tid}`)?.containing(e.tsNs);
    if (own?.length) return contextOf(own[0]!, 'thread');
    const proc = this.byProcess.get(e.pid)?.containing(e.tsNs);
    if (proc?.length === 1) return contextOf(proc[0]!, 'process');
    return undefined;
  }
}

/** Each event with the request context its thread was serving (request absent when there is none). */
export function joinBusinessEvents<E extends TimedThreadEvent>(events: readonly E[], requests: Iterable<ServedRequest> | RequestIndex): Joined<E>[] {
  const index = requests instanceof RequestIndex ? requests : new RequestIndex(requests);
  return events.map((e) => {
    const request = index.lookup(e);
    return request ? { ...e, request } : { ...e };
  });
}
