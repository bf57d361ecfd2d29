// Fuzzing every parser with at least 100k inputs each (FL_FUZZ_N changes the count); inputs and checks
// in fuzz-inputs.ts. Per input: nothing throws (inside the parsers either: `exceptions` counts what their
// guards caught), every record is well-formed, the accounting adds up (chunks and bytes counted, records
// counted as returned, no more bytes claimed than crossed the socket, nothing left after close). Then a
// long-lived connection fed with mutated traffic must keep its memory bounded. Prints inputs/s per parser.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ConnectionParser } from '../../src/protocols/connection.js';
import { capturesOf, check, inputMaker, PARSERS } from './fuzz-inputs.js';

const N = Number(process.env.FL_FUZZ_N ?? 100_000);

let gcFn: (() => void) | undefined;
function heapAfterGc(): number {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}

describe(`fuzzing, ${N} inputs per parser`, () => {
  for (const [k, proto] of PARSERS.entries()) {
    const caps = capturesOf(proto);
    it(`${proto}: ${N} random and mutated inputs from ${caps.length} real captures`, () => {
      assert.ok(caps.length > 0, `no ${proto} capture in test/fixtures/protocols`);
      const next = inputMaker(caps, 0xf022 + k);
      let records = 0;
      let detected = 0;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      for (let n = 0; n < N; n++) {
        const out = check(next(), `${proto} input #${n}`);
        records += out.records;
        if (out.protocol === proto) detected++;
      }
      const s = (performance.now() - t0) / 1000;
      const u = process.cpuUsage(cpu0);
      const cpu = (u.user + u.system) / 1e6;
      console.log(`# ${proto}: ${N} inputs in ${s.toFixed(2)} s (${cpu.toFixed(2)} s CPU, ${Math.round(N / cpu).toLocaleString('en-US')} inputs per CPU-second), ${records} records, ${detected} connections taken for ${proto}`);
      // most inputs carry enough of the protocol to be recognised: the fuzzer reaches the decoders
      assert.ok(detected > N * 0.3, `${proto}: only ${detected} of ${N} inputs reached its decoder`);
      assert.ok(records > N * 0.2, `${proto}: only ${records} records from ${N} inputs`);
    });
  }

  it('a long-lived connection fed mutated traffic keeps its memory bounded', () => {
    for (const [k, proto] of PARSERS.entries()) {
      const caps = capturesOf(proto);
      const next = inputMaker(caps, 0x3e3 + k);
      // one connection for everything: detected from a clean start, then 20k mutated windows back to back
      const p = new ConnectionParser();
      for (const c of caps[0]!.slice(0, 4)) p.push({ dir: c.dir, role: 'client', tsNs: c.tsNs, bytes: c.bytes, totalLen: c.bytes.length });
      let ts = 0n;
      const feed = (n: number) => {
        for (let i = 0; i < n; i++) {
          for (const c of next()) p.push({ ...c, role: 'client', tsNs: (ts += 1000n) });
        }
      };
      feed(2000); // warm: buffers and tables at their working size
      const before = heapAfterGc();
      feed(20_000);
      const grew = heapAfterGc() - before;
      p.close();
      const s = p.stats();
      console.log(`# ${proto}: one connection, ${s.chunks} chunks, ${s.records} records: heap grew ${(grew / 1024).toFixed(0)} KiB`);
      assert.equal(s.exceptions, 0, proto);
      assert.ok(grew < 4 * 1024 * 1024, `${proto}: heap grew ${grew} bytes over 20k mutated windows on one connection`);
    }
  });
});
