// Stores encoded record batches in one file, so that each benchmark child process loads the same
// stream in milliseconds instead of regenerating it. Batch buffers stay 8-byte aligned, like the
// ring buffer's, so the decoder takes the same (typed-array) path it takes on live data.
import { readFileSync, writeFileSync } from 'node:fs';
import type { SockBatch } from '../../src/collect/sock-encoder.js';

const MAGIC = 0x464c4231; // "FLB1"
const pad8 = (n: number) => (n + 7) & ~7;

export function writeBatchFile(path: string, batches: SockBatch[]): void {
  let size = 8;
  for (const b of batches) size += 8 + pad8(b.count * 8) + pad8(b.buf.length);
  const out = Buffer.alloc(size);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(batches.length, 4);
  let off = 8;
  for (const b of batches) {
    out.writeUInt32LE(b.count, off);
    out.writeUInt32LE(b.buf.length, off + 4);
    off += 8;
    for (let i = 0; i < b.count; i++) {
      out.writeUInt32LE(b.offsets[i], off + 4 * i);
      out.writeUInt32LE(b.lengths[i], off + 4 * (b.count + i));
    }
    off += pad8(b.count * 8);
    b.buf.copy(out, off);
    off += pad8(b.buf.length);
  }
  writeFileSync(path, out);
}

export function readBatchFile(path: string): SockBatch[] {
  const file = readFileSync(path);
  // copy into a fresh (page-aligned) ArrayBuffer: readFileSync may hand out a pooled, unaligned slice
  const all = Buffer.from(new ArrayBuffer(file.length));
  file.copy(all);
  if (all.readUInt32LE(0) !== MAGIC) throw new Error(`${path} is not a benchmark batch file`);
  const n = all.readUInt32LE(4);
  const out: SockBatch[] = [];
  let off = 8;
  for (let k = 0; k < n; k++) {
    const count = all.readUInt32LE(off);
    const len = all.readUInt32LE(off + 4);
    off += 8;
    const offsets = new Uint32Array(count);
    const lengths = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      offsets[i] = all.readUInt32LE(off + 4 * i);
      lengths[i] = all.readUInt32LE(off + 4 * (count + i));
    }
    off += pad8(count * 8);
    out.push({ buf: all.subarray(off, off + len), offsets, lengths, count });
    off += pad8(len);
  }
  return out;
}
