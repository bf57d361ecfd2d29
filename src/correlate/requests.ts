// Requests: socket events of each connection (by socket id), in order, through the L7 parsers; every
// exchange the parsers complete becomes a RequestRecord joined to its flow id, the owning process/thread,
// the services at both ends and (when a TCP source is given) the kernel's TCP state of its connection.
//
// Both local ends of a connection are parsed independently: a call between two observed processes gives a
// `side: 'client'` record (caller's view) and a `side: 'server'` record (callee's view) with the same
// flow id — the trace linker pairs them, RED prefers the server's view.
import { randomBytes } from 'node:crypto';
import type { SocketEvent } from '../collect/sock-event.js';
import type { Endpoint, L4 } from '../model/flow.js';
import type { RequestRecord, RequestTcpSnapshot } from '../model/request.js';
import { ConnectionParser, RouteNormaliser, type DnsRecord, type L7Record, type ParserStats } from '../protocols/index.js';
import { ServiceResolver } from './services.js';

/** The TCP collector's per-connection counters, looked up by socket id (optional: APM works without). */
export interface TcpSnapshotSource {
  /** Counters as of `atNs` (CLOCK_MONOTONIC) when the source keeps history, else the latest. */
  lookup(sockId: bigint, atNs?: bigint): { srttUs: number; totalRetrans: number; cwnd?: number; state?: string } | undefined;
}

export interface RequestTrackerOptions {
  services?: ServiceResolver;
  routes?: RouteNormaliser;
  tcp?: TcpSnapshotSource;
  /** Parsers kept at most; the least recently active connection goes first (default 50 000). */
  maxConnections?: number;
  /** A connection without data for this long is closed (its pending requests become incomplete). */
  idleNs?: bigint;
}

export interface RequestTrackerStats {
  events: number;
  connections: number;
  records: number;
  evicted: number;
  byProtocol: Record<string, number>; // connections by detected protocol
  parser: ParserStats; // summed over closed and open connections
}

const HEADS_KEPT = 32; // request heads remembered per connection, to find tid + headers of a record

interface Head {
  tsNs: bigint;
  tid: number;
  dir: 'send' | 'recv';
  bytes: Uint8Array;
}

class Conn {
  readonly parser: ConnectionParser;
  heads: Head[] = [];
  lastNs = 0n;
  service = '';
  constructor(
    readonly key: string,
    readonly sockId: bigint,
    readonly pid: number,
    readonly comm: string,
    readonly cgroupId: bigint,
    readonly netns: number,
    readonly proto: L4,
    public local: Endpoint,
    public remote: Endpoint,
    public role: 'client' | 'server' | 'unknown',
    readonly tls: boolean,
    normaliseRoute: (p: string) => string,
  ) {
    this.parser = new ConnectionParser({ normaliseRoute });
  }
}

// Span ids: a random per-process prefix plus a counter — unique across agents in practice and far
// cheaper than 8 random bytes per request.
const SPAN_PREFIX = randomBytes(4).toString('hex');
let spanCounter = 0;
export function newSpanId(): string {
  spanCounter = (spanCounter + 1) >>> 0;
  return SPAN_PREFIX + spanCounter.toString(16).padStart(8, '0');
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}
function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

/** The flow id src/correlate/flows.ts gives this connection (netns only in the key for loopback). */
export function flowIdOf(proto: L4, netns: number, client: Endpoint, server: Endpoint): string {
  const local = isLoopback(client.ip) || isLoopback(server.ip) || isUnspecified(client.ip) || isUnspecified(server.ip);
  return `${local ? netns : 0}:${proto}:${client.ip}:${client.port}-${server.ip}:${server.port}`;
}

const dec = new TextDecoder('latin1');

