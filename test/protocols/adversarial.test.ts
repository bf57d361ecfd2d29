// Adversarial input for every parser, from real captures: capture starting at any offset, stopping at
// any offset, every head size, seeded mutations, random garbage. Nothing may throw (inside the parsers
// either: `exceptions` counts what their own guards caught) and every record must be well-formed.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConnectionParser } from '../../src/protocols/connection.js';
import { detectProtocol } from '../../src/protocols/detect.js';
import type { Chunk } from '../../src/protocols/types.js';
import { isValidRecord } from '../../src/protocols/validate.js';
import { loadFixture, toChunks } from './capture.js';
import { seededRandom } from '../../src/util/random.js';

const dir = new URL('../fixtures/protocols/', import.meta.url).pathname;
// long windows (60 reads) per capture; the 100k-per-parser fuzzing with short windows is fuzz.test.ts
const FUZZ_PER_FIXTURE = Number(process.env.FL_ADVERSARIAL_N ?? 1000);


interface Outcome {
  records: number;
  protocol: string;
}

/** Runs one input; throws (failing the test) on an escaped or caught exception or a bad record. */
function check(chunks: Chunk[], what: string): Outcome {
  const p = new ConnectionParser();
  let n = 0;
  const seen = (rs: readonly import('../../src/protocols/types.js').L7Record[]) => {
    for (const r of rs) {
      const bad = isValidRecord(r);
      if (bad) assert.fail(`${what}: ${bad}`);
      n++;
    }
  };
  for (const c of chunks) seen(p.push(c));
  seen(p.close());
  const s = p.stats();
  assert.equal(s.exceptions, 0, `${what}: parser caught its own exception`);
  return { records: n, protocol: p.protocol };
}

const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));

function sampleOffsets(len: number): number[] {
  const out = new Set<number>([0, 1, 2, 3, 4, 5, 7, 11]);
  for (let x = 16; x < len; x = Math.ceil(x * 1.7)) out.add(x);
  out.add(Math.max(0, len - 1));
  return [...out].filter((x) => x < len);
}

