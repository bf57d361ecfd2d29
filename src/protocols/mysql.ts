// MySQL/MariaDB classic protocol: packets are 3-byte length + sequence id, so truncated heads keep
// framing. Records: one per command (COM_QUERY, COM_STMT_PREPARE/EXECUTE, COM_PING, ...) closed by
// OK/ERR or the end of its result set, and one per connection handshake (CONNECT, closed by OK/ERR).
import { indexOfByte, text, u16le, u24le } from './bytes.js';
import { DEFAULT_MAX_PENDING, type Emit, type ProtocolSession, type SessionCounters, type SessionOptions } from './session.js';
import { normaliseSql, sqlVerb } from './sql.js';
import { INVALID, NEED_MORE, StreamDecoder } from './stream.js';
import type { Chunk, MysqlRecord } from './types.js';

const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_SSL = 0x800;
const CLIENT_DEPRECATE_EOF = 0x01000000;
const SERVER_MORE_RESULTS_EXISTS = 0x0008;
const WANT_WHOLE = 8 * 1024;

export const MYSQL_COMMANDS: Record<number, string> = {
  0x01: 'COM_QUIT', 0x02: 'COM_INIT_DB', 0x03: 'COM_QUERY', 0x04: 'COM_FIELD_LIST', 0x07: 'COM_REFRESH',
  0x08: 'COM_SHUTDOWN', 0x09: 'COM_STATISTICS', 0x0d: 'COM_DEBUG', 0x0e: 'COM_PING', 0x11: 'COM_CHANGE_USER',
  0x16: 'COM_STMT_PREPARE', 0x17: 'COM_STMT_EXECUTE', 0x18: 'COM_STMT_SEND_LONG_DATA', 0x19: 'COM_STMT_CLOSE',
  0x1a: 'COM_STMT_RESET', 0x1b: 'COM_SET_OPTION', 0x1c: 'COM_STMT_FETCH', 0x1f: 'COM_RESET_CONNECTION',
};
/** Commands the server never answers. */
const NO_REPLY = new Set([0x01, 0x18, 0x19]);

/** Server greeting (HandshakeV10) at b[0]? */
export function isMysqlGreeting(b: Uint8Array, totalLen: number): boolean {
  if (b.length < 10) return false;
  const len = u24le(b, 0);
  if (b[3] !== 0 || b[4] !== 10 || len < 20 || len > 1024 || len + 4 !== totalLen) return false;
  let z = indexOfByte(b, 0, 5, Math.min(b.length, 5 + 64));
  if (z < 0 && b.length < totalLen && b.length >= 12) z = b.length; // version cut by the captured head
  if (z < 6) return false;
  for (let i = 5; i < z; i++) if (b[i] < 32 || b[i] > 126) return false;
  return true;
}

/** A complete client command packet (sequence 0) filling the syscall? */
export function isMysqlCommand(b: Uint8Array, totalLen: number): boolean {
  if (b.length < 5) return false;
  const len = u24le(b, 0);
  if (b[3] !== 0 || len < 1 || len + 4 !== totalLen || !(b[4] in MYSQL_COMMANDS)) return false;
  if (b[4] === 0x03 || b[4] === 0x16) {
    // query text: printable start (a letter, '(' or whitespace/comment)
    if (len < 2 || b.length < 6) return false;
    const c = b[5];
    return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 40 || c === 32 || c === 47 || c === 10;
  }
  return len < 64;
}

interface Pending {
  command: number;
  startNs: bigint;
  reqBytes: number;
  statement: string;
  truncated: boolean;
  user?: string;
}

type RespState = 'first' | 'more' | 'coldefs' | 'rows' | 'prepdefs' | 'any';

class MysqlClientDecoder extends StreamDecoder {
  constructor(private readonly s: MysqlSession) {
    super();
  }

