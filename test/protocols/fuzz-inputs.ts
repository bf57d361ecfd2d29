// The fuzzer's input maker and per-input checker, shared by test/protocols/fuzz.test.ts and profiling runs.
// Inputs: windows of real captures (test/fixtures/protocols) cut anywhere, at head sizes the kernel
// copies (8 B .. 4 KiB), from either end, with seeded mutations on top, or a real first message followed
// by random bytes. Each input is one connection.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { ConnectionParser } from '../../src/protocols/connection.js';
import type { Chunk, L7Record, Protocol } from '../../src/protocols/types.js';
import { isValidRecord } from '../../src/protocols/validate.js';
import { loadFixture, type Captured } from './capture.js';
import { seededRandom } from '../../src/util/random.js';

const dir = new URL('../fixtures/protocols/', import.meta.url).pathname;


export const PARSERS: Protocol[] = ['http1', 'http2', 'redis', 'postgres', 'mysql', 'dns'];
// the kernel copies at most the configured payload head (1 KiB by default, 4 KiB at most)
const HEADS = [8, 16, 33, 64, 128, 256, 1024, 4096];
const INTERESTING = [0, 0xff, 0x7f, 0x80, 13, 10, 32, 42, 36, 45, 43, 58, 48, 57, 0xfe, 0xfb, 0x0a, 0x00];

export interface Cap { dir: Captured['dir']; tsNs: bigint; bytes: Uint8Array }

/** The captures of one protocol (fixture names start with it), as plain Uint8Arrays: Buffer#slice would not copy. */
export function capturesOf(p: Protocol): Cap[][] {
  return readdirSync(dir).filter((f) => f.endsWith('.json') && f.startsWith(`${p}-`))
    .map((f) => loadFixture(dir + f).map((c) => ({ dir: c.dir, tsNs: c.tsNs, bytes: new Uint8Array(c.bytes) })));
}