/** X-Request-Id and traceparent from a captured HTTP request head. */
export function propagationHeaders(head: Uint8Array): { requestId?: string; traceparent?: string } {
  const n = Math.min(head.length, 4096);
  const text = dec.decode(head.subarray(0, n));
  const end = text.indexOf('\r\n\r\n');
  const hdrs = end >= 0 ? text.slice(0, end) : text;
  const out: { requestId?: string; traceparent?: string } = {};
  const rid = /\r\nx-request-id:[ \t]*([^\r\n]{1,128})/i.exec(hdrs);
  if (rid) out.requestId = rid[1]!.trim();
  const tp = /\r\ntraceparent:[ \t]*([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})/i.exec(hdrs);
  if (tp) out.traceparent = tp[1]!.toLowerCase();
  return out;
}

export class RequestTracker {
  readonly services: ServiceResolver;
  readonly routes: RouteNormaliser;
  private readonly conns = new Map<string, Conn>(); // insertion order = LRU order (re-inserted on use)
  private readonly opts: RequestTrackerOptions;
  private readonly closedStats: ParserStats = { chunks: 0, bytes: 0, records: 0, parseErrors: 0, exceptions: 0, resyncs: 0, skippedChunks: 0, orphanResponses: 0 };
  private counters = { events: 0, records: 0, evicted: 0 };
  // server-side connections with a request in progress (request bytes in, no response bytes out yet), by pid
  private readonly openInbound = new Map<number, Map<string, bigint>>();
  // client-side connections with a request sent and its record not yet complete, by flow id: the callee's
  // record of such an exchange may complete first, and its caller's record (its trace parent) is on the way
  private readonly openOutbound = new Map<string, bigint>();

  constructor(opts: RequestTrackerOptions = {}) {
    this.opts = opts;
    this.services = opts.services ?? new ServiceResolver();
    this.routes = opts.routes ?? new RouteNormaliser();
  }

  /** Feeds one socket event (any kind); returns the requests it completed. */
  push(ev: SocketEvent): RequestRecord[] {
    this.counters.events++;
    if (ev.kind === 'close') return this.closeConn(`s${ev.sockId}`);
    if (ev.kind === 'accept' || ev.kind === 'connect') {
      if (ev.kind === 'accept' && ev.local.port) this.services.learnEndpoint(ev.local, ev.netns, this.services.ofProcess(ev.pid, ev.comm, ev.local.port), true);
      return [];
    }
    if (ev.kind !== 'data' || ev.dir === 'none' || ev.bytes <= 0 || ev.payload.length === 0) return [];
    return this.pushData(ev, false);
  }

  /**
   * Plaintext from the TLS uprobes, already joined to its socket (the event's socket fields are the
   * socket's, payload/bytes/dir the plaintext's). Parsed on its own connection state, marked tls.
   */
  pushPlaintext(ev: SocketEvent): RequestRecord[] {
    this.counters.events++;
    if (ev.bytes <= 0 || ev.payload.length === 0 || ev.dir === 'none') return [];
    return this.pushData(ev, true);
  }

  /** A TLS connection's socket closed: flush its plaintext parser too. */
  closeSocket(sockId: bigint): RequestRecord[] {
    return [...this.closeConn(`s${sockId}`), ...this.closeConn(`t${sockId}`)];
  }

  private pushData(ev: SocketEvent, tls: boolean): RequestRecord[] {
    const key = `${tls ? 't' : 's'}${ev.sockId}`;
    let c = this.conns.get(key);
    if (c) {
      this.conns.delete(key); // re-insert: most recently used last
      if (c.remote.port === 0 && ev.remote.port !== 0) c.remote = ev.remote;
      if (c.role === 'unknown' && ev.role !== 'unknown') c.role = ev.role;
    } else {
      if (ev.remote.port === 0 && ev.proto === 'tcp') return []; // no peer: nothing to join to
      c = new Conn(key, ev.sockId, ev.pid, ev.comm, ev.cgroupId, ev.netns, ev.proto, ev.local, ev.remote, ev.role, tls, (p) => this.routes.normalise(c!.service || '?', p));
      c.service = this.services.ofProcess(ev.pid, ev.comm, ev.role === 'server' ? ev.local.port : undefined);
      if (ev.local.port) this.services.learnEndpoint(ev.local, ev.netns, c.service, ev.role === 'server');
      this.makeRoom();
    }
    this.conns.set(key, c);
    c.lastNs = ev.tsNs;
    const head: Head = { tsNs: ev.tsNs, tid: ev.tid, dir: ev.dir as 'send' | 'recv', bytes: ev.payload };
    c.heads.push(head);
    if (c.heads.length > HEADS_KEPT) c.heads.shift();
    if (c.role === 'server') this.trackOpen(c, head);
    else if (c.role === 'client' && head.dir === 'send' && ev.proto === 'tcp') {
      const f = flowIdOf(c.proto, c.netns, c.local, c.remote);
      if (!this.openOutbound.has(f)) this.openOutbound.set(f, ev.tsNs);
    }
    // UDP (DNS) sockets may be unconnected: each datagram names its own peer
    const recs = c.parser.push({ dir: head.dir, role: c.role, tsNs: ev.tsNs, bytes: ev.payload, totalLen: ev.bytes });
    if (recs.length === 0) return [];
    if (c.role === 'client') this.openOutbound.delete(flowIdOf(c.proto, c.netns, c.local, c.remote));
    if (ev.proto === 'udp' && ev.remote.port) c.remote = ev.remote;
    return recs.map((r) => this.toRecord(c!, r));
  }

