// PostgreSQL frontend/backend protocol v3. Every message after startup is type byte + int32 length,
// so truncated heads keep framing. Records: one per simple Query (closed by ReadyForQuery), one per
// extended-protocol Execute (closed by its CommandComplete/ErrorResponse), one per startup (closed by
// the first ReadyForQuery or an ErrorResponse, e.g. bad password).
import { indexOfByte, text, u32be } from './bytes.js';
import { DEFAULT_MAX_PENDING, type Emit, type ProtocolSession, type SessionCounters, type SessionOptions } from './session.js';
import { normaliseSql, sqlVerb } from './sql.js';
import { INVALID, NEED_MORE, StreamDecoder } from './stream.js';
import type { Chunk, PostgresRecord } from './types.js';

export const PG_PROTOCOL_3 = 196608;
export const PG_SSL_REQUEST = 80877103;
export const PG_GSSENC_REQUEST = 80877104;
export const PG_CANCEL_REQUEST = 80877102;

const CLIENT_TYPES = new Set('QPBEDCSHXFpdcf'.split('').map((c) => c.charCodeAt(0)));
const SERVER_TYPES = new Set('RSKZTDCEINnts123AGHWdcvV'.split('').map((c) => c.charCodeAt(0)));
const MAX_MSG = 1 << 28;
/** Messages whose text we want whole are buffered across chunks up to this size. */
const WANT_WHOLE = 8 * 1024;

/** Untyped startup-phase message (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest)? */
export function isPgStartup(b: Uint8Array, totalLen: number): boolean {
  if (b.length < 8) return false;
  const len = u32be(b, 0);
  const code = u32be(b, 4);
  if (code === PG_SSL_REQUEST || code === PG_GSSENC_REQUEST) return len === 8;
  if (code === PG_CANCEL_REQUEST) return len === 16;
  if (code >>> 16 !== 3 || len < 9 || len > 10000) return false;
  return len <= totalLen;
}

/** Typed message(s) at b[0] with plausible lengths (checks the following message too when visible). */
export function isPgTyped(b: Uint8Array, totalLen: number, types: Set<number>): boolean {
  let off = 0;
  for (let k = 0; k < 3; k++) {
    if (off + 5 > b.length) return k > 0;
    if (!types.has(b[off])) return false;
    const len = u32be(b, off + 1);
    if (len < 4 || len > MAX_MSG) return false;
    if (k === 0 && 1 + len > totalLen && totalLen === b.length) return false; // claims more than the syscall held... unless continued
    off += 1 + len;
    if (off >= b.length) return true;
  }
  return true;
}

interface Pending {
  kind: 'startup' | 'query' | 'execute' | 'sync';
  startNs: bigint;
  reqBytes: number;
  statement: string;
  truncated: boolean;
  user?: string;
  database?: string;
  tag?: string;
  error?: { sqlstate: string; message: string; severity: string };
}

class PgClientDecoder extends StreamDecoder {
  startupMode = false;

  constructor(private readonly s: PostgresSession) {
    super();
  }

  protected canStart(b: Uint8Array, totalLen: number): boolean {
    if (b.length >= 8 && b[0] === 0 && isPgStartup(b, totalLen)) {
      this.startupMode = true;
      return true;
    }
    this.startupMode = false;
    return isPgTyped(b, totalLen, CLIENT_TYPES);
  }

  protected onLost(): void {
    this.s.clientLost();
  }