/** Makes inputs for one parser: a window of a capture, mutated or not, as the kernel would hand it over. */
export function inputMaker(caps: Cap[][], seed: number) {
  const rand = seededRandom(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  // random bytes come from a seeded pool at a random offset: one rand() per run, not per byte
  const pool = new Uint8Array(1 << 16);
  for (let k = 0; k < pool.length; k++) pool[k] = int(256);
  const randomBytes = (n: number) => {
    const at = int(pool.length - n);
    return pool.subarray(at, at + n);
  };
  return (): Chunk[] => {
    const cap = pick(caps);
    // windows start at the beginning a third of the time (detection from the first bytes), else anywhere
    const start = rand() < 0.33 ? 0 : int(cap.length);
    const len = 1 + int(Math.min(8, cap.length - start));
    const head = pick(HEADS);
    const server = rand() < 0.3; // the server's end of the same traffic
    const role = rand() < 0.2 ? 'unknown' : server ? 'server' : 'client';
    const chunks: Chunk[] = new Array(len);
    for (let i = 0; i < len; i++) {
      const c = cap[start + i]!;
      const dir = server ? (c.dir === 'send' ? 'recv' : 'send') : c.dir;
      chunks[i] = { dir, role, tsNs: c.tsNs, bytes: c.bytes.length > head ? c.bytes.subarray(0, head) : c.bytes, totalLen: c.bytes.length };
    }
    const kind = rand();
    if (kind < 0.15) return chunks; // as captured
    if (kind < 0.25) {
      // a real first message, then random bytes (garbage on a live connection)
      for (let i = 1; i < chunks.length; i++) {
        const b = randomBytes(int(300));
        chunks[i] = { ...chunks[i]!, bytes: b, totalLen: b.length + (rand() < 0.3 ? int(5000) : 0) };
      }
      return chunks;
    }
    const muts = 1 + int(4);
    for (let m = 0; m < muts && chunks.length > 0; m++) {
      const i = int(chunks.length);
      const c = chunks[i]!;
      switch (int(9)) {
        case 0: { // flip bits
          const b = c.bytes.slice();
          for (let k = 0; k < 1 + int(4) && b.length > 0; k++) b[int(b.length)]! ^= 1 << int(8);
          chunks[i] = { ...c, bytes: b };
          break;
        }
        case 1: { // interesting values (length bytes, type bytes, CR/LF, '*', '$', ':')
          const b = c.bytes.slice();
          if (b.length > 0) b[int(b.length)] = pick(INTERESTING);
          chunks[i] = { ...c, bytes: b };
          break;
        }
        case 2: { // insert random bytes
          const ins = randomBytes(1 + int(16));
          const at = int(c.bytes.length + 1);
          const b = new Uint8Array(c.bytes.length + ins.length);
          b.set(c.bytes.subarray(0, at));
          b.set(ins, at);
          b.set(c.bytes.subarray(at), at + ins.length);
          chunks[i] = { ...c, bytes: b, totalLen: c.totalLen + ins.length };
          break;
        }
        case 3: { // the syscall moved fewer bytes than the message
          const k = int(c.bytes.length + 1);
          chunks[i] = { ...c, bytes: c.bytes.subarray(0, k), totalLen: k + (rand() < 0.5 ? 0 : int(100)) };
          break;
        }
        case 4: // a lost chunk
          chunks.splice(i, 1);
          break;
        case 5: // a chunk seen twice
          chunks.splice(i, 0, { ...c });
          break;
        case 6: // the length lies (only upwards: the head never exceeds the syscall)
          chunks[i] = { ...c, totalLen: Math.max(c.bytes.length, pick([0, c.totalLen * 2, 2 ** 31, c.bytes.length + 1, 65536])) };
          break;
        case 7: // wrong direction
          chunks[i] = { ...c, dir: c.dir === 'send' ? 'recv' : 'send' };
          break;
        case 8: { // a chunk of another part of the capture spliced in (reordering)
          const o = cap[int(cap.length)]!;
          chunks.splice(i, 0, { ...c, bytes: o.bytes.length > head ? o.bytes.subarray(0, head) : o.bytes, totalLen: o.bytes.length });
          break;
        }
      }
    }
    return chunks;
  };
}

const show = (r: L7Record) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

/** One input through one parser; returns the records, failing the test on any broken rule. */
export function check(chunks: Chunk[], what: string): { records: number; protocol: string } {
  const p = new ConnectionParser();
  let records = 0;
  let bytes = 0;
  const seen = (rs: readonly L7Record[]) => {
    for (const r of rs) {
      const bad = isValidRecord(r);
      if (bad) assert.fail(`${what}: ${bad}: ${show(r)}`);
      // an unfinished exchange cannot claim more bytes than crossed the socket (unknown ones included); a
      // complete one counts what its length fields say (the tail of a frame may still be in flight)
      if (!Number.isSafeInteger(r.reqBytes) || !Number.isSafeInteger(r.respBytes)) assert.fail(`${what}: sizes ${r.reqBytes}/${r.respBytes}: ${show(r)}`);
      if (r.incomplete && r.reqBytes + r.respBytes > bytes) assert.fail(`${what}: unfinished record claims ${r.reqBytes}+${r.respBytes} bytes of ${bytes}: ${show(r)}`);
      records++;
    }
  };
  for (const c of chunks) {
    bytes += c.totalLen;
    seen(p.push(c));
  }
  seen(p.close());
  if (p.close().length !== 0) assert.fail(`${what}: a second close emitted records`);
  const s = p.stats();
  if (s.exceptions !== 0) assert.fail(`${what}: the parser caught ${s.exceptions} exceptions of its own`);
  if (s.chunks !== chunks.length || s.bytes !== bytes || s.records !== records) {
    assert.fail(`${what}: accounting: chunks ${s.chunks}/${chunks.length}, bytes ${s.bytes}/${bytes}, records ${s.records}/${records}`);
  }
  return { records, protocol: p.protocol };
}
