// HTTP/1.x: request and response decoders over the framing engine, plus the session that pairs them
// FIFO (pipelining keeps order in HTTP/1.1). Bodies are never read, only counted: Content-Length is
// skipped (even through unknown bytes), chunked bodies are walked chunk-size line by chunk-size line.
import { ascii, containsLower, CR, indexOfCrlf, parseDec, startsWith, startsWithLower } from './bytes.js';
import { normalisePath } from './route.js';
import { DEFAULT_MAX_PENDING, type Emit, type ProtocolSession, type SessionCounters, type SessionOptions } from './session.js';
import { INVALID, NEED_MORE, StreamDecoder } from './stream.js';
import type { Chunk, HttpRecord } from './types.js';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
const MAX_HEAD = 16 * 1024;

function methodName(b: Uint8Array, off: number, len: number): string {
  for (const m of METHODS) if (m.length === len && b[off] === m.charCodeAt(0) && b[off + 1] === m.charCodeAt(1)) return m;
  return ascii(b, off, off + len);
}

/** Method token at b[off] followed by a space; returns its length or 0. */
export function matchMethod(b: Uint8Array, off: number, end: number): number {
  const c = b[off];
  // every method starts with one of these capitals: skip the list for anything else
  if (c !== 71 && c !== 80 && c !== 68 && c !== 72 && c !== 79 && c !== 67 && c !== 84) return 0;
  for (const m of METHODS) {
    if (startsWith(b, off, end, m) && off + m.length < end && b[off + m.length] === 32) return m.length;
  }
  return 0;
}

/** "HTTP/1.x DDD" at b[off]: returns the status or 0. */
export function matchStatusLine(b: Uint8Array, off: number, end: number): number {
  if (end - off < 12 || !startsWith(b, off, end, 'HTTP/1.') || b[off + 8] !== 32) return 0;
  if (b[off + 7] !== 48 && b[off + 7] !== 49) return 0;
  const st = parseDec(b, off + 9, off + 12);
  if (!(st >= 100 && st <= 599)) return 0;
  if (end - off > 12 && b[off + 12] !== 32 && b[off + 12] !== CR) return 0;
  return st;
}

interface Head {
  headEnd: number; // index just past the blank line ending the header block; -1 when not seen
  contentLength: number; // -1 when absent
  chunked: boolean;
  keepAlive: boolean;
  host?: string;
  upgrade: boolean;
}

/** Scans header lines in b[from, end) for the few headers that decide framing. */
function scanHeaders(b: Uint8Array, from: number, end: number, http11: boolean, wantHost: boolean): Head | null {
  // every field present from the start: one object shape for all heads (host is filled for requests only)
  const h: Head = { headEnd: -1, contentLength: -1, chunked: false, keepAlive: http11, host: undefined, upgrade: false };
  let i = from;
  const last = end - 1;
  while (i < end) {
    // the line end (CRLF; a bare CR is part of the line): a plain loop, header lines are short
    let eol = i;
    while (eol < last && (b[eol] !== CR || b[eol + 1] !== 10)) eol++;
    const partial = eol >= last;
    if (partial) eol = end; // last line of a cut head: use what it shows, never reject it
    else if (eol === i) {
      h.headEnd = eol + 2;
      break;
    }
    // cheap discriminators before the full compare: most lines are none of these four
    const c = b[i] | 0x20;
    const len = eol - i;
    if (c === 0x63 && len >= 11) {
      // content-length: (c-o-n-t-e-n-t - l) / connection: (c-o-n-n)
      const c3 = b[i + 3] | 0x20;
      if (c3 === 0x74 && len >= 15 && (b[i + 8] | 0x20) === 0x6c && startsWithLower(b, i, eol, 'content-length:')) {
        let s = i + 15;
        while (s < eol && b[s] === 32) s++;
        let e = eol;
        while (e > s && b[e - 1] === 32) e--;
        const n = parseDec(b, s, e);
        if (!(n >= 0)) {
          if (partial) break;
          return null;
        }
        h.contentLength = n;
      } else if (c3 === 0x6e && startsWithLower(b, i, eol, 'connection:')) {
        if (containsLower(b, i + 11, eol, 'close')) h.keepAlive = false;
        else if (containsLower(b, i + 11, eol, 'keep-alive')) h.keepAlive = true;
        if (containsLower(b, i + 11, eol, 'upgrade')) h.upgrade = true;
      }
    } else if (c === 0x74 && len >= 18 && (b[i + 1] | 0x20) === 0x72 && startsWithLower(b, i, eol, 'transfer-encoding:')) {
      // chunked must be the last coding; a substring check is enough for framing.
      if (containsLower(b, i + 18, eol, 'chunked')) h.chunked = true;
    } else if (wantHost && c === 0x68 && len >= 5 && b[i + 4] === 58 && startsWithLower(b, i, eol, 'host:')) {
      h.host = ascii(b, i + 5, eol, 256).trim();
    }
    i = eol + 2;
  }
  return h;
}

