// HTTP/2 cleartext (h2c with prior knowledge): frames are length-prefixed (truncation-friendly), header
// blocks are HPACK-decoded per direction. One record per stream, closed by the server's END_STREAM or
// a RST_STREAM; gRPC status comes from the trailers. HPACK is stateful: once a header block of a
// direction is lost, that direction's headers cannot be decoded any more and its streams are reported
// incomplete (never guessed).
import { u32be } from './bytes.js';
import { HpackDecoder } from './hpack.js';
import { normalisePath } from './route.js';
import type { Emit, ProtocolSession, SessionCounters, SessionOptions } from './session.js';
import { INVALID, NEED_MORE, StreamDecoder } from './stream.js';
import type { Chunk, Http2Record } from './types.js';

export const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const MAX_FRAME = 1 << 24;
const MAX_BLOCK = 64 * 1024;

const enum F {
  Data = 0,
  Headers = 1,
  RstStream = 3,
  PushPromise = 5,
  Continuation = 9,
}

interface H2Stream {
  id: number;
  startNs: bigint;
  method: string;
  path: string;
  authority: string;
  status: number;
  grpcStatus: number; // -1 when absent
  grpcMessage: string;
  reqBytes: number;
  respBytes: number;
  headersLost: boolean;
  reset: number; // RST_STREAM error code, -1 when none
}

class H2FrameDecoder extends StreamDecoder {
  readonly hpack = new HpackDecoder();
  private prefaceDone: boolean;
  private block: Uint8Array[] = [];
  private blockLen = 0;
  private blockStream = 0;
  private blockEndStream = false;

  constructor(
    private readonly s: Http2Session,
    private readonly client: boolean,
  ) {
    super();
    this.prefaceDone = !client;
  }

  protected canStart(b: Uint8Array): boolean {
    if (this.client && !this.prefaceDone) return b.length >= 14 && String.fromCharCode(...b.subarray(0, 14)) === 'PRI * HTTP/2.0';
    // resynchronising on a frame header is possible, but HPACK state is gone: headers stay undecodable
    return b.length >= 9 && b[3] <= 9 && ((b[0] << 16) | (b[1] << 8) | b[2]) <= MAX_FRAME && (b[5] & 0x80) === 0;
  }

  protected onLost(): void {
    // unknown bytes may have held a header block: the dynamic table is no longer in sync
    this.hpack.broken = true;
    this.block = [];
    this.blockLen = 0;
  }

  protected step(b: Uint8Array, off: number, end: number, final: boolean): number {
    if (!this.prefaceDone) {
      if (end - off < 24) return NEED_MORE;
      for (let i = 0; i < 24; i++) if (b[off + i] !== H2_PREFACE.charCodeAt(i)) return INVALID;
      this.prefaceDone = true;
      return 24;
    }
    if (end - off < 9) return NEED_MORE;
    const len = (b[off] << 16) | (b[off + 1] << 8) | b[off + 2];
    const type = b[off + 3];
    const flags = b[off + 4];
    const sid = u32be(b, off + 5) & 0x7fffffff;
    const size = 9 + len;
    const p = off + 9;
    const isBlock = type === F.Headers || type === F.Continuation || type === F.PushPromise;
    if (isBlock && size > end - off && !final && len <= MAX_BLOCK) return NEED_MORE;
    const stop = Math.min(end, off + size);
    this.s.frameBytes(sid, size, this.client);
    switch (type) {
      case F.Data:
        if (flags & 1) this.s.endStream(sid, this.client, this.ts);
        break;
      case F.Headers: {
        let i = p;
        let padLen = 0;
        if (flags & 0x8) padLen = b[i++];
        if (flags & 0x20) i += 5;
        const fragEnd = Math.max(i, off + size - padLen);
        this.startBlock(sid, (flags & 1) !== 0);
        this.addFragment(b, i, Math.min(fragEnd, stop), fragEnd > stop);
        if (flags & 0x4) this.finishBlock();
        break;
      }
      case F.Continuation:
        if (sid !== this.blockStream) return INVALID;
        this.addFragment(b, p, stop, off + size > stop);
        if (flags & 0x4) this.finishBlock();
        break;
      case F.PushPromise:
        this.hpack.broken = true; // server push is rare; its header block would need decoding too
        break;
      case F.RstStream:
        this.s.reset(sid, stop - p >= 4 ? u32be(b, p) : 0, this.ts);
        break;
      default:
        if (type > 9) return INVALID;
    }
    return size;
  }

  private startBlock(sid: number, endStream: boolean): void {
    this.block = [];
    this.blockLen = 0;
    this.blockStream = sid;
    this.blockEndStream = endStream;
  }

  private addFragment(b: Uint8Array, from: number, to: number, cut: boolean): void {
    if (cut) this.hpack.broken = true;
    if (to > from && this.blockLen + (to - from) <= MAX_BLOCK) {
      this.block.push(b.slice(from, to));
      this.blockLen += to - from;
    } else if (to > from) this.hpack.broken = true;
  }