  private trackOpen(c: Conn, h: Head): void {
    let m = this.openInbound.get(c.pid);
    if (h.dir === 'recv') {
      if (!m) this.openInbound.set(c.pid, (m = new Map()));
      if (!m.has(c.key)) m.set(c.key, h.tsNs);
    } else if (m) {
      m.delete(c.key);
      if (m.size === 0) this.openInbound.delete(c.pid);
    }
  }

  /**
   * Start of the oldest request this process is serving right now (request in, no response out yet),
   * or undefined. Outbound calls made after it may still get it as their parent.
   */
  openInboundSince(pid: number): bigint | undefined {
    const m = this.openInbound.get(pid);
    if (!m) return undefined;
    let min: bigint | undefined;
    for (const t of m.values()) if (min === undefined || t < min) min = t;
    return min;
  }

  /**
   * When a request was sent on this flow by a local client whose record of it is not complete yet, the
   * send time: a server-side record on the flow starting after it will get that record as its parent.
   */
  openOutboundSince(flowId: string): bigint | undefined {
    return this.openOutbound.get(flowId);
  }

  private closeConn(key: string): RequestRecord[] {
    const c = this.conns.get(key);
    if (!c) return [];
    this.conns.delete(key);
    if (c.role === 'client') this.openOutbound.delete(flowIdOf(c.proto, c.netns, c.local, c.remote));
    const open = this.openInbound.get(c.pid);
    if (open?.delete(key) && open.size === 0) this.openInbound.delete(c.pid);
    const recs = c.parser.close().map((r) => this.toRecord(c, r));
    this.addStats(c.parser.stats());
    return recs;
  }

  private addStats(s: ParserStats): void {
    for (const k of Object.keys(s) as (keyof ParserStats)[]) this.closedStats[k] += s[k];
  }

  private makeRoom(): void {
    const max = this.opts.maxConnections ?? 50_000;
    while (this.conns.size >= max) {
      const oldest = this.conns.keys().next().value as string;
      const c = this.conns.get(oldest)!;
      this.conns.delete(oldest);
      if (c.role === 'client') this.openOutbound.delete(flowIdOf(c.proto, c.netns, c.local, c.remote));
      const open = this.openInbound.get(c.pid);
      if (open?.delete(oldest) && open.size === 0) this.openInbound.delete(c.pid);
      this.addStats(c.parser.stats());
      this.counters.evicted++;
    }
  }

  /** Closes connections idle since before `nowNs - idleNs`; returns what their close completed. */
  evictIdle(nowNs: bigint): RequestRecord[] {
    const idle = this.opts.idleNs ?? 300_000_000_000n;
    const out: RequestRecord[] = [];
    for (const [key, c] of this.conns) {
      if (nowNs - c.lastNs <= idle) break; // LRU order: the rest are newer
      out.push(...this.closeConn(key));
      this.counters.evicted++;
    }
    return out;
  }