const enum St {
  Head,
  ChunkSize,
  Trailers,
  UntilClose,
}

/** Body walking shared by both directions; subclasses parse the head and report completion. */
abstract class HttpMessageDecoder extends StreamDecoder {
  protected st = St.Head;
  protected msgStart = 0;

  constructor(protected readonly session: Http1Session) {
    super();
  }

  protected abstract head(b: Uint8Array, off: number, end: number, final: boolean): number;
  protected abstract complete(size: number): void;

  protected step(b: Uint8Array, off: number, end: number, final: boolean): number {
    switch (this.st) {
      case St.Head:
        return this.head(b, off, end, final);
      case St.ChunkSize: {
        const lim = Math.min(end, off + 256);
        const eol = indexOfCrlf(b, off, lim);
        if (eol < 0) return lim === end ? NEED_MORE : INVALID;
        let size = 0;
        let i = off;
        for (; i < eol; i++) {
          const c = b[i];
          const d = c >= 48 && c <= 57 ? c - 48 : (c | 0x20) >= 97 && (c | 0x20) <= 102 ? (c | 0x20) - 87 : -1;
          if (d < 0) break;
          size = size * 16 + d;
        }
        if (i === off || (i < eol && b[i] !== 59 && b[i] !== 32) || size > 2 ** 40) return INVALID;
        if (size === 0) {
          this.st = St.Trailers;
          return eol + 2 - off;
        }
        return eol + 2 - off + size + 2; // data and its CRLF, skipped even when unknown
      }
      case St.Trailers: {
        const lim = Math.min(end, off + 4096);
        const eol = indexOfCrlf(b, off, lim);
        if (eol < 0) return lim === end ? NEED_MORE : INVALID;
        if (eol === off) {
          this.st = St.Head;
          this.endUnitAfter();
        }
        return eol + 2 - off;
      }
      case St.UntilClose:
        return Number.MAX_SAFE_INTEGER;
    }
  }

  protected override onUnitEnd(): void {
    this.complete(this.unitEnd - this.msgStart);
  }

  /** Sets up the body after a head of `headLen` bytes; returns what step() should return. */
  protected body(headLen: number, h: Head, noBody: boolean, untilClose: boolean): number {
    if (noBody) {
      this.endUnitAfter();
      return headLen;
    }
    if (h.chunked) {
      this.st = St.ChunkSize;
      return headLen;
    }
    if (h.contentLength >= 0) {
      this.endUnitAfter();
      return headLen + h.contentLength;
    }
    if (untilClose) {
      this.st = St.UntilClose;
      return headLen;
    }
    this.endUnitAfter();
    return headLen;
  }

  protected onLost(): void {
    this.st = St.Head;
    this.session.directionLost(this);
  }

  readingUntilClose(): boolean {
    return !this.lost && this.st === St.UntilClose;
  }
}

export interface RequestHead {
  method: string;
  path: string;
  version: string;
  host?: string;
  keepAlive: boolean;
  truncated: boolean;
}

class HttpRequestDecoder extends HttpMessageDecoder {
  protected canStart(b: Uint8Array): boolean {
    const m = matchMethod(b, 0, b.length);
    return m > 0 && b.length > m + 1 && (b[m + 1] === 47 || b[m + 1] === 42 || b[m + 1] === 104 || m === 7);
  }

  protected head(b: Uint8Array, off: number, end: number, final: boolean): number {
    const lim = Math.min(end, off + MAX_HEAD);
    const lineEnd = indexOfCrlf(b, off, lim);
    if (lineEnd < 0 && !final) return lim === end ? NEED_MORE : INVALID;
    const rl = parseRequestLine(b, off, lineEnd < 0 ? end : lineEnd);
    if (!rl) return INVALID;
    const h = scanHeaders(b, lineEnd < 0 ? end : lineEnd + 2, lim, rl.version === '1.1', true);
    if (!h) return INVALID;
    const he = h.headEnd;
    if (he < 0 && !final) return lim === end ? NEED_MORE : INVALID;
    this.msgStart = this.base + off;
    const headEnd = he;
    const req: RequestHead = { method: rl.method, path: rl.path, version: rl.version, host: h.host, keepAlive: h.keepAlive, truncated: he < 0 || rl.truncated };
    this.session.requestHead(req, this.ts, this.msgStart);
    if (h.upgrade || rl.method === 'CONNECT') this.session.mayUpgrade = true;
    if (he < 0) {
      // The head is cut: the body framing is unknown, wait for the next request start.
      this.loseSync();
      return NEED_MORE;
    }
    return this.body(headEnd - off, h, false, false);
  }

