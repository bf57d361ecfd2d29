// Benchmark: socket records per second that the agent decodes and folds into the flow table, on one core,
// from synthetic ring-buffer batches laid out by the compiled probe's BTF (struct sock_event in
// bpf/.output/sock.bpf.o) and read through the collector's own decoder (SockRecordView).
//
// Four measurements, each in a fresh child process (so one mode's JIT feedback cannot slow another),
// interleaved over rounds so that machine drift hits all of them:
//   decode        SockRecordView over every record: all header fields the fold reads (zero allocation)
//   decode-events decodeSockEvent per record: the object path (onEvent consumers), for comparison
//   fold          FlowTable.fold over pre-decoded records (plain objects): the table's own cost
//   decode+fold   FlowTable.foldBatch(batch, view): what the agent does per ring-buffer batch
// Rates are records per CPU-second of the process (process.cpuUsage), so that other load on a shared
// machine inflates them less than wall time would; wall rates are printed too.
//
// With --baseline FILE (another flows.ts, e.g. a copy of the previous version), a fifth mode
//   baseline      decode+fold through that file's FlowTable, interleaved with the others: a before/after in one run
//
//   node --import tsx bench/decode-fold.ts [--records 16000] [--concurrency 1000] [--max-exchanges 20] [--rounds 2] [--reps 3] [--rep-ms 400]
//        [--baseline path/to/old/flows.ts] [--modes decode,fold,decode+fold,baseline] [--layout some/sock.bpf.o]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SockRecordView, decodeSockEvent, type SockLayout } from '../src/collect/sock-decoder.js';
import type { SockBatch } from '../src/collect/sock-encoder.js';
import { FlowTable } from '../src/correlate/flows.js';
import { numArg, strArg } from './lib/args.js';
import { readBatchFile, writeBatchFile } from './lib/batch-file.js';
import { SOCK_OBJECT_PATH, compiledSockLayout, generateRecords, toBatches } from './lib/sock-workload.js';
import { fixed, int, machineHeader, median, min, table } from './lib/report.js';

const TARGET = 1_000_000;
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url)); // where `--import tsx` resolves
const MODES = ['decode', 'decode-events', 'fold', 'decode+fold', 'baseline'] as const;
type Mode = (typeof MODES)[number];

interface ChildResult { mode: Mode; cpuRates: number[]; wallRates: number[]; flows: number; check: number }

/** Every field the fold reads, decoded ahead into flat columns (sequential, cache-friendly), behind a
 * cursor with the view's accessors: feeds FlowTable.fold without the decoder in the loop. */
class PreDecoded {
  readonly valid = true;
  i = 0;
  private readonly num: Float64Array; // 11 numbers per record
  private readonly tuples: Uint32Array; // 10 words per record: local 4 + port, remote 4 + port
  private readonly ids: bigint[] = [];
  private readonly cgroups: bigint[] = [];
  private readonly comms: string[] = [];
  constructor(batches: SockBatch[], view: SockRecordView) {
    const n = batches.reduce((a, b) => a + b.count, 0);
    this.num = new Float64Array(n * 11);
    this.tuples = new Uint32Array(n * 10);
    const loc = new Uint32Array(5);
    const rem = new Uint32Array(5);
    let k = 0;
    for (const b of batches) {
      for (let j = 0; j < b.count; j++, k++) {
        const v = view.at(b.buf, b.offsets[j], b.lengths[j]);
        v.readTuple(loc, rem);
        this.tuples.set(loc, k * 10);
        this.tuples.set(rem, k * 10 + 5);
        this.num.set([v.kind, v.proto, v.netns, v.tsNs, v.pid, v.sockIdNum, v.role, v.syscall, v.retErrno, v.bytes, v.dir], k * 11);
        this.ids.push(v.sockId);
        this.cgroups.push(v.cgroupId);
        this.comms.push(v.comm());
      }
    }
  }
  get count(): number { return this.ids.length; }
  get kind(): number { return this.num[this.i * 11]; }
  get proto(): number { return this.num[this.i * 11 + 1]; }
  get netns(): number { return this.num[this.i * 11 + 2]; }
  get tsNs(): number { return this.num[this.i * 11 + 3]; }
  get pid(): number { return this.num[this.i * 11 + 4]; }
  get sockIdNum(): number { return this.num[this.i * 11 + 5]; }
  get role(): number { return this.num[this.i * 11 + 6]; }
  get syscall(): number { return this.num[this.i * 11 + 7]; }
  get retErrno(): number { return this.num[this.i * 11 + 8]; }
  get bytes(): number { return this.num[this.i * 11 + 9]; }
  get dir(): number { return this.num[this.i * 11 + 10]; }
  get sockId(): bigint { return this.ids[this.i]; }
  get cgroupId(): bigint { return this.cgroups[this.i]; }
  comm(): string { return this.comms[this.i]; }
  readTuple(loc: Uint32Array, rem: Uint32Array): void {
    const t = this.tuples;
    const o = this.i * 10;
    for (let j = 0; j < 5; j++) { loc[j] = t[o + j]; rem[j] = t[o + 5 + j]; }
  }
}

