// What every protocol session offers the ConnectionParser: chunks in (already classified as request or
// response direction), records out through `emit`, counters for health.
import type { Chunk, L7Record } from './types.js';

export type Emit = (r: L7Record) => void;

export interface SessionOptions {
  /** Maps a raw HTTP path to the route used as the record target (cardinality control lives there). */
  normaliseRoute?: (path: string) => string;
  /** Max requests waiting for responses on one connection; older ones are emitted as incomplete. */
  maxPending?: number;
}

export interface SessionCounters {
  parseErrors: number;
  exceptions: number;
  resyncs: number;
  skippedChunks: number;
  orphanResponses: number;
}

export interface ProtocolSession {
  /** `isRequest`: the chunk travels client -> server. */
  push(chunk: Chunk, isRequest: boolean): void;
  /** The connection closed: finish what a close finishes, emit waiting requests as incomplete. */
  close(): void;
  counters(): SessionCounters;
}

/** Pipelines of thousands of commands are normal for redis mass inserts; each entry is ~100 bytes. */
export const DEFAULT_MAX_PENDING = 4096;