  private finishBlock(): void {
    let buf: Uint8Array;
    if (this.block.length === 1) buf = this.block[0];
    else {
      buf = new Uint8Array(this.blockLen);
      let o = 0;
      for (const f of this.block) {
        buf.set(f, o);
        o += f.length;
      }
    }
    this.block = [];
    this.blockLen = 0;
    const headers = this.hpack.decode(buf, 0, buf.length);
    this.s.headers(this.blockStream, headers, this.client, this.blockEndStream, this.ts);
  }
}

export class Http2Session implements ProtocolSession {
  private readonly req = new H2FrameDecoder(this, true);
  private readonly resp = new H2FrameDecoder(this, false);
  private readonly streams = new Map<number, H2Stream>();
  private orphans = 0;

  constructor(
    private readonly emit: Emit,
    private readonly opts: SessionOptions = {},
  ) {}

  push(c: Chunk, isRequest: boolean): void {
    (isRequest ? this.req : this.resp).feed(c.bytes, c.totalLen, c.tsNs);
  }

  close(): void {
    for (const st of this.streams.values()) this.finish(st, st.startNs, true);
    this.streams.clear();
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

  frameBytes(sid: number, size: number, client: boolean): void {
    if (sid === 0) return;
    const st = this.streams.get(sid);
    if (!st) return;
    if (client) st.reqBytes += size;
    else st.respBytes += size;
  }

  headers(sid: number, h: [string, string][] | null, client: boolean, endStream: boolean, ts: bigint): void {
    if (client) {
      if (sid % 2 === 0) return;
      let st = this.streams.get(sid);
      if (!st) {
        if (this.streams.size >= (this.opts.maxPending ?? 4096)) return;
        st = { id: sid, startNs: ts, method: '', path: '', authority: '', status: 0, grpcStatus: -1, grpcMessage: '', reqBytes: 0, respBytes: 0, headersLost: false, reset: -1 };
        this.streams.set(sid, st);
      }
      if (!h) st.headersLost = true;
      else
        for (const [k, v] of h) {
          if (k === ':method') st.method = v;
          else if (k === ':path') st.path = v.split('?')[0];
          else if (k === ':authority') st.authority = v;
        }
      return;
    }
    const st = this.streams.get(sid);
    if (!st) {
      this.orphans++;
      return;
    }
    if (!h) st.headersLost = true;
    else
      for (const [k, v] of h) {
        if (k === ':status') {
          const n = Number(v);
          if (n >= 200 && n <= 599) st.status = n; // 1xx are interim
        } else if (k === 'grpc-status') st.grpcStatus = Number(v) >= 0 ? Number(v) : -1;
        else if (k === 'grpc-message') st.grpcMessage = v.slice(0, 200);
      }
    if (endStream) this.endStream(sid, false, ts);
  }

  endStream(sid: number, client: boolean, ts: bigint): void {
    if (client) return;
    const st = this.streams.get(sid);
    if (!st) return;
    this.streams.delete(sid);
    this.finish(st, ts, false);
  }

  reset(sid: number, code: number, ts: bigint): void {
    const st = this.streams.get(sid);
    if (!st) return;
    st.reset = code;
    this.streams.delete(sid);
    this.finish(st, ts, false);
  }

  private finish(st: H2Stream, endNs: bigint, closed: boolean): void {
    const known = !closed && !st.headersLost && st.method !== '' && (st.status > 0 || st.reset >= 0);
    const route = this.opts.normaliseRoute ? this.opts.normaliseRoute(st.path) : normalisePath(st.path);
    const grpcErr = st.grpcStatus > 0;
    const rec: Http2Record = {
      protocol: 'http2',
      startNs: st.startNs,
      endNs: endNs < st.startNs ? st.startNs : endNs,
      method: st.method,
      target: st.path ? route : '',
      status: known && st.status > 0 ? String(st.status) : '',
      error: known && (st.status >= 400 || grpcErr || st.reset > 0),
      reqBytes: st.reqBytes,
      respBytes: st.respBytes,
      path: st.path,
      httpStatus: known ? st.status : 0,
      streamId: st.id,
    };
    if (st.authority) rec.authority = st.authority;
    if (st.grpcStatus >= 0) rec.grpcStatus = st.grpcStatus;
    if (grpcErr) rec.errorText = st.grpcMessage || `grpc-status ${st.grpcStatus}`;
    else if (st.reset > 0) rec.errorText = `RST_STREAM ${st.reset}`;
    else if (st.status >= 400) rec.errorText = `HTTP ${st.status}`;
    if (rec.status === '') {
      rec.incomplete = true;
      rec.error = false;
    }
    if (st.headersLost) rec.truncated = true;
    this.emit(rec);
  }
}