  protected step(b: Uint8Array, off: number, end: number, final: boolean): number {
    const avail = end - off;
    if (this.startupMode) {
      if (avail < 8) return NEED_MORE;
      const len = u32be(b, off);
      const code = u32be(b, off + 4);
      if (len < 8 || len > 10000) return INVALID;
      if (avail < len && !final) return NEED_MORE;
      if (code === PG_SSL_REQUEST || code === PG_GSSENC_REQUEST) {
        this.s.sslRequest(code === PG_GSSENC_REQUEST);
        return len;
      }
      if (code === PG_CANCEL_REQUEST) return len;
      if (code >>> 16 !== 3) return INVALID;
      const params = new Map<string, string>();
      let i = off + 8;
      const stop = Math.min(end, off + len);
      while (i < stop && b[i] !== 0) {
        const k0 = indexOfByte(b, 0, i, stop);
        if (k0 < 0) break;
        const v0 = indexOfByte(b, 0, k0 + 1, stop);
        if (v0 < 0) break;
        params.set(text(b, i, k0, 64), text(b, k0 + 1, v0, 128));
        i = v0 + 1;
      }
      this.startupMode = false;
      this.s.startup(params.get('user') ?? '', params.get('database') ?? params.get('user') ?? '', this.ts, len);
      return len;
    }
    if (avail < 5) return NEED_MORE;
    const t = b[off];
    if (!CLIENT_TYPES.has(t)) return INVALID;
    const len = u32be(b, off + 1);
    if (len < 4 || len > MAX_MSG) return INVALID;
    const size = 1 + len;
    const whole = size <= avail;
    if (!whole && !final && size <= WANT_WHOLE && (t === 81 || t === 80 || t === 66)) return NEED_MORE;
    const stop = Math.min(end, off + size);
    const body = off + 5;
    switch (t) {
      case 81: {
        // Q: query string
        const z = indexOfByte(b, 0, body, stop);
        this.s.query(text(b, body, z < 0 ? stop : z, 4096), z < 0, this.ts, size);
        break;
      }
      case 80: {
        // P: statement name, query string, parameter types
        const z1 = indexOfByte(b, 0, body, stop);
        if (z1 < 0) {
          this.s.parse('', '', true, this.ts, size);
          break;
        }
        const z2 = indexOfByte(b, 0, z1 + 1, stop);
        this.s.parse(text(b, body, z1, 128), text(b, z1 + 1, z2 < 0 ? stop : z2, 4096), z2 < 0, this.ts, size);
        break;
      }
      case 66: {
        // B: portal, statement
        const z1 = indexOfByte(b, 0, body, stop);
        const z2 = z1 < 0 ? -1 : indexOfByte(b, 0, z1 + 1, stop);
        this.s.bind(z1 < 0 ? '' : text(b, body, z1, 128), z2 < 0 ? '' : text(b, z1 + 1, z2, 128), this.ts, size);
        break;
      }
      case 69: {
        // E: portal
        const z = indexOfByte(b, 0, body, stop);
        this.s.execute(z < 0 ? '' : text(b, body, z, 128), this.ts, size);
        break;
      }
      case 83: // S: Sync
        this.s.sync(this.ts, size);
        break;
      default:
        this.s.otherClientMessage(this.ts, size);
    }
    return size;
  }
}

class PgServerDecoder extends StreamDecoder {
  constructor(private readonly s: PostgresSession) {
    super();
  }

  protected canStart(b: Uint8Array, totalLen: number): boolean {
    if (this.s.expectSslReply && totalLen >= 1 && (b[0] === 83 || b[0] === 78 || b[0] === 71)) return true;
    return isPgTyped(b, totalLen, SERVER_TYPES);
  }

  protected onLost(): void {
    this.s.serverLost();
  }

  protected step(b: Uint8Array, off: number, end: number, final: boolean): number {
    if (this.s.expectSslReply) {
      const c = b[off];
      this.s.sslReply(c === 83 || c === 71);
      if (c === 83 || c === 71) {
        this.loseSync(); // TLS from here: nothing more to parse in cleartext
        return NEED_MORE;
      }
      if (c !== 78) return INVALID;
      return 1;
    }
    const avail = end - off;
    if (avail < 5) return NEED_MORE;
    const t = b[off];
    if (!SERVER_TYPES.has(t)) return INVALID;
    const len = u32be(b, off + 1);
    if (len < 4 || len > MAX_MSG) return INVALID;
    const size = 1 + len;
    const whole = size <= avail;
    if (!whole && !final && size <= WANT_WHOLE && (t === 69 || t === 67)) return NEED_MORE;
    const stop = Math.min(end, off + size);
    const body = off + 5;
    switch (t) {
      case 67: {
        // C: CommandComplete tag ("SELECT 3", "INSERT 0 1", "CREATE TABLE"); anything else is not PG
        const z = indexOfByte(b, 0, body, stop);
        const tag = text(b, body, z < 0 ? stop : z, 64);
        if (!/^[A-Z][A-Z ]*( \d+)*$/.test(tag) && !(z < 0 && /^[A-Z][A-Z0-9 ]*$/.test(tag))) return INVALID;
        this.s.commandComplete(tag, this.ts, size);
        break;
      }
      case 73: // I: EmptyQueryResponse
        this.s.commandComplete('', this.ts, size);
        break;
      case 69: {
        // E: ErrorResponse fields (code byte, cstring)...
        let i = body;
        let sqlstate = '';
        let message = '';
        let severity = '';
        while (i < stop && b[i] !== 0) {
          const f = b[i];
          const z = indexOfByte(b, 0, i + 1, stop);
          const v = text(b, i + 1, z < 0 ? stop : z, 300);
          if (f === 67) sqlstate = v;
          else if (f === 77) message = v;
          else if (f === 86 || (f === 83 && !severity)) severity = v;
          if (z < 0) break;
          i = z + 1;
        }
        // code cut off by the captured head: report the severity instead of inventing a SQLSTATE
        const cut = !/^[0-9A-Z]{5}$/.test(sqlstate);
        if (cut) sqlstate = /^(ERROR|FATAL|PANIC)$/.test(severity) ? severity : 'ERROR';
        this.s.errorResponse({ sqlstate, message, severity }, cut, this.ts, size);
        break;
      }
      case 90: // Z: ReadyForQuery
        this.s.readyForQuery(this.ts, size);
        break;
      case 82: // R: Authentication; 0 = OK
        if (size >= 9 && stop - body >= 4 && u32be(b, body) === 0) this.s.authOk = true;
        this.s.otherServerMessage(size);
        break;
      default:
        this.s.otherServerMessage(size);
    }
    return size;
  }
}

