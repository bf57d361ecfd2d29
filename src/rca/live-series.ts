// Live series for the fault pipeline: the agent's request records and TCP samples -> per-second SeriesPoints,
// named exactly as the bench recordings are (red-series.ts), so the live alerts are the ones the bench
// measured. Pure: no kernel, the agent hands in what its collectors read.
//   endpoint/edge latency, errors, rate   request records (RedWindows, 5 s windows, emitted `lagS` late so
//                                          records that complete late still land in their second)
//   edge retransmits / resets              client connection samples, per-second deltas; a connection's edge is
//                                          known from a client-side request on it, or by its remote address
//   listen_queue (fill 0..1), listen_overflows   listener samples of ports a known service serves
import type { RequestRecord } from '../model/request.js';
import type { TcpConnSample, TcpListenerSample } from '../model/tcp.js';
import type { SeriesPoint } from '../detect/anomaly/detector.js';
import { entityId } from '../detect/anomaly/entity.js';
import { RedWindows, entitiesOf, isFailure } from './red-series.js';

export const RED_EMIT_LAG_S = 4; // same as the bench recorder: its detection latencies include this lag

export interface LiveSeriesOptions {
  windowS?: number;
  lagS?: number;
  /** Which services count (default all but the unnamed). */
  known?: (service: string) => boolean;
}

export class LiveSeries {
  private readonly red: RedWindows;
  private readonly lagS: number;
  private readonly known: (s: string) => boolean;
  readonly edges = new Set<string>(); // "caller\0callee"
  private readonly edgeOfSock = new Map<bigint, [string, string]>();
  private readonly serverAt = new Map<string, string>(); // "ip:port" -> service (from client-side requests)
  private readonly clientOfPid = new Map<number, string>();
  private readonly serviceOfListener = new Map<string, string>(); // "netns:port" -> service (server-side requests)
  private readonly prevConn = new Map<bigint, { retrans: number; resets: number }>();
  private readonly prevOverflow = new Map<bigint, number>();

  constructor(o: LiveSeriesOptions = {}) {
    this.red = new RedWindows(o.windowS ?? 5);
    this.lagS = o.lagS ?? RED_EMIT_LAG_S;
    this.known = o.known ?? ((s) => !!s && s !== 'unknown');
  }

  /** A completed request; `endWallMs`: when it ended, epoch ms. New call edges are reported through `onEdge`. */
  addRequest(r: RequestRecord, endWallMs: number, onEdge?: (caller: string, callee: string) => void): void {
    const sec = Math.floor(endWallMs / 1000);
    for (const k of entitiesOf(r, this.known)) this.red.addRequest(sec, k, Number(r.durationNs) / 1e6, isFailure(r));
    if (r.side === 'server' && this.known(r.serverService)) this.serviceOfListener.set(`${r.netns}:${r.server.port}`, r.serverService);
    if (r.side === 'client' && this.known(r.clientService) && this.known(r.serverService) && r.clientService !== r.serverService) {
      const key = `${r.clientService}\0${r.serverService}`;
      if (!this.edges.has(key)) {
        this.edges.add(key);
        onEdge?.(r.clientService, r.serverService);
      }
      this.edgeOfSock.set(r.sockId, [r.clientService, r.serverService]);
      this.serverAt.set(`${r.server.ip}:${r.server.port}`, r.serverService);
      this.clientOfPid.set(r.pid, r.clientService);
    }
    if (this.edgeOfSock.size > 100_000) this.edgeOfSock.clear(); // bounded: connections come and go
  }

  /** RED points for every second up to `nowMs` - lag. */
  redPoints(nowMs: number): SeriesPoint[] {
    return this.red.emitUpTo(Math.floor(nowMs / 1000) - this.lagS);
  }

  /** Edge retransmits/resets per second since the previous call (client ends only). */
  connPoints(conns: readonly TcpConnSample[], nowMs: number, intervalS = 1): SeriesPoint[] {
    const per = new Map<string, { retrans: number; resets: number }>();
    for (const c of conns) {
      if (c.role !== 'client') continue;
      let edge = this.edgeOfSock.get(c.sockId) ?? this.edgeOfSock.get(c.cookie);
      if (!edge) {
        const to = this.serverAt.get(`${c.remote.ip}:${c.remote.port}`);
        const from = this.clientOfPid.get(c.pid);
        if (to && from && from !== to) edge = [from, to];
      }
      if (!edge) continue;
      const cur = { retrans: c.totalRetrans, resets: c.resetsRecv + c.resetsSent };
      const prev = this.prevConn.get(c.sockId);
      this.prevConn.set(c.sockId, cur);
      const k = `${edge[0]}\0${edge[1]}`;
      const e = per.get(k) ?? { retrans: 0, resets: 0 };
      if (prev) { // a connection first seen now: its history is not this second's
        e.retrans += Math.max(0, cur.retrans - prev.retrans);
        e.resets += Math.max(0, cur.resets - prev.resets);
      }
      per.set(k, e);
    }
    if (this.prevConn.size > 100_000) this.prevConn.clear();
    const out: SeriesPoint[] = [];
    for (const k of this.edges) {
      const [from, to] = k.split('\0') as [string, string];
      const e = per.get(k) ?? { retrans: 0, resets: 0 };
      const entity = entityId({ kind: 'edge', from, to });
      out.push({ t: nowMs, entity, signal: 'retransmits', value: e.retrans / intervalS }, { t: nowMs, entity, signal: 'resets', value: e.resets / intervalS });
    }
    return out;
  }

  /**
   * Accept-queue fill (current queue / backlog, the highest listener of a service) and final ACKs dropped on
   * a full queue per second, for listeners whose port a known service serves. `serviceOf` may name listeners
   * no request was seen on yet (a service whose queue is full from the start answers nothing).
   */
  listenerPoints(listeners: readonly TcpListenerSample[], nowMs: number, intervalS = 1, serviceOf?: (l: TcpListenerSample) => string | undefined): SeriesPoint[] {
    const per = new Map<string, { fill: number; overflows: number }>();
    for (const l of listeners) {
      if (l.closedNs) continue;
      const svc = this.serviceOfListener.get(`${l.netns}:${l.local.port}`) ?? serviceOf?.(l);
      if (!svc || !this.known(svc)) continue;
      const prev = this.prevOverflow.get(l.sockId);
      this.prevOverflow.set(l.sockId, l.overflowDrops);
      const e = per.get(svc) ?? { fill: 0, overflows: 0 };
      e.fill = Math.max(e.fill, l.maxAckBacklog ? Math.min(1, l.ackBacklog / l.maxAckBacklog) : 0);
      if (prev !== undefined) e.overflows += Math.max(0, l.overflowDrops - prev);
      per.set(svc, e);
    }
    const out: SeriesPoint[] = [];
    for (const [svc, e] of per) {
      const entity = entityId({ kind: 'resource', resource: 'listen-queue', service: svc });
      out.push({ t: nowMs, entity, signal: 'listen_queue', value: e.fill, limit: 1 }, { t: nowMs, entity, signal: 'listen_overflows', value: e.overflows / intervalS });
    }
    return out;
  }
}