/** One pass over every batch in the given mode; returns a checksum so nothing is optimised away. */
function makePass(mode: Mode, layout: SockLayout, batches: SockBatch[], Table: typeof FlowTable): { pass: () => number; table?: FlowTable } {
  const view = new SockRecordView(layout);
  const loc = new Uint32Array(5);
  const rem = new Uint32Array(5);
  const lastTs = () => { const b = batches[batches.length - 1]; return view.at(b.buf, b.offsets[b.count - 1], b.lengths[b.count - 1]).tsNs; };
  if (mode === 'decode') {
    return {
      pass: () => {
        let acc = 0;
        for (const b of batches) {
          for (let i = 0; i < b.count; i++) {
            const v = view.at(b.buf, b.offsets[i], b.lengths[i]);
            if (!v.valid) continue;
            v.readTuple(loc, rem);
            acc += v.kind + v.proto + v.netns + v.tsNs + v.pid + v.sockIdNum + v.role + v.syscall + v.retErrno + v.bytes +
              v.dir + loc[3] + rem[3] + loc[4] + rem[4];
          }
        }
        return acc;
      },
    };
  }
  if (mode === 'decode-events') {
    return {
      pass: () => {
        let acc = 0;
        for (const b of batches) {
          for (let i = 0; i < b.count; i++) {
            const v = view.at(b.buf, b.offsets[i], b.lengths[i]);
            if (!v.valid) continue;
            const ev = decodeSockEvent(v);
            acc += ev.bytes + ev.payload.length;
          }
        }
        return acc;
      },
    };
  }
  const t = new Table();
  const now = lastTs();
  if (mode === 'fold') {
    const pre = new PreDecoded(batches, view);
    const n = pre.count;
    const asView = pre as unknown as SockRecordView;
    return {
      table: t,
      pass: () => {
        for (let i = 0; i < n; i++) {
          pre.i = i;
          t.fold(asView);
        }
        return t.evict(now).length; // flows finished by tuple reuse are handed out, as the agent's tick does
      },
    };
  }
  return {
    table: t,
    pass: () => {
      for (const b of batches) t.foldBatch(b, view);
      return t.evict(now).length;
    },
  };
}

async function runChild(mode: Mode, file: string, reps: number, repMs: number, baseline: string): Promise<ChildResult> {
  const layout = compiledSockLayout(layoutObject());
  const batches = readBatchFile(file);
  const perPass = batches.reduce((n, b) => n + b.count, 0);
  const Table = mode === 'baseline' ? ((await import(resolve(baseline))) as { FlowTable: typeof FlowTable }).FlowTable : FlowTable;
  const { pass, table: t } = makePass(mode === 'baseline' ? 'decode+fold' : mode, layout, batches, Table);
  let check = 0;
  const warm = process.cpuUsage();
  while (cpuSince(warm) < 0.4) check += pass(); // JIT warm-up, and the flow table reaches steady state
  const cpuRates: number[] = [];
  const wallRates: number[] = [];
  for (let r = 0; r < reps; r++) {
    let n = 0;
    const c0 = process.cpuUsage();
    const w0 = process.hrtime.bigint();
    while (cpuSince(c0) < repMs / 1000) {
      check += pass();
      n += perPass;
    }
    const cpu = cpuSince(c0);
    const wall = Number(process.hrtime.bigint() - w0) / 1e9;
    cpuRates.push(n / cpu);
    wallRates.push(n / wall);
  }
  return { mode, cpuRates, wallRates, flows: t?.size ?? 0, check };
}

/** The object whose struct sock_event layout the batches use (default: the built probe). */
function layoutObject(): string {
  return resolve(strArg('layout', SOCK_OBJECT_PATH));
}

function cpuSince(c0: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(c0);
  return (u.user + u.system) / 1e6;
}