describe('adversarial input', () => {
  for (const f of fixtures) {
    const cap = loadFixture(dir + f);
    // Big captures are fuzzed through realistic heads; the whole stream is still used for cuts.
    const full = toChunks(cap);

    it(`${f}: capture starting or stopping at any offset`, () => {
      const step = Math.max(1, Math.floor(full.length / 40));
      for (let i = 0; i < full.length; i += step) {
        for (const off of sampleOffsets(full[i].bytes.length)) {
          const c = full[i];
          const mid: Chunk = { ...c, bytes: c.bytes.subarray(off), totalLen: c.totalLen - off };
          check([mid, ...full.slice(i + 1, i + 1 + 200)], `${f} start chunk ${i} +${off}`);
          const cut: Chunk = { ...c, bytes: c.bytes.subarray(0, off), totalLen: off };
          check([...full.slice(Math.max(0, i - 200), i), cut], `${f} stop chunk ${i} +${off}`);
        }
      }
    });

    it(`${f}: every head size from 1 to 80, and a few larger`, () => {
      const sizes = [...Array.from({ length: 80 }, (_, i) => i + 1), 100, 128, 200, 256, 512, 1000, 4096];
      for (const h of sizes) check(toChunks(cap.slice(0, 400), h), `${f} head ${h}`);
    });

    it(`${f}: ${FUZZ_PER_FIXTURE} seeded mutations`, () => {
      const rand = seededRandom(0xfa17 + f.length);
      const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
      const base = cap.slice(0, 60);
      for (let n = 0; n < FUZZ_PER_FIXTURE; n++) {
        const head = pick([8, 16, 33, 64, 256, 1024, 1 << 20]);
        let chunks = toChunks(base, head).map((c) => ({ ...c, bytes: c.bytes.slice() }));
        const muts = 1 + Math.floor(rand() * 4);
        for (let m = 0; m < muts && chunks.length > 0; m++) {
          const i = Math.floor(rand() * chunks.length);
          const c = chunks[i];
          switch (Math.floor(rand() * 8)) {
            case 0: // flip bytes
              for (let k = 0; k < 1 + rand() * 4 && c.bytes.length > 0; k++) c.bytes[Math.floor(rand() * c.bytes.length)] ^= 1 << Math.floor(rand() * 8);
              break;
            case 1: // interesting values (lengths, type bytes)
              if (c.bytes.length > 0) c.bytes[Math.floor(rand() * c.bytes.length)] = pick([0, 0xff, 0x7f, 0x80, 13, 10, 42, 36, 45, 48, 0xfe, 0xfb]);
              break;
            case 2: {
              // insert random bytes
              const ins = Uint8Array.from({ length: 1 + Math.floor(rand() * 16) }, () => Math.floor(rand() * 256));
              const at = Math.floor(rand() * (c.bytes.length + 1));
              const b = new Uint8Array(c.bytes.length + ins.length);
              b.set(c.bytes.subarray(0, at));
              b.set(ins, at);
              b.set(c.bytes.subarray(at), at + ins.length);
              chunks[i] = { ...c, bytes: b, totalLen: c.totalLen + ins.length };
              break;
            }
            case 3: {
              // cut a chunk short (as if the syscall moved fewer bytes)
              const k = Math.floor(rand() * (c.bytes.length + 1));
              chunks[i] = { ...c, bytes: c.bytes.subarray(0, k), totalLen: k + Math.floor(rand() * 3) * Math.floor(rand() * 100) };
              break;
            }
            case 4: // drop a chunk
              chunks.splice(i, 1);
              break;
            case 5: // duplicate a chunk
              chunks.splice(i, 0, { ...c });
              break;
            case 6: // lie about the length
              chunks[i] = { ...c, totalLen: pick([0, c.bytes.length, c.totalLen * 2, 2 ** 31, c.bytes.length + 1]) };
              break;
            case 7: // wrong direction
              chunks[i] = { ...c, dir: c.dir === 'send' ? 'recv' : 'send' };
              break;
          }
        }
        chunks = chunks.map((c) => ({ ...c, totalLen: Math.max(c.totalLen, c.bytes.length) }));
        check(chunks, `${f} mutation #${n}`);
      }
    });
  }

  it('random garbage stays unknown and never throws', () => {
    const rand = seededRandom(1234);
    let detected = 0;
    const total = 3000;
    for (let n = 0; n < total; n++) {
      const chunks: Chunk[] = [];
      const k = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < k; i++) {
        const len = Math.floor(rand() * 300);
        const bytes = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
        chunks.push({ dir: rand() < 0.5 ? 'send' : 'recv', role: 'unknown', tsNs: BigInt(n * 10 + i), bytes, totalLen: len + (rand() < 0.3 ? Math.floor(rand() * 1000) : 0) });
      }
      const out = check(chunks, `garbage #${n}`);
      if (out.protocol !== 'unknown') detected++;
      assert.equal(detectProtocol(chunks) === 'unknown', out.protocol === 'unknown');
    }
    // uniform random bytes essentially never pass the detectors' structural checks
    assert.ok(detected <= total * 0.002, `${detected} of ${total} garbage streams were taken for a protocol`);
  });

  it('text that is not one of our protocols stays unknown', () => {
    const lines = ['SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n', 'EHLO mail.example.com\r\n', '220 smtp.example.com ESMTP\r\n', '{"jsonrpc":"2.0","id":1}\n', 'HELLO WORLD\n', 'get /lowercase HTTP/1.1\r\n'.toUpperCase().replace('GET', 'FETCH')];
    for (const l of lines) {
      const b = new TextEncoder().encode(l);
      assert.equal(detectProtocol([{ dir: 'send', role: 'client', tsNs: 0n, bytes: b, totalLen: b.length }]), 'unknown', l);
    }
  });
});
