// Small allocation-free helpers over Uint8Array; text is decoded only for fields we output.

export const CR = 13;
export const LF = 10;

/** Index of "\r\n" starting the search at `from`, or -1 before `end`. */
export function indexOfCrlf(b: Uint8Array, from: number, end: number): number {
  // header lines are short: a plain loop beats the native call for the first bytes; long runs (bodies,
  // garbage) go to native indexOf, which may look past `end` (that only costs time on odd inputs)
  const near = Math.min(end - 1, from + 128);
  let i = from;
  for (; i < near; i++) if (b[i] === CR && b[i + 1] === LF) return i;
  if (i >= end - 1) return -1;
  for (i = b.indexOf(CR, i); i >= 0 && i + 1 < end; i = b.indexOf(CR, i + 1)) if (b[i + 1] === LF) return i;
  return -1;
}

/** Index of "\r\n\r\n" (end of an HTTP header block), or -1. */
export function indexOfHeaderEnd(b: Uint8Array, from: number, end: number): number {
  for (let i = b.indexOf(CR, from); i >= 0 && i + 3 < end; i = b.indexOf(CR, i + 1)) {
    if (b[i + 1] === LF && b[i + 2] === CR && b[i + 3] === LF) return i;
  }
  return -1;
}

export function indexOfByte(b: Uint8Array, v: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (b[i] === v) return i;
  return -1;
}

/** Latin-1 decode of b[from, end): every byte maps to one char, never throws. */
const latin1Slice = Buffer.prototype.latin1Slice as (this: Uint8Array, start: number, end: number) => string;

export function ascii(b: Uint8Array, from: number, end: number, max = 512): string {
  const stop = Math.min(end, from + max, b.length);
  if (!(from >= 0 && stop > from)) return '';
  // Node's latin1 slice makes a flat string in one native call: ~3x faster than char-by-char concatenation,
  // and the flat string hashes at once when it is looked up (route memo, method names)
  return latin1Slice.call(b, from, stop);
}

/** UTF-8 decode for statements/keys (invalid sequences become U+FFFD). */
const utf8 = new TextDecoder('utf-8', { fatal: false });
export function text(b: Uint8Array, from: number, end: number, max = 512): string {
  return utf8.decode(b.subarray(from, Math.min(end, from + max, b.length)));
}

/** Case-insensitive compare of b[at..] with a lowercase ASCII literal. */
export function startsWithLower(b: Uint8Array, at: number, end: number, lit: string): boolean {
  if (end - at < lit.length) return false;
  for (let i = 0; i < lit.length; i++) {
    let c = b[at + i];
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lit.charCodeAt(i)) return false;
  }
  return true;
}

export function startsWith(b: Uint8Array, at: number, end: number, lit: string): boolean {
  if (end - at < lit.length) return false;
  for (let i = 0; i < lit.length; i++) if (b[at + i] !== lit.charCodeAt(i)) return false;
  return true;
}

/** Decimal integer in b[from, end) (optional leading '-'); NaN when not a clean number. */
export function parseDec(b: Uint8Array, from: number, end: number): number {
  if (from >= end || end - from > 15) return NaN;
  let neg = false;
  if (b[from] === 45) { neg = true; from++; if (from >= end) return NaN; }
  let v = 0;
  for (let i = from; i < end; i++) {
    const c = b[i] - 48;
    if (c < 0 || c > 9) return NaN;
    v = v * 10 + c;
  }
  return neg ? -v : v;
}

export function isPrintable(c: number): boolean {
  return (c >= 32 && c < 127) || c === 9 || c === 10 || c === 13;
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function u16be(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}
export function u32be(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
}
export function u24le(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16);
}
export function u16le(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}

/** Case-insensitive search for a lowercase ASCII literal inside b[from, end). */
export function containsLower(b: Uint8Array, from: number, end: number, lit: string): boolean {
  const n = lit.length;
  const first = lit.charCodeAt(0);
  for (let i = from; i + n <= end; i++) {
    if ((b[i] | 0x20) !== first) continue;
    let k = 1;
    for (; k < n; k++) {
      let c = b[i + k];
      if (c >= 65 && c <= 90) c += 32;
      if (c !== lit.charCodeAt(k)) break;
    }
    if (k === n) return true;
  }
  return false;
}