export class PostgresSession implements ProtocolSession {
  private readonly client = new PgClientDecoder(this);
  private readonly server = new PgServerDecoder(this);
  private readonly queue: Pending[] = [];
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, string>();
  private groupStart: bigint | null = null;
  private groupBytes = 0;
  private groupTruncated = false;
  /** Statement of the latest Parse/Bind in the current group (for an Execute we could not see). */
  private groupStatement = '';
  private respBytes = 0;
  private orphans = 0;
  private passthrough = false;
  expectSslReply = false;
  authOk = false;
  tls = false;

  constructor(
    private readonly emit: Emit,
    private readonly opts: SessionOptions = {},
  ) {}

  push(c: Chunk, isRequest: boolean): void {
    if (this.passthrough) return;
    (isRequest ? this.client : this.server).feed(c.bytes, c.totalLen, c.tsNs);
  }

  close(): void {
    for (const p of this.queue.splice(0)) if (p.kind !== 'sync') this.finish(p, p.startNs, true);
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

  // ---- client side ----

  sslRequest(_gss: boolean): void {
    this.expectSslReply = true;
  }

  sslReply(accepted: boolean): void {
    this.expectSslReply = false;
    if (accepted) {
      this.tls = true;
      this.passthrough = true;
      this.client.loseSync();
    } else {
      this.client.startupMode = true; // the real StartupMessage follows in cleartext
    }
  }

  startup(user: string, database: string, ts: bigint, size: number): void {
    this.enqueue({ kind: 'startup', startNs: ts, reqBytes: size, statement: '', truncated: false, user, database });
  }

  query(sql: string, truncated: boolean, ts: bigint, size: number): void {
    this.enqueue({ kind: 'query', startNs: ts, reqBytes: size, statement: sql, truncated });
  }

  parse(name: string, sql: string, truncated: boolean, ts: bigint, size: number): void {
    this.group(ts, size);
    if (truncated) this.groupTruncated = true;
    if (this.statements.size > 1000) this.statements.clear();
    this.statements.set(name, sql);
    this.groupStatement = sql;
  }

  bind(portal: string, stmt: string, ts: bigint, size: number): void {
    this.group(ts, size);
    if (this.portals.size > 1000) this.portals.clear();
    this.portals.set(portal, this.statements.get(stmt) ?? '');
    this.groupStatement = this.statements.get(stmt) ?? '';
  }

  execute(portal: string, ts: bigint, size: number): void {
    this.group(ts, size);
    const sql = this.portals.get(portal) ?? '';
    this.enqueue({
      kind: 'execute',
      startNs: this.groupStart ?? ts,
      reqBytes: this.groupBytes,
      statement: sql,
      truncated: this.groupTruncated,
    });
    this.groupStart = null;
    this.groupBytes = 0;
    this.groupTruncated = false;
  }

  sync(ts: bigint, size: number): void {
    this.enqueue({ kind: 'sync', startNs: ts, reqBytes: size, statement: '', truncated: false });
    this.groupStart = null;
    this.groupBytes = 0;
    this.groupTruncated = false;
  }

  otherClientMessage(ts: bigint, size: number): void {
    this.group(ts, size);
  }

  private group(ts: bigint, size: number): void {
    if (this.groupStart === null) this.groupStart = ts;
    this.groupBytes += size;
  }

  private enqueue(p: Pending): void {
    if (this.queue.length >= (this.opts.maxPending ?? DEFAULT_MAX_PENDING)) {
      const old = this.queue.shift()!;
      if (old.kind !== 'sync') this.finish(old, old.startNs, true);
    }
    this.queue.push(p);
  }

  // ---- server side ----

  private front(): Pending | undefined {
    return this.queue[0];
  }

  commandComplete(tag: string, ts: bigint, size: number): void {
    this.respBytes += size;
    const f = this.front();
    if (!f || f.kind === 'sync' || f.kind === 'startup') {
      this.orphans++;
      return;
    }
    f.tag = tag === '' ? 'EMPTY' : tag;
    if (f.kind === 'execute') {
      this.queue.shift();
      this.finish(f, ts, false);
    }
  }

  errorResponse(e: { sqlstate: string; message: string; severity: string }, cut: boolean, ts: bigint, size: number): void {
    this.respBytes += size;
    const f = this.front();
    if (!f) {
      this.orphans++;
      return;
    }
    if (f.kind === 'sync') return; // error of a Parse/Bind with no Execute: nothing to attach it to
    f.error = e;
    if (cut) f.truncated = true;
    if (f.kind === 'execute' || f.kind === 'startup') {
      this.queue.shift();
      this.finish(f, ts, false);
      // The server now skips every message up to Sync: executes queued before it never run.
      while (this.queue.length > 0 && this.queue[0].kind === 'execute') this.queue.shift();
    }
  }

  readyForQuery(ts: bigint, size: number): void {
    this.respBytes += size;
    while (this.queue.length > 0) {
      const p = this.queue.shift()!;
      if (p.kind === 'sync') break;
      if (p.kind === 'query' || p.kind === 'startup') {
        this.finish(p, ts, false);
        break;
      }
      // an execute still waiting at ReadyForQuery was discarded by the server (aborted group)
    }
    this.respBytes = 0;
  }

  otherServerMessage(size: number): void {
    this.respBytes += size;
  }

  /**
   * Server bytes we cannot frame: a CommandComplete or ReadyForQuery may be among them. Requests sent
   * before this point end now with what is known (tag or error), else incomplete; pairing them with
   * later messages could attach answers to the wrong statement.
   */
  serverLost(): void {
    const cut = this.server.ts;
    while (this.queue.length > 0 && this.queue[0].startNs <= cut) {
      const p = this.queue.shift()!;
      if (p.kind === 'sync') continue;
      const known = !!p.tag || !!p.error || (p.kind === 'startup' && this.authOk);
      this.finish(p, cut, !known);
    }
  }

  /** Client bytes we cannot frame in the middle of an extended group: assume its Execute and Sync. */
  clientLost(): void {
    if (this.groupStart !== null) {
      this.enqueue({ kind: 'execute', startNs: this.groupStart, reqBytes: this.groupBytes, statement: this.groupStatement, truncated: true });
      this.groupStart = null;
      this.groupBytes = 0;
      this.groupTruncated = false;
    }
    const last = this.queue[this.queue.length - 1];
    if (last && last.kind === 'execute') this.enqueue({ kind: 'sync', startNs: last.startNs, reqBytes: 0, statement: '', truncated: false });
  }

  private finish(p: Pending, endNs: bigint, incomplete: boolean): void {
    const isStartup = p.kind === 'startup';
    const err = p.error;
    const tagVerb = p.tag ? (p.tag === 'EMPTY' ? 'EMPTY' : /^[A-Z]+/.exec(p.tag)?.[0] ?? '') : isStartup ? 'OK' : '';
    const rowsMatch = p.tag ? /(\d+)$/.exec(p.tag) : null;
    const rec: PostgresRecord = {
      protocol: 'postgres',
      startNs: p.startNs,
      endNs: endNs < p.startNs ? p.startNs : endNs,
      method: isStartup ? 'STARTUP' : sqlVerb(p.statement) || (p.kind === 'execute' ? 'EXECUTE' : 'QUERY'),
      target: isStartup ? p.database ?? '' : normaliseSql(p.statement),
      status: incomplete ? '' : err ? err.sqlstate : tagVerb || 'OK',
      error: !!err,
      reqBytes: p.reqBytes,
      respBytes: this.respBytes,
      queryMode: isStartup ? 'startup' : p.kind === 'query' ? 'simple' : 'extended',
      statement: p.statement.slice(0, 512),
    };
    this.respBytes = 0;
    if (err) {
      rec.errorText = err.message;
      rec.sqlstate = err.sqlstate;
    }
    if (p.tag && p.tag !== 'EMPTY') rec.commandTag = p.tag;
    if (rowsMatch && p.tag && /^(SELECT|INSERT|UPDATE|DELETE|MERGE|FETCH|MOVE|COPY)/.test(p.tag)) rec.rows = Number(rowsMatch[1]);
    if (incomplete) rec.incomplete = true;
    if (p.truncated) rec.truncated = true;
    this.emit(rec);
  }
}
