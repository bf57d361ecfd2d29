// Redis RESP2/RESP3: one decoder per direction walks values element by element (bulk payloads are
// skipped by length, so truncated heads keep framing); the session pairs commands and replies FIFO,
// which is exactly how redis answers pipelines.
import { ascii, indexOfCrlf, indexOfByte, parseDec, text } from './bytes.js';
import { DEFAULT_MAX_PENDING, type Emit, type ProtocolSession, type SessionCounters, type SessionOptions } from './session.js';
import { INVALID, NEED_MORE, StreamDecoder } from './stream.js';
import type { Chunk, RedisRecord } from './types.js';

const MAX_DEPTH = 32;
const MAX_COUNT = 1 << 24;
const MAX_LINE = 64 * 1024;

/** Commands accepted in inline form (also used by the detector to avoid matching random text). */
export const INLINE_COMMANDS = new Set([
  'PING', 'ECHO', 'GET', 'SET', 'DEL', 'EXISTS', 'INCR', 'DECR', 'INFO', 'QUIT', 'AUTH', 'SELECT', 'KEYS',
  'MGET', 'MSET', 'HGET', 'HSET', 'LPUSH', 'RPUSH', 'LPOP', 'RPOP', 'LRANGE', 'SADD', 'SMEMBERS', 'EXPIRE',
  'TTL', 'FLUSHALL', 'FLUSHDB', 'DBSIZE', 'CONFIG', 'CLIENT', 'MONITOR', 'SUBSCRIBE', 'PUBLISH', 'HELLO',
  'MULTI', 'EXEC', 'DISCARD', 'WATCH', 'SCAN', 'TYPE', 'SHUTDOWN', 'SAVE', 'COMMAND',
]);

const VALUE_TYPES = new Set('+-:$*_,#!=(%~|>'.split('').map((c) => c.charCodeAt(0)));

interface RedisRequest {
  command: string;
  key: string;
  args: number;
  startNs: bigint;
  bytes: number;
  truncated: boolean;
}

interface RedisReply {
  type: string;
  errorPrefix?: string;
  errorText?: string;
}

/** Is b[0..] a plausible start of a RESP value (reply) or command (request)? */
export function looksLikeResp(b: Uint8Array, request: boolean, totalLen = b.length): boolean {
  if (b.length < 3) return false;
  const t = b[0];
  let eol = indexOfCrlf(b, 1, Math.min(b.length, 1024));
  // a one-line reply longer than the captured head: judge the part we have
  if (eol < 0 && !request && totalLen > b.length && (t === 43 || t === 45)) eol = b.length;
  if (request) {
    if (t === 42) {
      if (eol < 0) return false;
      const n = parseDec(b, 1, eol);
      if (!(n >= 1 && n < MAX_COUNT)) return false;
      return eol + 2 >= b.length || b[eol + 2] === 36;
    }
    if (eol < 0) return false;
    const sp = indexOfByte(b, 32, 0, eol);
    const cmd = ascii(b, 0, sp < 0 ? eol : sp, 16).toUpperCase();
    return INLINE_COMMANDS.has(cmd);
  }
  if (!VALUE_TYPES.has(t) || eol < 0) return false;
  if (t === 36 || t === 42 || t === 58 || t === 37 || t === 126 || t === 62) {
    const n = parseDec(b, 1, eol);
    return Number.isFinite(n) && n >= -1;
  }
  if (t === 43 || t === 45) {
    for (let i = 1; i < eol; i++) if (b[i] < 32 || b[i] > 126) return false;
    if (t === 45) return b[1] >= 65 && b[1] <= 90; // errors start with an uppercase code
    return true;
  }
  return t === 95 ? eol === 1 : true;
}

class RespDecoder extends StreamDecoder {
  private stack: number[] = [];
  private msgStart = 0;
  private msgTs = 0n;
  private argIndex = 0;
  private command = '';
  private key = '';
  private args = 0;
  private truncated = false;
  private reply: RedisReply = { type: '' };

  constructor(
    private readonly session: RedisSession,
    private readonly isRequest: boolean,
  ) {
    super();
  }

  protected canStart(b: Uint8Array, totalLen: number): boolean {
    // A reply cannot come before its command: resyncing replies with nothing pending would only
    // latch onto the middle of a long reply.
    if (!this.isRequest && !this.session.awaitingReply()) return false;
    return looksLikeResp(b, this.isRequest, totalLen);
  }

  protected onLost(): void {
    const midValue = this.stack.length > 0;
    this.stack.length = 0;
    if (this.isRequest) {
      // A command cut by the captured head: its name (and maybe key) is known, its end is not. Report
      // it so the reply still pairs; it ran to the end of what this syscall carried.
      if (midValue && this.command !== '') {
        this.session.request({
          command: this.command,
          key: this.key,
          args: this.args,
          startNs: this.msgTs,
          bytes: this.streamPos - this.msgStart,
          truncated: true,
        });
      }
      return;
    }
    this.session.directionLost(this.isRequest, midValue ? this.reply : null, this.msgStart);
  }