  protected complete(size: number): void {
    this.session.requestEnd(size, this.ts);
  }
}

/** "METHOD SP target SP HTTP/1.x" in b[off, end) (end may cut the line). */
export function parseRequestLine(
  b: Uint8Array,
  off: number,
  end: number,
): { method: string; path: string; version: string; truncated: boolean } | null {
  const ml = matchMethod(b, off, end);
  if (ml === 0) return null;
  const ps = off + ml + 1;
  let pe = ps;
  while (pe < end && b[pe] !== 32) {
    if (b[pe] < 33 || b[pe] > 126) return null;
    pe++;
  }
  if (pe === ps) return null;
  let version = '1.1';
  let truncated = true;
  if (pe < end) {
    if (!startsWith(b, pe + 1, end, 'HTTP/1.')) return null;
    const v = b[pe + 8];
    if (v !== 48 && v !== 49) return null;
    version = v === 48 ? '1.0' : '1.1';
    truncated = false;
  }
  // the query string is dropped before decoding: it is never output
  let qe = ps;
  while (qe < pe && b[qe] !== 63) qe++;
  return { method: methodName(b, off, ml), path: ascii(b, ps, qe, 2048), version, truncated };
}

export interface ResponseHead {
  status: number;
  version: string;
  keepAlive: boolean;
  chunked: boolean;
  truncated: boolean;
}

class HttpResponseDecoder extends HttpMessageDecoder {
  protected canStart(b: Uint8Array): boolean {
    return matchStatusLine(b, 0, b.length) > 0;
  }

  protected head(b: Uint8Array, off: number, end: number, final: boolean): number {
    const lim = Math.min(end, off + MAX_HEAD);
    const lineEnd = indexOfCrlf(b, off, lim);
    if (lineEnd < 0 && !final) return lim === end ? NEED_MORE : INVALID;
    const status = matchStatusLine(b, off, end);
    if (!status) return INVALID;
    const http11 = b[off + 7] === 49;
    const h = lineEnd < 0 ? null : scanHeaders(b, lineEnd + 2, lim, http11, false);
    if (lineEnd >= 0 && !h) return INVALID;
    const he = h ? h.headEnd : -1;
    if (he < 0 && !final) return lim === end ? NEED_MORE : INVALID;
    this.msgStart = this.base + off;
    const head: ResponseHead = {
      status,
      version: http11 ? '1.1' : '1.0',
      keepAlive: h ? h.keepAlive : http11,
      chunked: h ? h.chunked : false,
      truncated: he < 0,
    };
    if (status >= 100 && status < 200 && status !== 101) {
      // Interim response (100 Continue): not the answer, the request stays pending.
      if (he < 0) {
        this.loseSync();
        return NEED_MORE;
      }
      this.session.interim(he - off);
      return he - off;
    }
    const reqMethod = this.session.frontMethod();
    this.session.responseHead(head, this.ts, this.msgStart);
    if (he < 0 || !h) {
      this.loseSync();
      return NEED_MORE;
    }
    if (status === 101 || (reqMethod === 'CONNECT' && status < 300)) {
      // The connection stops speaking HTTP: close the exchange now and ignore the rest.
      this.session.responseEnd(he - off, this.ts);
      this.session.switchProtocols();
      return NEED_MORE;
    }
    const noBody = reqMethod === 'HEAD' || status === 204 || status === 304;
    return this.body(he - off, h, noBody, true);
  }

  protected complete(size: number): void {
    this.session.responseEnd(size, this.ts);
  }
}

interface PendingHttp {
  req: RequestHead;
  startNs: bigint;
  startPos: number;
  reqBytes: number;
  reqDone: boolean;
}

interface CurrentResponse {
  head: ResponseHead;
  pending?: PendingHttp; // undefined: orphan (no request seen)
  startPos: number; // stream offset of its head (sizes when framing is lost are offsets differences)
  interimBytes: number; // 100 Continue and friends that came before it
}

export class Http1Session implements ProtocolSession {
  private readonly req = new HttpRequestDecoder(this);
  private readonly resp = new HttpResponseDecoder(this);
  private readonly queue: PendingHttp[] = [];
  private current: CurrentResponse | null = null;
  private lastRespTs = 0n;
  private orphans = 0;
  private passthrough = false;
  mayUpgrade = false;
  private interimBytes = 0;

  constructor(
    private readonly emit: Emit,
    private readonly opts: SessionOptions = {},
  ) {}

  push(c: Chunk, isRequest: boolean): void {
    if (this.passthrough) return;
    if (isRequest) {
      this.req.feed(c.bytes, c.totalLen, c.tsNs);
    } else {
      this.resp.feed(c.bytes, c.totalLen, c.tsNs);
      this.lastRespTs = c.tsNs;
    }
  }

