// The framing engine every protocol decoder builds on: one direction of one socket, fed with captured
// heads. It hides three facts of capture from the protocol code:
//  - a message can be split over several chunks (known bytes are buffered until a unit is parseable),
//  - a chunk's head can be shorter than the syscall (the unknown tail is skipped when a length says
//    how far, otherwise the framing is lost),
//  - capture can start mid-message (a lost stream waits for a chunk that starts a plausible message).
import { concat } from './bytes.js';

/** step() results besides a byte count. */
export const NEED_MORE = 0;
export const INVALID = -1;

/** Largest header/line we buffer across chunks before giving up on it. */
const MAX_PENDING = 16 * 1024;
/** Bytes of tiny reads glued together to recognise a message start. */
const MAX_CANDIDATE = 64;

export abstract class StreamDecoder {
  // Fields are assigned in the constructor, not declared with initializers: ES2022 field definitions on a
  // base class with many subclasses run a slow generic path in V8 (~10x the construction cost), and a
  // decoder pair is built for every connection.
  /** Unsynchronised until a chunk starts with a plausible message; also the state after a gap. */
  declare lost: boolean;
  declare parseErrors: number;
  /** Exceptions caught inside protocol code: always a parser bug (tests assert zero). */
  declare exceptions: number;
  declare resyncs: number;
  declare skippedChunks: number;
  /** Timestamp of the chunk being processed, and of the last one fed. */
  declare ts: bigint;
  /** Stream offset (unknown bytes included) just past the last unit that step() consumed. */
  protected declare unitEnd: number;
  /** Stream offset of index 0 of the buffer handed to step(). */
  protected declare base: number;
  private declare pos: number;
  private declare pending: Uint8Array | null;
  private declare pendingPos: number;
  private declare skip: number;
  private declare endAfter: boolean;
  private declare synced: boolean;
  /** Short gapless reads kept while lost, in case they begin a message written in pieces. */
  private declare candidate: Uint8Array | null;
  private declare candidatePos: number;

  constructor() {
    this.lost = true;
    this.parseErrors = 0;
    this.exceptions = 0;
    this.resyncs = 0;
    this.skippedChunks = 0;
    this.ts = 0n;
    this.unitEnd = 0;
    this.base = 0;
    this.pos = 0;
    this.pending = null;
    this.pendingPos = 0;
    this.skip = 0;
    this.endAfter = false;
    this.synced = false;
    this.candidate = null;
    this.candidatePos = 0;
  }

  /** Can a message start at b[0] (b being the head of a fresh syscall)? Must not throw. */
  protected abstract canStart(b: Uint8Array, totalLen: number): boolean;
  /**
   * Parse one unit starting at b[off] with known bytes up to `end`. Returns the unit's byte count,
   * which may run past `end` (the rest is skipped, known or not), or NEED_MORE / INVALID.
   * `final` says no more contiguous known bytes will come (a gap follows, or the buffer is full).
   */
  protected abstract step(b: Uint8Array, off: number, end: number, final: boolean): number;
  /** Framing lost: drop any half-parsed message state. */
  protected abstract onLost(): void;
  /** The unit for which step() called endUnitAfter() has fully passed (possibly chunks later). */
  protected onUnitEnd(): void {}

  /** Stream offset just past everything fed so far (unknown bytes included). */
  get streamPos(): number {
    return this.pos;
  }

  protected endUnitAfter(): void {
    this.endAfter = true;
  }

  /** Forces the stream to wait for a resync point (protocol switched, e.g. TLS or an upgrade). */
  loseSync(): void {
    this.lost = true;
    this.candidate = null;
    this.pending = null;
    this.skip = 0;
    this.endAfter = false;
    this.onLost();
  }

  private tryStart(b: Uint8Array, total: number): boolean {
    try {
      return this.canStart(b, total);
    } catch {
      this.exceptions++;
      return false;
    }
  }

  feed(bytes: Uint8Array, totalLen: number, ts: bigint): void {
    this.ts = ts;
    let chunkPos = this.pos;
    let total = Math.max(totalLen, bytes.length);
    this.pos += total;
    let gap = total - bytes.length;
    if (this.lost) {
      let ok = this.tryStart(bytes, total);
      const cand = this.candidate;
      if (!ok && cand) {
        // a message start written in tiny pieces: judge the pieces together
        const joined = concat(cand, bytes);
        if (this.tryStart(joined, cand.length + total)) {
          ok = true;
          chunkPos = this.candidatePos;
          bytes = joined;
          total += cand.length;
        }
      }
      if (!ok) {
        this.skippedChunks++;
        if (gap === 0 && (cand?.length ?? 0) + bytes.length <= MAX_CANDIDATE) {
          this.candidate = cand ? concat(cand, bytes) : bytes.slice();
          if (!cand) this.candidatePos = chunkPos;
        } else if (gap === 0 && bytes.length <= MAX_CANDIDATE) {
          this.candidate = bytes.slice();
          this.candidatePos = chunkPos;
        } else this.candidate = null;
        return;
      }
      this.candidate = null;
      this.lost = false;
      if (this.synced) this.resyncs++;
      this.synced = true;
    }
    let b = bytes;
    let off = 0;
    this.base = chunkPos;
    if (this.pending) {
      b = concat(this.pending, bytes);
      this.base = this.pendingPos;
      this.pending = null;
    }
    const end = b.length;
    try {
      for (;;) {
        if (this.skip > 0) {
          const k = Math.min(this.skip, end - off);
          off += k;
          this.skip -= k;
          if (this.skip > 0) {
            const g = Math.min(this.skip, gap);
            gap -= g;
            this.skip -= g;
          }
          if (this.skip > 0) return; // the whole chunk was body
          this.finishUnit();
          continue;
        }
        if (off >= end) break;
        const final = gap > 0 || end - off >= MAX_PENDING;
        const n = this.step(b, off, end, final);
        if (this.lost) return; // step decided the stream is no longer parseable (e.g. TLS)
        if (n === NEED_MORE) {
          if (final) {
            this.loseSync();
            return;
          }
          this.pending = b.slice(off, end);
          this.pendingPos = this.base + off;
          return;
        }
        if (n < 0 || !Number.isFinite(n)) {
          this.parseErrors++;
          this.loseSync();
          return;
        }
        this.unitEnd = this.base + off + n;
        if (n <= end - off) {
          off += n;
          this.finishUnit();
        } else {
          this.skip = n - (end - off);
          off = end;
        }
      }
      // Unknown bytes where a message start was expected: we cannot tell where the next one begins.
      if (gap > 0) this.loseSync();
    } catch {
      this.exceptions++;
      this.parseErrors++;
      try {
        this.loseSync();
      } catch {
        this.exceptions++;
      }
    }
  }

  private finishUnit(): void {
    if (!this.endAfter) return;
    this.endAfter = false;
    this.onUnitEnd();
  }
}
