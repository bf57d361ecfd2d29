// The APM pipeline in one place: socket events (and TLS plaintext) -> requests -> call chains -> RED,
// plus the record <-> store row mapping. The CLI, the agent and the e2e tests all drive this.
import type { SocketEvent } from '../collect/sock-event.js';
import type { RequestRecord } from '../model/request.js';
import type { Row } from '../store/types.js';
import { RedAggregator } from './red.js';
import { RequestTracker, type RequestTrackerOptions } from './requests.js';
import { ServiceResolver, type ServiceMapping } from './services.js';
import { EXCHANGE_START_SKEW_NS, TraceLinker, type TraceLinkerOptions } from './traces.js';

export interface ApmPipelineOptions extends Omit<RequestTrackerOptions, 'services'> {
  services?: ServiceResolver;
  mappings?: ServiceMapping[];
  linker?: TraceLinkerOptions;
  /** Linked records kept for trace look-ups (default 50 000). */
  keepRecords?: number;
}

export class ApmPipeline {
  readonly tracker: RequestTracker;
  readonly linker: TraceLinker;
  readonly red = new RedAggregator();
  private recent: RequestRecord[] = [];
  private readonly keep: number;

  constructor(opts: ApmPipelineOptions = {}) {
    const services = opts.services ?? new ServiceResolver(opts.mappings ? { mappings: opts.mappings } : {});
    this.tracker = new RequestTracker({ ...opts, services });
    this.linker = new TraceLinker({
      parentMayArrive: (r) => {
        // the callee's record completes before its caller's: wait for the caller's view of the exchange
        const since = r.side === 'server' ? this.tracker.openOutboundSince(r.flowId) : this.tracker.openInboundSince(r.pid);
        // the caller's send may be stamped a little after the callee's recv (both at syscall exit)
        return since !== undefined && since <= r.startNs + (r.side === 'server' ? EXCHANGE_START_SKEW_NS : 0n);
      },
      ...opts.linker,
    });
    this.keep = opts.keepRecords ?? 50_000;
  }

  onEvent(ev: SocketEvent): void {
    for (const r of this.tracker.push(ev)) this.linker.add(r);
    if (ev.kind === 'close') for (const r of this.tracker.closeSocket(ev.sockId)) this.linker.add(r);
  }

  onPlaintext(ev: SocketEvent): void {
    for (const r of this.tracker.pushPlaintext(ev)) this.linker.add(r);
  }

  /** Records whose call chain is decided (in start order), now counted in RED. `nowNs`: CLOCK_MONOTONIC. */
  tick(nowNs: bigint = process.hrtime.bigint()): RequestRecord[] {
    for (const r of this.tracker.evictIdle(nowNs)) this.linker.add(r);
    return this.accept(this.linker.flush(nowNs));
  }

  /** End of capture: every open connection closed, every pending record decided. */
  finish(): RequestRecord[] {
    for (const r of this.tracker.closeAll()) this.linker.add(r);
    return this.accept(this.linker.flush(process.hrtime.bigint(), true));
  }

  private accept(out: RequestRecord[]): RequestRecord[] {
    for (const r of out) this.red.add(r);
    if (out.length) {
      this.recent.push(...out);
      if (this.recent.length > this.keep * 1.5) this.recent = this.recent.slice(-this.keep);
    }
    return out;
  }

  /** Decided records still held, optionally of one trace. */
  records(traceId?: string): RequestRecord[] {
    return traceId ? this.recent.filter((r) => r.traceId === traceId) : [...this.recent];
  }
}

// ---- store rows ---------------------------------------------------------------------------------

/** CLOCK_MONOTONIC -> wall clock ns offset, taken once. */
export function monoToWallOffsetNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

const COLUMNS = new Set(['flowId', 'pid', 'tid', 'protocol', 'method', 'endpoint', 'durationNs', 'error', 'traceId', 'spanId']);

/** A record as a `requests` row (ts_ns wall clock of its start; the rest of the record in `data`). */
export function requestToRow(r: RequestRecord, monoToWallNs: bigint): Row {
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (!COLUMNS.has(k)) data[k] = typeof v === 'bigint' ? v.toString() : v;
  return {
    ts_ns: r.startNs + monoToWallNs,
    flow_id: r.flowId,
    pid: r.pid,
    tid: r.tid,
    service: r.side === 'server' ? r.serverService : r.clientService,
    protocol: r.protocol,
    method: r.method,
    endpoint: r.endpoint,
    status: r.httpStatus ?? null,
    duration_ns: r.durationNs,
    error: r.error,
    trace_id: r.traceId ?? null,
    span_id: r.spanId ?? r.id,
    data,
  };
}

const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(String(v ?? 0)));

/** Inverse of requestToRow, for rows read back from the store / API (64-bit values may be strings). */
export function rowToRequest(row: Record<string, unknown>): RequestRecord {
  const d = (typeof row.data === 'string' ? JSON.parse(row.data) : row.data ?? {}) as Record<string, unknown>;
  return {
    ...(d as unknown as RequestRecord),
    startNs: big(d.startNs),
    endNs: big(d.endNs),
    durationNs: big(row.duration_ns),
    sockId: big(d.sockId),
    cgroupId: big(d.cgroupId),
    flowId: String(row.flow_id ?? ''),
    pid: Number(row.pid ?? 0),
    tid: Number(row.tid ?? 0),
    protocol: String(row.protocol),
    method: String(row.method ?? ''),
    endpoint: String(row.endpoint ?? ''),
    error: Boolean(row.error),
    ...(row.trace_id ? { traceId: String(row.trace_id) } : {}),
    spanId: String(row.span_id ?? d.id),
  };
}

/** JSON text of a record (bigints as decimal strings). */
export function requestToJson(r: RequestRecord, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...extra, ...r }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Inverse of requestToJson. */
export function requestFromJson(line: string): RequestRecord {
  const o = JSON.parse(line) as Record<string, unknown>;
  return { ...(o as unknown as RequestRecord), startNs: big(o.startNs), endNs: big(o.endNs), durationNs: big(o.durationNs), sockId: big(o.sockId), cgroupId: big(o.cgroupId) };
}