  close(): void {
    if (this.current && (this.resp.readingUntilClose() || this.resp.lost)) {
      this.finishCurrent(this.resp.streamPos - this.current.startPos, this.lastRespTs);
    }
    for (const p of this.queue.splice(0)) this.emitRecord(p, null, 0, p.startNs);
  }

  counters(): SessionCounters {
    return {
      parseErrors: this.req.parseErrors + this.resp.parseErrors,
      exceptions: this.req.exceptions + this.resp.exceptions,
      resyncs: this.req.resyncs + this.resp.resyncs,
      skippedChunks: this.req.skippedChunks + this.resp.skippedChunks,
      orphanResponses: this.orphans,
    };
  }

  // ---- events from the decoders ----

  requestHead(r: RequestHead, ts: bigint, pos: number): void {
    const prev = this.queue[this.queue.length - 1] ?? this.current?.pending;
    if (prev && !prev.reqDone) {
      prev.reqBytes = pos - prev.startPos; // its framing was lost: it ran up to this request
      prev.reqDone = true;
    }
    // A new request while the previous response lost its framing: that response is over.
    if (this.current && this.resp.lost) this.finishCurrent(this.resp.streamPos - this.current.startPos, this.lastRespTs);
    const max = this.opts.maxPending ?? DEFAULT_MAX_PENDING;
    if (this.queue.length >= max) {
      const old = this.queue.shift()!;
      this.emitRecord(old, null, 0, old.startNs);
    }
    this.queue.push({ req: r, startNs: ts, startPos: pos, reqBytes: 0, reqDone: false });
  }

  requestEnd(size: number, _ts: bigint): void {
    const last = this.queue[this.queue.length - 1];
    if (last && !last.reqDone) {
      last.reqBytes = size;
      last.reqDone = true;
    }
  }

  frontMethod(): string | undefined {
    return (this.current?.pending ?? this.queue[0])?.req.method;
  }

  responseHead(h: ResponseHead, _ts: bigint, pos: number): void {
    if (this.current) this.finishCurrent(pos - this.current.startPos, this.lastRespTs);
    const pending = this.queue.shift();
    if (!pending) this.orphans++;
    this.current = { head: h, pending, startPos: pos, interimBytes: this.interimBytes };
    this.interimBytes = 0;
  }

  interim(size: number): void {
    this.interimBytes += size;
  }

  responseEnd(size: number, ts: bigint): void {
    if (this.current) this.finishCurrent(size, ts);
  }

  switchProtocols(): void {
    this.passthrough = true;
    this.req.loseSync();
    this.resp.loseSync();
  }

  directionLost(d: HttpMessageDecoder): void {
    if (d === this.resp) {
      // Pipelined requests already sent may have been answered inside the bytes we could not frame:
      // pairing them with whatever response comes next would be wrong, so they end incomplete.
      const cut = this.resp.ts;
      if (this.current && this.queue.length > 0 && this.queue[0].startNs <= cut) {
        this.finishCurrent(this.resp.streamPos - this.current.startPos, cut);
      }
      while (this.queue.length > 0 && this.queue[0].startNs <= cut) {
        const p = this.queue.shift()!;
        this.emitRecord(p, null, 0, p.startNs);
      }
    } else {
      const last = this.queue[this.queue.length - 1];
      if (last && !last.reqDone) last.req.truncated = true;
    }
  }

  private finishCurrent(size: number, ts: bigint): void {
    const cur = this.current!;
    this.current = null;
    if (!cur.pending) return; // orphan: the request happened before capture began
    this.emitRecord(cur.pending, cur.head, size + cur.interimBytes, ts);
  }

  private emitRecord(p: PendingHttp, h: ResponseHead | null, respBytes: number, endNs: bigint): void {
    if (!p.reqDone) p.reqBytes = this.req.streamPos - p.startPos;
    const route = this.opts.normaliseRoute ? this.opts.normaliseRoute(p.req.path) : normalisePath(p.req.path);
    const status = h ? h.status : 0;
    const rec: HttpRecord = {
      protocol: 'http1',
      startNs: p.startNs,
      endNs: endNs < p.startNs ? p.startNs : endNs,
      method: p.req.method,
      target: route,
      status: h ? String(status) : '',
      error: status >= 500 || (status >= 400 && status < 500),
      reqBytes: p.reqBytes,
      respBytes,
      path: p.req.path,
      httpStatus: status,
      version: h?.version ?? p.req.version,
      keepAlive: h ? h.keepAlive && p.req.keepAlive : p.req.keepAlive,
      chunked: h?.chunked ?? false,
    };
    if (p.req.host) rec.host = p.req.host;
    if (!h) rec.incomplete = true;
    if (p.req.truncated || h?.truncated) rec.truncated = true;
    if (status >= 400) rec.errorText = `HTTP ${status}`;
    this.emit(rec);
  }
}