  protected canStart(b: Uint8Array, totalLen: number): boolean {
    if (this.s.phase === 'greeted') return b.length >= 8 && b[3] === 1;
    return isMysqlCommand(b, totalLen);
  }

  protected onLost(): void {}

  protected step(b: Uint8Array, off: number, end: number, final: boolean): number {
    const avail = end - off;
    if (avail < 4) return NEED_MORE;
    const len = u24le(b, off);
    const seq = b[off + 3];
    const size = 4 + len;
    const p = off + 4;
    const stop = Math.min(end, off + size);
    if (this.s.phase === 'greeted' && seq === 1) {
      if (size > avail && !final && size <= 4096) return NEED_MORE; // user and db are worth the wait
      if (stop - p < 4) return INVALID;
      const caps = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
      if (caps & CLIENT_SSL && len === 32) {
        this.s.startTls();
        return NEED_MORE;
      }
      const uz = stop > p + 32 ? indexOfByte(b, 0, p + 32, stop) : -1;
      const user = uz < 0 ? '' : text(b, p + 32, uz, 64);
      let db = '';
      if (caps & CLIENT_CONNECT_WITH_DB && uz >= 0 && uz + 1 < stop) {
        // auth response: length-prefixed (1 byte is enough for every plugin we meet), then db name
        const al = b[uz + 1];
        const ds = uz + 2 + al;
        const dz = indexOfByte(b, 0, ds, stop);
        if (ds < stop && dz > ds) db = text(b, ds, dz, 64);
      }
      this.s.handshakeResponse(caps >>> 0, user, db, this.ts, size);
      return size;
    }
    if (this.s.phase !== 'command' || seq !== 0) return size; // auth exchange or continuation packets
    if (len < 1) return INVALID;
    if (avail < 5) return NEED_MORE;
    const cmd = b[p];
    if (!(cmd in MYSQL_COMMANDS)) return INVALID;
    if ((cmd === 0x03 || cmd === 0x16) && size > avail && !final && size <= WANT_WHOLE) return NEED_MORE;
    let statement = '';
    let truncated = false;
    let stmtId = -1;
    if (cmd === 0x03 || cmd === 0x16 || cmd === 0x02) {
      statement = text(b, p + 1, stop, 4096);
      truncated = stop < off + size;
    } else if (cmd === 0x17 && stop - p >= 5) {
      stmtId = (b[p + 1] | (b[p + 2] << 8) | (b[p + 3] << 16) | (b[p + 4] << 24)) >>> 0;
    }
    this.s.command(cmd, statement, truncated, stmtId, this.ts, size);
    return size;
  }
}

class MysqlServerDecoder extends StreamDecoder {
  state: RespState = 'first';
  private remaining = 0;
  private sawColEof = false;
  rows = 0;

  constructor(private readonly s: MysqlSession) {
    super();
  }

  protected canStart(b: Uint8Array, totalLen: number): boolean {
    if (isMysqlGreeting(b, totalLen)) return true;
    if (this.s.phase !== 'command' || b.length < 5 || b[3] !== 1) return false;
    const len = u24le(b, 0);
    const t = b[4];
    const ok = (t === 0 && len >= 7 && len < 64) || (t === 0xff && len >= 3) || (len === 1 && t > 0 && t < 0xfb);
    if (ok) this.state = 'first';
    return ok;
  }

  protected onLost(): void {
    this.state = 'first';
    this.s.responseLost();
  }

