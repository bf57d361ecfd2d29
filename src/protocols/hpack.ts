// HPACK (RFC 7541) decoding for HTTP/2 header blocks: static + dynamic table, integers, strings,
// Huffman. The Huffman code is canonical, so the code lengths of RFC 7541 Appendix B are all we keep.

/** Code length in bits of symbols 0..256 (256 = EOS), RFC 7541 Appendix B. */
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

/** RFC 7541 Appendix A (index 1..61). */
const STATIC_TABLE: [string, string][] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

// Canonical decoding tables: per length, the first code, how many codes, where its symbols start.
const MAX_LEN = 30;
const firstCode = new Int32Array(MAX_LEN + 2);
const countAt = new Int32Array(MAX_LEN + 2);
const firstIndex = new Int32Array(MAX_LEN + 2);
const sortedSymbols: number[] = [];
(() => {
  for (const l of CODE_LENGTHS) countAt[l]++;
  for (let l = 1, idx = 0; l <= MAX_LEN; l++) {
    firstIndex[l] = idx;
    idx += countAt[l];
  }
  const order = CODE_LENGTHS.map((l, s) => [l, s]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [, s] of order) sortedSymbols.push(s);
  let code = 0;
  for (let l = 1; l <= MAX_LEN; l++) {
    code = (code + countAt[l - 1]) << 1;
    if (l === 1) code = 0;
    firstCode[l] = code;
  }
})();

/** Huffman-decodes b[from, end) into a latin-1 string; null on an invalid code or padding. */
export function huffmanDecode(b: Uint8Array, from: number, end: number, max = 4096): string | null {
  let out = '';
  let code = 0;
  let len = 0;
  for (let i = from; i < end; i++) {
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((b[i] >> bit) & 1);
      len++;
      const k = code - firstCode[len];
      if (k >= 0 && k < countAt[len]) {
        const sym = sortedSymbols[firstIndex[len] + k];
        if (sym === 256) return null; // EOS inside a string is an error
        if (out.length < max) out += String.fromCharCode(sym);
        code = 0;
        len = 0;
      } else if (len >= MAX_LEN) return null;
    }
  }
  // padding: at most 7 bits, all ones (a prefix of EOS)
  return len <= 7 && code === (1 << len) - 1 ? out : null;
}

export class HpackError extends Error {}

/** One direction's HPACK decoder; state (the dynamic table) must see every header block in order. */
export class HpackDecoder {
  private dyn: [string, string][] = [];
  private size = 0;
  private maxSize = 4096;
  /** A header block was lost or malformed: the dynamic table can no longer be trusted. */
  broken = false;

  /** Decodes one complete header block; returns null (and marks the decoder broken) when it cannot. */
  decode(b: Uint8Array, from: number, end: number): [string, string][] | null {
    if (this.broken) return null;
    try {
      return this.decodeBlock(b, from, end);
    } catch {
      this.broken = true;
      return null;
    }
  }

  private decodeBlock(b: Uint8Array, from: number, end: number): [string, string][] {
    const out: [string, string][] = [];
    const p = { i: from };
    while (p.i < end) {
      const c = b[p.i];
      if (c & 0x80) {
        out.push(this.entry(this.int(b, p, end, 7)));
      } else if ((c & 0xc0) === 0x40) {
        const h = this.literal(b, p, end, 6);
        this.insert(h);
        out.push(h);
      } else if ((c & 0xe0) === 0x20) {
        const n = this.int(b, p, end, 5);
        if (n > 1 << 20) throw new HpackError('table too large');
        this.maxSize = n;
        this.evict();
      } else {
        out.push(this.literal(b, p, end, 4));
      }
      if (out.length > 512) throw new HpackError('too many headers');
    }
    return out;
  }

  private int(b: Uint8Array, p: { i: number }, end: number, prefix: number): number {
    const mask = (1 << prefix) - 1;
    let v = b[p.i++] & mask;
    if (v < mask) return v;
    let m = 0;
    for (;;) {
      if (p.i >= end || m > 28) throw new HpackError('bad integer');
      const c = b[p.i++];
      v += (c & 0x7f) * 2 ** m;
      m += 7;
      if (!(c & 0x80)) return v;
    }
  }

  private str(b: Uint8Array, p: { i: number }, end: number): string {
    const huff = (b[p.i] & 0x80) !== 0;
    const n = this.int(b, p, end, 7);
    if (p.i + n > end) throw new HpackError('string past block');
    const s = p.i;
    p.i += n;
    if (huff) {
      const d = huffmanDecode(b, s, s + n);
      if (d === null) throw new HpackError('bad huffman');
      return d;
    }
    let r = '';
    for (let k = s; k < s + n && k - s < 4096; k++) r += String.fromCharCode(b[k]);
    return r;
  }

  private literal(b: Uint8Array, p: { i: number }, end: number, prefix: number): [string, string] {
    const idx = this.int(b, p, end, prefix);
    const name = idx === 0 ? this.str(b, p, end) : this.entry(idx)[0];
    return [name, this.str(b, p, end)];
  }

  private entry(idx: number): [string, string] {
    if (idx >= 1 && idx <= STATIC_TABLE.length) return STATIC_TABLE[idx - 1];
    const d = this.dyn[idx - STATIC_TABLE.length - 1];
    if (!d) throw new HpackError(`index ${idx} out of range`);
    return d;
  }

  private insert(h: [string, string]): void {
    this.dyn.unshift(h);
    this.size += h[0].length + h[1].length + 32;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.maxSize && this.dyn.length > 0) {
      const e = this.dyn.pop()!;
      this.size -= e[0].length + e[1].length + 32;
    }
  }
}