  protected step(b: Uint8Array, off: number, end: number, final: boolean): number {
    const top = this.stack.length === 0;
    if (top) {
      this.msgStart = this.base + off;
      this.msgTs = this.ts;
      this.argIndex = 0;
      this.command = '';
      this.key = '';
      this.args = 0;
      this.truncated = false;
      this.reply = { type: '' };
    }
    const t = b[off];
    if (top && this.isRequest && t === 13) {
      // empty line between commands (redis-cli --pipe sends one); the server ignores it
      if (end - off < 2) return NEED_MORE;
      return b[off + 1] === 10 ? 2 : INVALID;
    }
    const lim = Math.min(end, off + MAX_LINE);
    const eol = indexOfCrlf(b, off + 1, lim);
    if (eol < 0) {
      if (final && top && !this.isRequest && (t === 45 || t === 43 || t === 58) && end - off >= 2) return this.cutLine(b, off, end, t);
      return lim === end ? NEED_MORE : INVALID;
    }
    const lineLen = eol + 2 - off;
    if (top && this.isRequest && t !== 42) return this.inline(b, off, eol, lineLen);
    if (!VALUE_TYPES.has(t)) return INVALID;
    if (top) this.reply.type = String.fromCharCode(t);
    switch (t) {
      case 36: // $ bulk string
      case 61: // = verbatim
      case 33: {
        // ! bulk error
        const n = parseDec(b, off + 1, eol);
        if (!(n >= -1)) return INVALID;
        if (n === -1) return this.element(lineLen);
        const ds = eol + 2;
        const wanted = (this.isRequest && this.stack.length === 1 && this.argIndex < 2) || (t === 33 && top);
        // the command name and key are worth waiting for when the rest of them comes in the next read
        if (wanted && ds + n + 2 > end && !final && n <= 1024) return NEED_MORE;
        if (this.isRequest && this.stack.length === 1 && this.argIndex < 2) {
          if (ds + n > end) this.truncated = true;
          const e = Math.min(end, ds + n);
          if (this.argIndex === 0) this.command = ascii(b, ds, e, 32).toUpperCase();
          else this.key = text(b, ds, e, 200);
        }
        if (t === 33 && top) {
          this.reply.errorText = text(b, ds, Math.min(end, ds + n), 200);
          this.reply.errorPrefix = errorPrefix(this.reply.errorText);
        }
        if (this.stack.length === 1) this.argIndex++;
        return this.element(lineLen + n + 2);
      }
      case 42: // * array
      case 62: // > push
      case 126: // ~ set
      case 37: // % map
      case 124: {
        // | attribute
        const n = parseDec(b, off + 1, eol);
        if (!(n >= -1 && n < MAX_COUNT)) return INVALID;
        if (top && this.isRequest) this.args = n;
        let count = t === 37 ? 2 * n : t === 124 ? 2 * n + 1 : n;
        if (n === -1) count = 0;
        if (count === 0) return this.element(lineLen);
        if (this.stack.length >= MAX_DEPTH) return INVALID;
        if (this.stack.length > 0) this.stack[this.stack.length - 1]--; // this aggregate is one element
        this.stack.push(count);
        return lineLen;
      }
      case 45: // - error
        if (top) {
          this.reply.errorText = text(b, off + 1, eol, 200);
          this.reply.errorPrefix = errorPrefix(this.reply.errorText);
        }
        return this.element(lineLen);
      default:
        if (t === 58 || t === 40) {
          // : integer, ( big number
          const n = parseDec(b, off + 1, eol);
          if (t === 58 && Number.isNaN(n) && eol - off - 1 < 16) return INVALID;
        }
        return this.element(lineLen);
    }
  }

  /**
   * A one-line reply cut by the captured head: its start (error code included) is all we need, but we
   * cannot see where it ends, so it is reported now and the stream waits for the next reply start.
   */
  private cutLine(b: Uint8Array, off: number, end: number, t: number): number {
    this.reply.type = String.fromCharCode(t);
    if (t === 45) {
      this.reply.errorText = text(b, off + 1, end, 200);
      this.reply.errorPrefix = errorPrefix(this.reply.errorText);
    }
    this.session.reply(this.reply, this.streamPos - this.msgStart, this.ts, this.msgStart);
    this.loseSync();
    return NEED_MORE;
  }

  /** One non-aggregate element of `len` bytes done: pop finished aggregates, maybe finish the value. */
  private element(len: number): number {
    const st = this.stack;
    if (st.length > 0) st[st.length - 1]--;
    // A finished aggregate was already counted in its parent when it was pushed: cascade pops.
    while (st.length > 0 && st[st.length - 1] === 0) st.pop();
    if (st.length === 0) this.endUnitAfter();
    return len;
  }

