// One parser per socket: detects the protocol from the first chunks, then hands every chunk to that
// protocol's session with its direction resolved to request/response. Never throws.
import { classifyChunk } from './detect.js';
import { DnsSession } from './dns.js';
import { Http1Session } from './http1.js';
import { Http2Session } from './http2.js';
import { MysqlSession } from './mysql.js';
import { PostgresSession } from './postgres.js';
import { RedisSession } from './redis.js';
import type { ProtocolSession, SessionOptions } from './session.js';
import { emptyStats, type Chunk, type Detected, type Direction, type L7Record, type ParserStats, type Protocol } from './types.js';

export interface ConnectionOptions extends SessionOptions {
  /** Skip detection (e.g. known from configuration). */
  protocol?: Protocol;
  /** Chunks looked at before the connection is declared 'unknown' for good (default 512, or 8 once 4 KiB were seen). */
  maxDetectChunks?: number;
}

const NONE: readonly L7Record[] = Object.freeze([]);
const PREFIX_MAX = 2048;

/** The first bytes of one direction, glued across reads while no bytes were lost (small writes). */
class Prefix {
  bytes = new Uint8Array(0);
  total = 0;
  contiguous = true;
  add(c: Chunk): boolean {
    if (!this.contiguous || this.bytes.length >= PREFIX_MAX) return false;
    const n = Math.min(c.bytes.length, PREFIX_MAX - this.bytes.length);
    const b = new Uint8Array(this.bytes.length + n);
    b.set(this.bytes);
    b.set(c.bytes.subarray(0, n), this.bytes.length);
    this.bytes = b;
    this.total += c.totalLen;
    if (c.bytes.length < c.totalLen || n < c.bytes.length) this.contiguous = false;
    return true;
  }
}

/** Glues runs of same-direction reads with no lost bytes, so a message split over tiny reads is whole. */
function mergeRuns(chunks: Chunk[]): Chunk[] {
  const out: Chunk[] = [];
  for (const c of chunks) {
    const last = out[out.length - 1];
    if (last && last.dir === c.dir && last.bytes.length === last.totalLen && last.totalLen < 65536) {
      const b = new Uint8Array(last.bytes.length + c.bytes.length);
      b.set(last.bytes);
      b.set(c.bytes, last.bytes.length);
      out[out.length - 1] = { ...last, bytes: b, totalLen: last.totalLen + c.totalLen };
    } else out.push(c);
  }
  return out;
}

function newSession(p: Protocol, emit: (r: L7Record) => void, opts: SessionOptions): ProtocolSession | null {
  switch (p) {
    case 'http1':
      return new Http1Session(emit, opts);
    case 'http2':
      return new Http2Session(emit, opts);
    case 'redis':
      return new RedisSession(emit, opts);
    case 'postgres':
      return new PostgresSession(emit, opts);
    case 'mysql':
      return new MysqlSession(emit, opts);
    case 'dns':
      return new DnsSession(emit, opts);
    default:
      return null; // detected but not parsed (tls)
  }
}

export class ConnectionParser {
  protocol: Detected = 'unknown';
  private session: ProtocolSession | null = null;
  private early: Chunk[] = [];
  private earlyBytes = 0;
  private prefixes: Record<Direction, Prefix> = { send: new Prefix(), recv: new Prefix() };
  private requestDir: Direction | null = null;
  private gaveUp = false;
  private out: L7Record[] = [];
  private readonly emitFn = (r: L7Record) => {
    this.out.push(r);
  };
  private readonly ownStats = emptyStats();
  /** Bytes that crossed the socket per direction, and those the emitted records account for. */
  private fed: Record<Direction, number> = { send: 0, recv: 0 };
  private claimed: Record<Direction, number> = { send: 0, recv: 0 };

  constructor(private readonly opts: ConnectionOptions = {}) {
    if (opts.protocol) this.start(opts.protocol);
  }

