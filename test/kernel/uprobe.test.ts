// uprobe by symbol and uretprobe by file offset on a C binary built here, with bpf cookies read back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfObject } from '../../src/kernel/index.js';
import { FIXTURE, fixtureKernelState, settledKernelState, kernelBaseline, sh, skipUnlessRoot } from './helpers.js';

const SRC = `
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) int fl_target(int x) { __asm__ volatile(""); return x * 2 + 1; }
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1, s = 0;
  for (int i = 0; i < n; i++) s += fl_target(i);
  printf("%d\\n", s);
  return 0;
}`;

let dir = '';
let bin = '';
const haveCc = sh('sh', ['-c', 'command -v cc && command -v nm && command -v readelf'], { allowFail: true }).split('\n').filter(Boolean).length === 3;
const skip = skipUnlessRoot || (!haveCc && 'needs cc, nm and readelf (gcc, binutils)');

/** File offset of a symbol: its address minus the vaddr/offset of the LOAD segment holding it. */
function symbolFileOffset(binary: string, symbol: string): number {
  const line = sh('nm', [binary]).split('\n').find((l) => l.endsWith(` ${symbol}`));
  if (!line) throw new Error(`${symbol} not in ${binary}`);
  const addr = parseInt(line.split(' ')[0], 16);
  for (const l of sh('readelf', ['-lW', binary]).split('\n')) {
    const f = l.trim().split(/\s+/);
    if (f[0] !== 'LOAD') continue;
    const [off, vaddr, , , memsz] = f.slice(1, 6).map((x) => parseInt(x, 16));
    if (addr >= vaddr && addr < vaddr + memsz) return addr - vaddr + off;
  }
  throw new Error(`no LOAD segment holds ${symbol}`);
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'fl-uprobe-'));
  bin = join(dir, 'target');
  writeFileSync(join(dir, 'target.c'), SRC);
  sh('cc', ['-O2', '-g', '-o', bin, join(dir, 'target.c')]);
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

function seen(obj: BpfObject, cookie: bigint): { hits: bigint; arg: bigint; ret: bigint } | undefined {
  const k = Buffer.alloc(8);
  k.writeBigUInt64LE(cookie);
  const v = obj.map('uprobe_hits').lookup(k);
  return v && { hits: v.readBigUInt64LE(0), arg: v.readBigInt64LE(8), ret: v.readBigInt64LE(16) };
}

test('uprobe by symbol and uretprobe by offset fire once per call and carry their cookies', { skip }, () => {
  const baseline = kernelBaseline();
  const obj = BpfObject.load(FIXTURE);
  try {
    const entry = obj.program('uprobe_hit').attachUprobe({ binary: bin, symbol: 'fl_target', cookie: 0x1111n });
    const off = symbolFileOffset(bin, 'fl_target');
    const ret = obj.program('uretprobe_hit').attachUprobe({ binary: bin, offset: off, retprobe: true, cookie: 0x2222n });
    // filtered to a pid that never runs the binary: must stay silent
    obj.program('uprobe_hit').attachUprobe({ binary: bin, symbol: 'fl_target', pid: process.pid, cookie: 0x3333n });
    assert.match(entry.description, /^uprobe .*target:fl_target cookie=4369 -> uprobe_hit$/);
    assert.match(ret.description, new RegExp(`^uretprobe .*target:0x${off.toString(16)} cookie=8738 -> uretprobe_hit$`));

    const N = 25;
    assert.equal(sh(bin, [String(N)]).trim(), String(N * N)); // sum of 2i+1 for i < N
    assert.deepEqual(seen(obj, 0x1111n), { hits: BigInt(N), arg: BigInt(N - 1), ret: 0n });
    assert.deepEqual(seen(obj, 0x2222n), { hits: BigInt(N), arg: 0n, ret: BigInt(2 * (N - 1) + 1) });
    assert.equal(seen(obj, 0x3333n), undefined);

    entry.detach();
    sh(bin, ['3']);
    assert.equal(seen(obj, 0x1111n)!.hits, BigInt(N));
    assert.equal(seen(obj, 0x2222n)!.hits, BigInt(N + 3));
  } finally {
    obj.close();
  }
  assert.deepEqual(settledKernelState(baseline), baseline);
});

test('uprobe errors name the program, binary and symbol', { skip }, () => {
  const obj = BpfObject.load(FIXTURE);
  try {
    const p = obj.program('uprobe_hit');
    assert.throws(() => p.attachUprobe({ binary: bin, symbol: 'fl_no_such_function' }),
      /cannot attach program 'uprobe_hit' as uprobe to .*target:fl_no_such_function: .*symbol not found/);
    assert.throws(() => p.attachUprobe({ binary: '/nonexistent/bin', symbol: 'x' }),
      /program 'uprobe_hit'.*binary \/nonexistent\/bin does not exist/);
    assert.throws(() => p.attachUprobe({ binary: bin }), /needs a symbol or an offset/);
    assert.deepEqual(obj.attachments(), []);
  } finally {
    obj.close();
  }
});