  private inline(b: Uint8Array, off: number, eol: number, lineLen: number): number {
    const line = ascii(b, off, eol, 1024).trim();
    if (line === '') return lineLen; // empty lines are allowed between inline commands
    const words = line.split(/\s+/);
    const cmd = words[0].toUpperCase();
    if (!/^[A-Z][A-Z0-9_.-]*$/.test(cmd)) return INVALID;
    this.command = cmd;
    this.key = words[1] ?? '';
    this.args = words.length;
    this.endUnitAfter();
    return lineLen;
  }

  protected override onUnitEnd(): void {
    const size = this.unitEnd - this.msgStart;
    if (this.isRequest) {
      this.session.request({
        command: this.command,
        key: this.key,
        args: this.args,
        startNs: this.msgTs,
        bytes: size,
        truncated: this.truncated,
      });
    } else {
      this.session.reply(this.reply, size, this.ts, this.msgStart);
    }
  }
}

function errorPrefix(msg: string): string {
  const m = /^([A-Z][A-Z0-9_]*)/.exec(msg);
  return m ? m[1] : 'ERR';
}

export class RedisSession implements ProtocolSession {
  private readonly req = new RespDecoder(this, true);
  private readonly resp = new RespDecoder(this, false);
  private readonly queue: RedisRequest[] = [];
  private orphans = 0;
  /** A reply whose framing was lost mid-value: it ends where the next command or reply begins. */
  private lostReply: { req: RedisRequest; rep: RedisReply; startPos: number } | null = null;
  private lastRespTs = 0n;

  constructor(
    private readonly emit: Emit,
    private readonly opts: SessionOptions = {},
  ) {}

  push(c: Chunk, isRequest: boolean): void {
    if (isRequest) this.req.feed(c.bytes, c.totalLen, c.tsNs);
    else {
      this.resp.feed(c.bytes, c.totalLen, c.tsNs);
      this.lastRespTs = c.tsNs;
    }
  }

  close(): void {
    if (this.lostReply) this.finishLost(this.resp.streamPos, this.lastRespTs);
    for (const r of this.queue.splice(0)) this.emitRecord(r, null, 0, r.startNs);
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

  awaitingReply(): boolean {
    return this.queue.length > 0;
  }

  request(r: RedisRequest): void {
    if (r.command === '') return;
    if (this.lostReply) this.finishLost(this.resp.streamPos, this.lastRespTs);
    if (this.queue.length >= (this.opts.maxPending ?? DEFAULT_MAX_PENDING)) {
      const old = this.queue.shift()!;
      this.emitRecord(old, null, 0, old.startNs);
    }
    this.queue.push(r);
  }

  reply(rep: RedisReply, size: number, ts: bigint, startPos: number): void {
    if (this.lostReply) this.finishLost(startPos, this.lastRespTs);
    const r = this.queue.shift();
    if (!r) {
      this.orphans++;
      return;
    }
    this.emitRecord(r, rep, size, ts);
  }

  directionLost(isRequest: boolean, midReply: RedisReply | null, startPos: number): void {
    if (isRequest) return;
    if (this.lostReply) this.finishLost(startPos, this.lastRespTs);
    // The reply in flight belongs to the oldest command; its end is found later.
    if (midReply && this.queue.length > 0) this.lostReply = { req: this.queue.shift()!, rep: { ...midReply }, startPos };
    // Commands sent before this point may have been answered inside the unframed bytes: pairing them
    // with the next reply we can read would shift the FIFO, so they end incomplete.
    const cut = this.resp.ts;
    while (this.queue.length > 0 && this.queue[0].startNs <= cut) {
      const r = this.queue.shift()!;
      this.emitRecord(r, null, 0, r.startNs);
    }
  }

  private finishLost(endPos: number, ts: bigint): void {
    const l = this.lostReply!;
    this.lostReply = null;
    this.emitRecord(l.req, l.rep, Math.max(0, endPos - l.startPos), ts);
  }

  private emitRecord(r: RedisRequest, rep: RedisReply | null, respBytes: number, endNs: bigint): void {
    const isErr = !!rep && (rep.type === '-' || rep.type === '!');
    const rec: RedisRecord = {
      protocol: 'redis',
      startNs: r.startNs,
      endNs: endNs < r.startNs ? r.startNs : endNs,
      method: r.command,
      target: r.key,
      status: rep ? (isErr ? rep.errorPrefix ?? 'ERR' : 'OK') : '',
      error: isErr,
      reqBytes: r.bytes,
      respBytes,
      args: r.args,
      respType: rep?.type ?? '',
    };
    if (isErr && rep?.errorText) rec.errorText = rep.errorText;
    if (!rep) rec.incomplete = true;
    if (r.truncated) rec.truncated = true;
    this.emit(rec);
  }
}
