// Protocol detection from the first bytes of a connection (never from the port). Each check is strict
// enough that random bytes fail it; anything unrecognised is 'unknown'. Never throws.
import { indexOfCrlf, startsWith, u32be } from './bytes.js';
import { isDnsTcp, isDnsUdp, parseDns } from './dns.js';
import { matchMethod, matchStatusLine } from './http1.js';
import { isMysqlCommand, isMysqlGreeting } from './mysql.js';
import { isPgStartup, isPgTyped } from './postgres.js';
import { looksLikeResp } from './redis.js';
import type { Chunk, Detected, Protocol } from './types.js';

export interface Classification {
  protocol: Protocol;
  /** The chunk travels client -> server. */
  request: boolean;
}

const PG_CLIENT = new Set('QPBEDCSHXF'.split('').map((c) => c.charCodeAt(0)));
const PG_SERVER = new Set('RSKZTDCEINnts123AGHW'.split('').map((c) => c.charCodeAt(0)));

function isTlsRecord(b: Uint8Array): boolean {
  // handshake record, TLS 1.0-1.3 legacy version, sane length, handshake type ClientHello/ServerHello
  return b.length >= 6 && b[0] === 0x16 && b[1] === 3 && b[2] <= 4 && ((b[3] << 8) | b[4]) <= 18432 && (b[5] === 1 || b[5] === 2);
}

function isHttpRequest(b: Uint8Array): boolean {
  const m = matchMethod(b, 0, b.length);
  if (m === 0 || b.length < m + 2) return false;
  const t = b[m + 1];
  if (t !== 47 && t !== 42 && t !== 104 && m !== 7) return false; // '/', '*', 'http://', CONNECT host:port
  const eol = indexOfCrlf(b, m + 1, Math.min(b.length, 8192));
  if (eol < 0) {
    // line cut by the head: the target must at least be clean
    for (let i = m + 1; i < b.length; i++) if (b[i] < 33 || b[i] > 126) return false;
    return b.length >= 64;
  }
  return eol >= 9 && startsWith(b, eol - 9, eol, ' HTTP/1.');
}

/** PG typed client message with a text payload that ends with NUL exactly where the length says. */
function isPgClientQuery(b: Uint8Array, totalLen: number): boolean {
  if (b.length < 6 || (b[0] !== 81 && b[0] !== 80)) return false; // Q or P
  const len = u32be(b, 1);
  if (len < 5 || len > 1 << 24) return false;
  if (!isPgTyped(b, totalLen, PG_CLIENT)) return false;
  if (b[0] === 81) {
    if (1 + len > totalLen) return false;
    if (1 + len <= b.length && b[len] !== 0) return false;
    for (let i = 5; i < Math.min(b.length, len, 64); i++) if (b[i] < 9 || (b[i] > 13 && b[i] < 32)) return false;
  }
  return true;
}

/** PG server messages: at least two well-formed messages, or an exact single one of a telling type. */
function isPgServer(b: Uint8Array, totalLen: number): boolean {
  if (b.length < 5 || !PG_SERVER.has(b[0])) return false;
  const len = u32be(b, 1);
  if (len < 4 || len > 1 << 24) return false;
  if (1 + len === totalLen) {
    if (b[0] === 82) return len >= 8 && len <= 64; // Authentication
    if (b[0] === 69) return b.length > 5 && b[5] === 83; // ErrorResponse starting with severity
    return false;
  }
  if (1 + len + 5 > b.length) return false;
  return isPgTyped(b, totalLen, PG_SERVER) && PG_SERVER.has(b[1 + len]);
}

/** A server's HTTP/2 connection preface: a SETTINGS frame (type 4, no flags, stream 0, 6-byte entries). */
function isH2ServerPreface(b: Uint8Array): boolean {
  if (b.length < 9) return false;
  const len = (b[0] << 16) | (b[1] << 8) | b[2];
  if (b[3] !== 4 || b[4] !== 0 || b[5] !== 0 || b[6] !== 0 || b[7] !== 0 || b[8] !== 0 || len % 6 !== 0 || len > 60) return false;
  for (let i = 9; i + 1 < Math.min(b.length, 9 + len); i += 6) {
    const id = (b[i] << 8) | b[i + 1];
    if (id < 1 || id > 0x10) return false; // known SETTINGS identifiers (incl. 0x8 extended CONNECT)
  }
  return true;
}

/** Classifies one chunk, or null when it says nothing certain. */
export function classifyChunk(c: Chunk): Classification | null {
  try {
    const b = c.bytes;
    const total = Math.max(c.totalLen, b.length);
    if (b.length < 2) return null;
    if (isTlsRecord(b)) return { protocol: 'tls', request: b[5] === 1 };
    if (startsWith(b, 0, b.length, 'PRI * HTTP/2.0')) return { protocol: 'http2', request: true };
    if (isH2ServerPreface(b)) return { protocol: 'http2', request: false };
    if (isHttpRequest(b)) return { protocol: 'http1', request: true };
    if (matchStatusLine(b, 0, b.length)) return { protocol: 'http1', request: false };
    if (b[0] === 0 && isPgStartup(b, total)) return { protocol: 'postgres', request: true };
    if (isMysqlGreeting(b, total)) return { protocol: 'mysql', request: false };
    if (looksLikeResp(b, true) && (b[0] === 42 || total === b.length)) return { protocol: 'redis', request: true };
    if (isDnsUdp(b, total)) {
      const m = parseDns(b, 0, b.length, total)!;
      return { protocol: 'dns', request: !m.response };
    }
    if (isDnsTcp(b, total)) {
      const m = parseDns(b, 2, b.length, (b[0] << 8) | b[1])!;
      return { protocol: 'dns', request: !m.response };
    }
    if (isMysqlCommand(b, total)) return { protocol: 'mysql', request: true };
    if (isPgClientQuery(b, total)) return { protocol: 'postgres', request: true };
    if (isPgServer(b, total)) return { protocol: 'postgres', request: false };
    if (looksLikeResp(b, false) && indexOfCrlf(b, 0, b.length) + 2 <= total) return { protocol: 'redis', request: false };
    return null;
  } catch {
    return null;
  }
}

/** Decides the protocol of a connection from its first chunks (either direction). */
export function detectProtocol(firstChunks: readonly Chunk[]): Detected {
  for (const c of firstChunks) {
    const k = classifyChunk(c);
    if (k) return k.protocol;
  }
  return 'unknown';
}