  protected step(b: Uint8Array, off: number, end: number, final: boolean): number {
    const avail = end - off;
    if (avail < 4) return NEED_MORE;
    const len = u24le(b, off);
    if (len === 0) return 4;
    if (avail < 5) return NEED_MORE;
    const seq = b[off + 3];
    const size = 4 + len;
    const p = off + 4;
    const stop = Math.min(end, off + size);
    const t = b[p];
    if (t === 0xff && size > avail && !final && size <= WANT_WHOLE) return NEED_MORE;

    if (this.s.phase === 'start' || (seq === 0 && t === 10 && isMysqlGreeting(b.subarray(off, stop), size))) {
      if (t !== 10) return INVALID;
      // HandshakeV10: version\0, thread id(4), salt(8), filler, caps low(2), charset, status(2), caps high(2)
      const z = indexOfByte(b, 0, p + 1, stop);
      let caps = 0;
      if (z > 0 && z + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 <= stop) {
        const c = z + 1 + 4 + 8 + 1;
        caps = (u16le(b, c) | (u16le(b, c + 5) << 16)) >>> 0;
      }
      this.s.greeting(z > 0 ? text(b, p + 1, z, 64) : '', caps);
      return size;
    }
    if (this.s.phase === 'greeted') return size; // nothing expected before the client answers
    if (this.s.phase === 'auth') {
      if (t === 0x00) this.s.authDone(null, this.ts, size);
      else if (t === 0xff) this.s.authDone(this.err(b, p, stop), this.ts, size);
      return size; // 0xfe auth switch, 0x01 more data: the exchange goes on
    }
    // command phase
    const isEofLike = t === 0xfe && len < 0xffffff && len < 9 + 4; // EOF (5 bytes) or OK-with-0xfe header
    if (t === 0xff) {
      this.finish(this.err(b, p, stop), size);
      return size;
    }
    switch (this.state) {
      case 'first':
      case 'more': {
        if (this.state === 'first' && seq !== 1) return size; // tail of a response we already closed
        this.rows = 0;
        this.sawColEof = false;
        if (this.s.frontCommand() === 0x09) {
          this.finish(null, size); // COM_STATISTICS answers with a bare string
          return size;
        }
        if (t === 0x00 && this.s.frontCommand() === 0x16 && stop - p >= 9) {
          const stmtId = (b[p + 1] | (b[p + 2] << 8) | (b[p + 3] << 16) | (b[p + 4] << 24)) >>> 0;
          const cols = u16le(b, p + 5);
          const params = u16le(b, p + 7);
          this.s.prepared(stmtId);
          this.remaining = cols + params;
          if (this.remaining === 0) this.finish(null, size);
          else {
            this.s.addResp(size);
            this.state = 'prepdefs';
          }
          return size;
        }
        if (t === 0x00 || (t === 0xfe && isEofLike)) {
          const status = this.okStatus(b, p, stop, t === 0xfe && len === 5);
          this.s.okInfo(this.lenenc(b, p + 1, stop));
          if (status & SERVER_MORE_RESULTS_EXISTS) {
            this.s.addResp(size);
            this.state = 'more';
          } else this.finish(null, size);
          return size;
        }
        if (t === 0xfb) {
          this.s.addResp(size); // LOCAL INFILE request: the client sends the file, then an OK follows
          this.state = 'more';
          return size;
        }
        const n = this.lenenc(b, p, stop);
        if (!(n > 0 && n < 4096)) return INVALID;
        this.remaining = n;
        this.s.addResp(size);
        this.state = 'coldefs';
        return size;
      }
      case 'coldefs':
        this.s.addResp(size);
        if (isEofLike) return size; // (not expected here, tolerate)
        if (--this.remaining <= 0) this.state = 'rows';
        return size;
      case 'prepdefs':
        this.s.addResp(size);
        if (isEofLike) return size;
        if (--this.remaining <= 0) this.finish(null, 0);
        return size;
      case 'rows': {
        if (t === 0xfe && len < 0xffffff && len < 0xffff) {
          if (len === 5 && !this.sawColEof && this.rows === 0 && this.s.deprecateEof !== true) {
            this.sawColEof = true; // EOF closing the column definitions
            this.s.addResp(size);
            return size;
          }
          const status = this.okStatus(b, p, stop, len === 5);
          if (status & SERVER_MORE_RESULTS_EXISTS) {
            this.s.addResp(size);
            this.s.addRows(this.rows);
            this.state = 'more';
            return size;
          }
          this.s.addRows(this.rows);
          this.finish(null, size);
          return size;
        }
        this.rows++;
        this.s.addResp(size);
        return size;
      }
      default:
        this.s.addResp(size);
        return size;
    }
  }

