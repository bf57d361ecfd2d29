// Plain types shared by the L7 parsers: what goes in (chunks of one socket) and what comes out (records).
import type { Role } from '../model/flow.js';

export type Direction = 'send' | 'recv';

/** One syscall's worth of payload on one socket, as the collector captured it. */
export interface Chunk {
  dir: Direction; // from the point of view of the socket's owner
  role: Role; // role of the socket's owner; 'unknown' lets the parser infer it
  tsNs: bigint; // CLOCK_MONOTONIC of the syscall
  bytes: Uint8Array; // the head of the payload only (the kernel copies the first N bytes)
  totalLen: number; // real byte count of the syscall; may exceed bytes.length (truncated head)
}

/** Protocols the parsers emit records for, plus 'tls' which is only detected. */
export type Protocol = 'http1' | 'http2' | 'redis' | 'postgres' | 'mysql' | 'dns' | 'tls';
export type Detected = Protocol | 'unknown';

/** Fields every request/response record has. */
export interface L7RecordBase {
  protocol: Protocol;
  startNs: bigint; // first request byte
  endNs: bigint; // last response byte (or last request byte when incomplete)
  method: string; // HTTP method, redis command, SQL verb, mysql command, DNS opcode
  target: string; // normalised route, normalised statement, redis key, DNS query name
  /**
   * Protocol status as text: HTTP "200"; redis "OK" or the error prefix ("ERR", "WRONGTYPE");
   * postgres command tag ("SELECT") or SQLSTATE ("42P01"; the severity "ERROR" when the head cut the code); mysql "OK" or the error code ("1146");
   * DNS rcode name ("NOERROR", "NXDOMAIN"). Empty only when `incomplete` (no response seen).
   */
  status: string;
  error: boolean;
  errorText?: string;
  reqBytes: number; // whole request message(s), counted with totalLen (not just the captured head)
  respBytes: number;
  incomplete?: boolean; // no response was seen (connection closed or response lost)
  truncated?: boolean; // some output field was cut by the captured head
}

export interface HttpRecord extends L7RecordBase {
  protocol: 'http1';
  path: string; // raw path, query string dropped
  httpStatus: number; // 0 when incomplete
  version: string; // "1.1"
  host?: string;
  keepAlive: boolean;
  chunked: boolean; // response body was chunked
}

export interface Http2Record extends L7RecordBase {
  protocol: 'http2';
  path: string;
  httpStatus: number; // 0 when incomplete
  streamId: number;
  authority?: string;
  grpcStatus?: number; // from the trailers of gRPC calls
}

export interface RedisRecord extends L7RecordBase {
  protocol: 'redis';
  args: number; // argument count including the command
  respType: string; // '+', '-', ':', '$', '*', ... of the reply
}

export interface PostgresRecord extends L7RecordBase {
  protocol: 'postgres';
  queryMode: 'simple' | 'extended' | 'startup';
  statement: string; // raw statement text (first 512 chars of what was captured)
  commandTag?: string; // full tag: "SELECT 3", "INSERT 0 1"
  sqlstate?: string;
  rows?: number; // from the command tag
}

export interface MysqlRecord extends L7RecordBase {
  protocol: 'mysql';
  command: string; // COM_QUERY, COM_STMT_EXECUTE, ...
  statement: string;
  errorCode?: number;
  sqlstate?: string;
  rows?: number; // rows of a result set
  affectedRows?: number;
}

export interface DnsRecord extends L7RecordBase {
  protocol: 'dns';
  transport: 'udp' | 'tcp';
  id: number;
  qtype: string; // "A", "AAAA", ... or the number
  rcode: number;
  answers: number;
  addresses: string[]; // A/AAAA answers
}

export type L7Record = HttpRecord | Http2Record | RedisRecord | PostgresRecord | MysqlRecord | DnsRecord;

/** Counters a ConnectionParser keeps about itself (for ingest health and tests). */
export interface ParserStats {
  chunks: number;
  bytes: number; // totalLen sum
  records: number;
  parseErrors: number; // malformed input where a message was expected
  exceptions: number; // exceptions caught inside the parsers: a bug, never expected
  resyncs: number; // times a lost stream found a plausible message start again
  skippedChunks: number; // chunks ignored while the stream was lost or undetected
  orphanResponses: number; // responses without a pending request (capture started mid-exchange)
}

export function emptyStats(): ParserStats {
  return { chunks: 0, bytes: 0, records: 0, parseErrors: 0, exceptions: 0, resyncs: 0, skippedChunks: 0, orphanResponses: 0 };
}