  /** Feeds one chunk; returns the records it completed (usually none). */
  push(c: Chunk): readonly L7Record[] {
    this.ownStats.chunks++;
    this.ownStats.bytes += c.totalLen;
    this.fed[c.dir] += Math.max(c.totalLen, c.bytes.length);
    try {
      if (this.requestDir === null && c.role !== 'unknown') {
        this.requestDir = c.role === 'client' ? 'send' : 'recv';
      }
      if (!this.session) {
        if (this.gaveUp || this.protocol !== 'unknown') {
          this.ownStats.skippedChunks++;
          return NONE;
        }
        this.early.push(c);
        this.earlyBytes += c.bytes.length;
        // the chunk alone first (the usual case: no copy); else glued to this direction's earlier reads
        const pre = this.prefixes[c.dir];
        const k = classifyChunk(c) ?? (pre.add(c) && pre.bytes.length > c.bytes.length ? classifyChunk({ ...c, bytes: pre.bytes, totalLen: pre.total }) : null);
        if (!k) {
          const max = this.opts.maxDetectChunks ?? (this.earlyBytes >= 4096 ? 8 : 512);
          if (this.early.length >= max) {
            this.gaveUp = true;
            this.ownStats.skippedChunks += this.early.length;
            this.early = [];
            this.prefixes = { send: new Prefix(), recv: new Prefix() };
          }
          return NONE;
        }
        if (this.requestDir === null) this.requestDir = k.request ? c.dir : c.dir === 'send' ? 'recv' : 'send';
        // Earlier chunks are replayed too: decoders start unsynchronised and skip what they cannot place.
        const replay = this.early.length > 1 ? mergeRuns(this.early) : this.early;
        this.early = [];
        this.prefixes = { send: new Prefix(), recv: new Prefix() };
        this.start(k.protocol);
        if (!this.session) return NONE;
        for (const r of replay) this.feed(r);
      } else {
        this.feed(c);
      }
    } catch {
      this.ownStats.exceptions++;
    }
    return this.drain();
  }

  /** The connection closed: returns the records a close completes, incomplete ones included. */
  close(): readonly L7Record[] {
    try {
      this.session?.close();
    } catch {
      this.ownStats.exceptions++;
    }
    return this.drain(true);
  }

  stats(): ParserStats {
    const s = { ...this.ownStats };
    if (this.session) {
      const c = this.session.counters();
      s.parseErrors += c.parseErrors;
      s.exceptions += c.exceptions;
      s.resyncs += c.resyncs;
      s.skippedChunks += c.skippedChunks;
      s.orphanResponses += c.orphanResponses;
    }
    return s;
  }

  private start(p: Protocol): void {
    this.protocol = p;
    this.session = newSession(p, this.emitFn, this.opts);
  }

  private feed(c: Chunk): void {
    const dir = this.requestDir ?? 'send';
    this.session!.push(c, c.dir === dir);
  }

  private drain(closing = false): readonly L7Record[] {
    if (this.out.length === 0) return NONE;
    const r = this.out;
    this.out = [];
    this.ownStats.records += r.length;
    const reqDir = this.requestDir ?? 'send';
    const respDir = reqDir === 'send' ? 'recv' : 'send';
    for (const rec of r) {
      if (closing || rec.incomplete) {
        // A length field promised bytes the connection closed (or lost framing) before delivering, or a
        // corrupt one promised gigabytes: an unfinished exchange counts only bytes that crossed the socket.
        // (A complete record may count a frame whose tail is still in flight: it arrives in the next reads.)
        const req = Math.max(0, Math.min(rec.reqBytes, this.fed[reqDir] - this.claimed[reqDir]));
        const resp = Math.max(0, Math.min(rec.respBytes, this.fed[respDir] - this.claimed[respDir]));
        if (req !== rec.reqBytes) rec.reqBytes = req;
        if (resp !== rec.respBytes) rec.respBytes = resp;
      }
      this.claimed[reqDir] += rec.reqBytes;
      this.claimed[respDir] += rec.respBytes;
    }
    return r;
  }
}