  private finish(err: { code: number; sqlstate: string; message: string } | null, size: number): void {
    this.state = 'first';
    this.s.addResp(size);
    this.s.response(err, this.ts);
  }

  private err(b: Uint8Array, p: number, stop: number): { code: number; sqlstate: string; message: string } {
    const code = stop - p >= 3 ? u16le(b, p + 1) : 0;
    let sqlstate = '';
    let ms = p + 3;
    if (stop - p >= 9 && b[p + 3] === 35) {
      sqlstate = text(b, p + 4, p + 9, 5);
      ms = p + 9;
    }
    return { code, sqlstate, message: ms < stop ? text(b, ms, stop, 300) : '' };
  }

  /** Status flags of an OK packet (after two length-encoded ints) or of an EOF packet. */
  private okStatus(b: Uint8Array, p: number, stop: number, eof: boolean): number {
    if (eof) return stop - p >= 5 ? u16le(b, p + 3) : 0;
    let i = p + 1;
    i += this.lenencSize(b, i);
    i += this.lenencSize(b, i);
    return i + 2 <= stop ? u16le(b, i) : 0;
  }

  private lenencSize(b: Uint8Array, i: number): number {
    const c = b[i];
    return c < 0xfb ? 1 : c === 0xfc ? 3 : c === 0xfd ? 4 : c === 0xfe ? 9 : 1;
  }

  private lenenc(b: Uint8Array, i: number, stop: number): number {
    if (i >= stop) return NaN;
    const c = b[i];
    if (c < 0xfb) return c;
    if (c === 0xfc && i + 3 <= stop) return u16le(b, i + 1);
    if (c === 0xfd && i + 4 <= stop) return u24le(b, i + 1);
    return NaN;
  }
}

export class MysqlSession implements ProtocolSession {
  private readonly client = new MysqlClientDecoder(this);
  private readonly server = new MysqlServerDecoder(this);
  private readonly queue: Pending[] = [];
  private readonly prepared_ = new Map<number, string>();
  private lastPrepare = '';
  private respBytes = 0;
  private rows = 0;
  private sawResultSet = false;
  private affected: number | undefined;
  private orphans = 0;
  private passthrough = false;
  private serverCaps = 0;
  /** 'start': nothing seen; 'greeted': greeting seen; 'auth': handshake response sent; 'command'. */
  phase: 'start' | 'greeted' | 'auth' | 'command' = 'command';
  deprecateEof: boolean | undefined;
  tls = false;

  constructor(
    private readonly emit: Emit,
    private readonly opts: SessionOptions = {},
  ) {}

  push(c: Chunk, isRequest: boolean): void {
    if (this.passthrough) return;
    if (!isRequest && this.phase === 'command' && isMysqlGreeting(c.bytes, c.totalLen)) this.phase = 'start';
    (isRequest ? this.client : this.server).feed(c.bytes, c.totalLen, c.tsNs);
  }

  close(): void {
    for (const p of this.queue.splice(0)) this.finish(p, null, p.startNs, true);
  }

  counters(): SessionCounters {
    return {
      parseErrors: this.client.parseErrors + this.server.parseErrors,
      exceptions: this.client.exceptions + this.server.exceptions,
      resyncs: this.client.resyncs + this.server.resyncs,
      skippedChunks: this.client.skippedChunks + this.server.skippedChunks,
      orphanResponses: this.orphans,
    };
  }

  greeting(_version: string, caps: number): void {
    this.serverCaps = caps;
    this.phase = 'greeted';
  }