  /** Closes every connection (end of capture). */
  closeAll(): RequestRecord[] {
    const out: RequestRecord[] = [];
    for (const key of [...this.conns.keys()]) out.push(...this.closeConn(key));
    return out;
  }

  private toRecord(c: Conn, r: L7Record): RequestRecord {
    this.counters.records++;
    // the chunk that carried the first request byte: its thread, its direction (-> our role), its headers
    let head: Head | undefined;
    for (let i = c.heads.length - 1; i >= 0; i--) {
      const h = c.heads[i]!;
      if (h.tsNs <= r.startNs) { head = h; break; }
    }
    // a request of more than HEADS_KEPT chunks has pushed its first one out: its thread is the oldest
    // chunk's still (the same request), its propagation headers are lost
    const tidHead = head ?? c.heads[0];
    const role = c.role !== 'unknown' ? c.role : head ? (head.dir === 'send' ? 'client' : 'server') : 'unknown';
    const side = role === 'server' ? 'server' : 'client';
    const client = side === 'client' ? c.local : c.remote;
    const server = side === 'client' ? c.remote : c.local;
    const services = this.services;
    if (r.protocol === 'dns' && (r as DnsRecord).addresses.length) services.learnDns(r.target, (r as DnsRecord).addresses);
    const clientService = side === 'client' ? c.service : services.nameOf(client, c.netns, false);
    const serverService = side === 'server' ? c.service : services.nameOf(server, c.netns, true);
    const id = newSpanId();
    const rec: RequestRecord = {
      id,
      spanId: id,
      protocol: r.protocol,
      side,
      startNs: r.startNs,
      endNs: r.endNs,
      durationNs: r.endNs - r.startNs,
      method: r.method,
      endpoint: r.target,
      status: r.status,
      error: r.error,
      reqBytes: r.reqBytes,
      respBytes: r.respBytes,
      flowId: flowIdOf(c.proto, c.netns, client, server),
      sockId: c.sockId,
      proto: c.proto,
      netns: c.netns,
      pid: c.pid,
      tid: tidHead?.tid ?? 0,
      comm: c.comm,
      cgroupId: c.cgroupId,
      client,
      server,
      clientService,
      serverService,
    };
    if (r.errorText) rec.errorText = r.errorText;
    if (r.incomplete) rec.incomplete = true;
    if (c.tls) rec.tls = true;
    if (r.protocol === 'http1') {
      rec.path = r.path;
      rec.httpStatus = r.httpStatus;
      if (head) {
        const h = propagationHeaders(head.bytes);
        if (h.requestId) rec.requestIdHeader = h.requestId;
        if (h.traceparent) rec.traceparent = h.traceparent;
      }
    }
    const tcp = this.tcpSnapshot(c, head, r.endNs);
    if (tcp) rec.tcp = tcp;
    return rec;
  }

  private tcpSnapshot(c: Conn, head: Head | undefined, endNs: bigint): RequestTcpSnapshot | undefined {
    if (!this.opts.tcp || c.proto !== 'tcp') return undefined;
    const now = this.opts.tcp.lookup(c.sockId, endNs);
    if (!now) return undefined;
    const before = head ? this.opts.tcp.lookup(c.sockId, head.tsNs) : undefined;
    const snap: RequestTcpSnapshot = {
      srttUs: now.srttUs,
      totalRetrans: now.totalRetrans,
      retransmits: before ? Math.max(0, now.totalRetrans - before.totalRetrans) : 0,
    };
    if (now.cwnd !== undefined) snap.cwnd = now.cwnd;
    if (now.state !== undefined) snap.state = now.state;
    return snap;
  }

  stats(): RequestTrackerStats {
    const parser = { ...this.closedStats };
    const byProtocol: Record<string, number> = {};
    for (const c of this.conns.values()) {
      const s = c.parser.stats();
      for (const k of Object.keys(s) as (keyof ParserStats)[]) parser[k] += s[k];
      byProtocol[c.parser.protocol] = (byProtocol[c.parser.protocol] ?? 0) + 1;
    }
    return { ...this.counters, connections: this.conns.size, byProtocol, parser };
  }
}