function main(): void {
  // Default: about one ring buffer's worth (8 MiB) of records, replayed — live records are read soon after the
  // kernel wrote them, so they are usually still in the L3 cache. --records 100000 (~48 MiB) shows cold records.
  const records = numArg('records', 16_000);
  const concurrency = numArg('concurrency', 1000);
  const maxExchanges = numArg('max-exchanges', 20);
  const rounds = numArg('rounds', 2);
  const reps = numArg('reps', 3);
  const repMs = numArg('rep-ms', 400);
  const baseline = strArg('baseline', '');
  const modes = strArg('modes', MODES.filter((m) => m !== 'baseline' || baseline).join(',')).split(',') as Mode[];
  for (const m of modes) if (!MODES.includes(m) || (m === 'baseline' && !baseline)) throw new Error(`--modes: '${m}' is not one of ${MODES.join(', ')} (baseline needs --baseline)`);
  console.log(`faultlens bench decode-fold — ${machineHeader()}`);
  const layout = compiledSockLayout(layoutObject());
  const { records: recs, summary: s } = generateRecords({ records, concurrency, seed: 42, maxExchanges });
  const batches = toBatches(layout, recs, 42);
  const dir = mkdtempSync(join(tmpdir(), 'fl-bench-'));
  const file = join(dir, 'batches.bin');
  writeBatchFile(file, batches);
  const bytes = batches.reduce((n, b) => n + b.buf.length, 0);
  console.log(`workload: ${int(s.records)} records in ${batches.length} batches (${fixed(bytes / 2 ** 20, 1)} MiB, sizeof(sock_event) = ${layout.size} from BTF), ` +
    `${int(s.connections)} TCP connections (${concurrency} concurrent, 1..${maxExchanges} exchanges each, ${fixed(100 * s.ipv6Share, 0)} % IPv6, ` +
    `${fixed(100 * s.bothEndsLocalShare, 0)} % with both ends local) + ${s.udpFlows} UDP flows, ` +
    `${int(s.payloadHeads)} payload heads averaging ${int(s.avgPayload)} B (cap 512), ${s.errors} errors`);
  console.log(`each mode in its own process: ${rounds} round(s) x ${reps} repetitions of >= ${repMs} ms CPU, after a 0.4 s warm-up\n`);

  if (baseline) console.log(`baseline: decode+fold through the FlowTable of ${baseline}\n`);
  const results = new Map<Mode, ChildResult[]>(modes.map((m) => [m, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const mode of modes) {
        const self = fileURLToPath(import.meta.url);
        const p = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', mode, '--file', file, '--reps', String(reps), '--rep-ms', String(repMs),
          '--baseline', baseline || '-', '--layout', layoutObject()], { encoding: 'utf8', maxBuffer: 1 << 20, cwd: REPO_ROOT });
        if (p.status !== 0) throw new Error(`child ${mode} failed (${p.status}): ${p.stderr}`);
        const res = JSON.parse(p.stdout.trim().split('\n').pop()!) as ChildResult;
        results.get(mode)!.push(res);
        console.log(`round ${r + 1} ${mode.padEnd(13)} records/CPU-s: ${res.cpuRates.map(int).join('  ')}${res.flows ? `   (${int(res.flows)} flows in table)` : ''}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const rows = [['mode', 'median rec/CPU-s', 'min rec/CPU-s', 'median rec/wall-s', 'ns/record', 'x 1M/s target']];
  const med = new Map<Mode, number>();
  for (const mode of modes) {
    const cpu = results.get(mode)!.flatMap((x) => x.cpuRates);
    const wall = results.get(mode)!.flatMap((x) => x.wallRates);
    med.set(mode, median(cpu));
    rows.push([mode, int(median(cpu)), int(min(cpu)), int(median(wall)), fixed(1e9 / median(cpu), 0), fixed(median(cpu) / TARGET, 2)]);
  }
  console.log(`\n${table(rows)}`);
  const df = med.get('decode+fold');
  if (df !== undefined) {
    console.log(`\ndecode+fold (the agent's path): median ${int(df)} records/CPU-s = ${fixed(df / TARGET, 2)} x the 1,000,000/s target ` +
      `-> ${df >= TARGET ? 'MET' : 'NOT MET'}; worst repetition ${fixed(min(results.get('decode+fold')!.flatMap((x) => x.cpuRates)) / TARGET, 2)} x`);
  }
  if (med.has('decode') && med.has('fold')) {
    const predicted = 1 / (1 / med.get('decode')! + 1 / med.get('fold')!);
    console.log(`(decode and fold timed apart predict ${int(predicted)}/s together; the difference is what sharing the loop saves or costs)`);
  }
  const bl = med.get('baseline');
  if (bl !== undefined && df !== undefined) {
    const pairs = results.get('decode+fold')!.map((x, i) => median(x.cpuRates) / median(results.get('baseline')![i].cpuRates));
    console.log(`decode+fold / baseline: ${fixed(df / bl, 2)} x (medians); per round ${pairs.map((x) => fixed(x, 2)).join(', ')}`);
  }
  console.log(`done — ${machineHeader()}`);
}

const childIdx = process.argv.indexOf('--child');
if (childIdx > 0) {
  const mode = process.argv[childIdx + 1] as Mode;
  if (!MODES.includes(mode)) throw new Error(`unknown mode ${mode}; one of ${MODES.join(', ')}`);
  runChild(mode, strArg('file', ''), numArg('reps', 5), numArg('rep-ms', 600), strArg('baseline', '-'))
    .then((r) => console.log(JSON.stringify(r)))
    .catch((err: Error) => { console.error(err.stack ?? err.message); process.exitCode = 1; });
} else {
  main();
}