  handshakeResponse(caps: number, user: string, db: string, ts: bigint, size: number): void {
    this.deprecateEof = !!(caps & CLIENT_DEPRECATE_EOF) && !!(this.serverCaps & CLIENT_DEPRECATE_EOF);
    this.phase = 'auth';
    this.queue.push({ command: -1, startNs: ts, reqBytes: size, statement: db, truncated: false, user });
  }

  authDone(err: { code: number; sqlstate: string; message: string } | null, ts: bigint, size: number): void {
    this.phase = 'command';
    this.respBytes += size;
    this.response(err, ts);
  }

  startTls(): void {
    this.tls = true;
    this.passthrough = true;
    this.client.loseSync();
    this.server.loseSync();
  }

  command(cmd: number, statement: string, truncated: boolean, stmtId: number, ts: bigint, size: number): void {
    if (NO_REPLY.has(cmd)) {
      if (cmd === 0x19 && stmtId >= 0) this.prepared_.delete(stmtId);
      return;
    }
    if (cmd === 0x17) statement = this.prepared_.get(stmtId) ?? '';
    if (cmd === 0x16) this.lastPrepare = statement;
    if (this.queue.length >= (this.opts.maxPending ?? DEFAULT_MAX_PENDING)) {
      const old = this.queue.shift()!;
      this.finish(old, null, old.startNs, true);
    }
    this.queue.push({ command: cmd, startNs: ts, reqBytes: size, statement, truncated });
  }

  frontCommand(): number {
    return this.queue[0]?.command ?? -2;
  }

  prepared(stmtId: number): void {
    if (this.prepared_.size > 1000) this.prepared_.clear();
    this.prepared_.set(stmtId, this.lastPrepare);
  }

  addResp(n: number): void {
    this.respBytes += n;
  }
  addRows(n: number): void {
    this.rows += n;
    this.sawResultSet = true;
  }
  okInfo(affected: number): void {
    if (Number.isFinite(affected)) this.affected = (this.affected ?? 0) + affected;
  }

  response(err: { code: number; sqlstate: string; message: string } | null, ts: bigint): void {
    const p = this.queue.shift();
    if (!p) {
      this.orphans++;
      this.reset();
      return;
    }
    this.finish(p, err, ts, false);
  }

  responseLost(): void {
    // Without framing we cannot find the end of this response; its request is reported incomplete.
    const p = this.queue.shift();
    if (p) this.finish(p, null, this.server.ts, true);
  }

  private reset(): void {
    this.respBytes = 0;
    this.rows = 0;
    this.sawResultSet = false;
    this.affected = undefined;
  }

  private finish(p: Pending, err: { code: number; sqlstate: string; message: string } | null, endNs: bigint, incomplete: boolean): void {
    const connect = p.command === -1;
    const name = connect ? 'CONNECT' : MYSQL_COMMANDS[p.command] ?? 'COM_UNKNOWN';
    const rec: MysqlRecord = {
      protocol: 'mysql',
      startNs: p.startNs,
      endNs: endNs < p.startNs ? p.startNs : endNs,
      method: connect ? 'CONNECT' : (p.command === 0x03 || p.command === 0x16 || p.command === 0x17) && sqlVerb(p.statement) ? sqlVerb(p.statement) : name.slice(4),
      target: connect || p.command === 0x02 ? p.statement : normaliseSql(p.statement),
      status: incomplete ? '' : err ? String(err.code) : 'OK',
      error: !!err,
      reqBytes: p.reqBytes,
      respBytes: this.respBytes,
      command: name,
      statement: p.statement.slice(0, 512),
    };
    if (err) {
      rec.errorCode = err.code;
      if (err.sqlstate) rec.sqlstate = err.sqlstate;
      rec.errorText = err.message;
    }
    if (this.sawResultSet && !err && !incomplete) rec.rows = this.rows;
    if (this.affected !== undefined && !err) rec.affectedRows = this.affected;
    if (incomplete) rec.incomplete = true;
    if (p.truncated) rec.truncated = true;
    this.reset();
    this.emit(rec);
  }
}
