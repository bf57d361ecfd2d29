// Loads bpf/sysio.bpf.o: block-IO latency per (process, device, op), run-queue latency and CPU time per
// process, slow-IO outliers. Reads the kernel's cumulative maps on demand; SysioSampler (sysio-view.ts)
// turns two reads into an interval view.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, RingBuffer, fieldOffsets, readCString, type BpfMap, type Link } from '../kernel/index.js';
import { HIST_SLOTS, readHist, type Hist } from './sysio-hist.js';

export type IoOp = 'read' | 'write' | 'discard' | 'flush' | 'other';
const OPS: IoOp[] = ['read', 'write', 'discard', 'flush', 'other'];

export interface IoStats {
  pid: number;
  comm: string;
  cgroupId: bigint;
  dev: number; // kernel dev_t (major << 20 | minor)
  device: string; // e.g. vda, or major:minor
  op: IoOp;
  count: number;
  bytes: number;
  totalNs: number;
  maxNs: number;
  queueNs: number;
  errors: number;
  hist: Hist;
}

export interface ProcSched {
  pid: number;
  comm: string;
  cgroupId: bigint;
  cpuNs: number;
  runqCount: number;
  runqTotalNs: number;
  runqMaxNs: number;
  hist: Hist;
}

export interface SlowIo {
  tsNs: bigint;
  latNs: number;
  queueNs: number;
  sector: bigint;
  dev: number;
  device: string;
  bytes: number;
  pid: number;
  tid: number;
  op: IoOp;
  error: number;
  comm: string;
  cgroupId: bigint;
}

export interface SysioOptions {
  objectPath?: string;
  /** Block IOs at least this slow (issue -> complete) are reported one by one; 0 = none. Default 10 ms. */
  slowIoNs?: number;
  onSlowIo?: (ios: SlowIo[]) => void;
  /** Leave out block IO or the scheduler hooks. */
  io?: boolean;
  sched?: boolean;
}

export const SioStat = { slowEvents: 0, slowDrops: 1, ioUntracked: 2, mapFull: 3 } as const;

export function defaultSysioObjectPath(): string {
  for (const rel of ['../../bpf/.output/sysio.bpf.o', '../../../bpf/.output/sysio.bpf.o']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('bpf/.output/sysio.bpf.o not found: build the BPF objects first (make -C bpf, or npm run build)');
}

const devNames = new Map<number, string>();
/** Block device name of a kernel dev_t from /sys/dev/block (major:minor when unknown). */
export function deviceName(dev: number): string {
  const cached = devNames.get(dev);
  if (cached) return cached;
  const mm = `${dev >>> 20}:${dev & 0xfffff}`;
  let name = mm;
  try {
    const m = /^DEVNAME=(.+)$/m.exec(readFileSync(`/sys/dev/block/${mm}/uevent`, 'utf8'));
    if (m) name = m[1]!;
  } catch { /* device gone */ }
  devNames.set(dev, name);
  return name;
}

export class SysioCollector {
  private obj: BpfObject | undefined;
  private rb: RingBuffer | undefined;
  private links: Link[] = [];
  private io!: BpfMap;
  private procs!: BpfMap;
  private counters!: BpfMap;
  private ioKey!: { tgid: number; dev: number; op: number };
  private ioVal!: Record<'count' | 'bytes' | 'total_ns' | 'max_ns' | 'queue_ns' | 'errors' | 'cgroup_id' | 'comm' | 'hist', number>;
  private procVal!: Record<'cpu_ns' | 'runq_count' | 'runq_total_ns' | 'runq_max_ns' | 'cgroup_id' | 'comm' | 'hist', number>;
  readonly warnings: string[] = [];

  constructor(private readonly opts: SysioOptions = {}) {}

  start(): this {
    const obj = BpfObject.load(this.opts.objectPath ?? defaultSysioObjectPath());
    this.obj = obj;
    try {
      this.ioKey = fieldOffsets(obj.structLayout('sio_io_key'), { tgid: 4, dev: 4, op: 4 });
      this.ioVal = fieldOffsets(obj.structLayout('sio_io_stats'), {
        count: 8, bytes: 8, total_ns: 8, max_ns: 8, queue_ns: 8, errors: 8, cgroup_id: 8, comm: 16, hist: 8 * HIST_SLOTS,
      });
      this.procVal = fieldOffsets(obj.structLayout('sio_proc'), {
        cpu_ns: 8, runq_count: 8, runq_total_ns: 8, runq_max_ns: 8, cgroup_id: 8, comm: 16, hist: 8 * HIST_SLOTS,
      });
      this.io = obj.map('sio_io');
      this.procs = obj.map('sio_procs');
      this.counters = obj.map('sio_counters');
      const cfg = obj.map('sio_config');
      const v = Buffer.alloc(cfg.valueSize);
      v.writeBigUInt64LE(BigInt(this.opts.slowIoNs ?? 10_000_000), fieldOffsets(obj.structLayout('sio_config'), { slow_io_ns: 8 }).slow_io_ns);
      cfg.update(Buffer.alloc(4), v);

      const attach = (what: string, fn: () => Link, required = false) => {
        try {
          this.links.push(fn());
        } catch (err) {
          if (required) throw err;
          this.warnings.push(`${what} not attached: ${(err as Error).message.split('\n')[0]}`);
        }
      };
      if (this.opts.io !== false) {
        // block_io_start (>= 6.5) charges IO to the submitter; without it, to whoever issues the request
        attach('raw tracepoint block_io_start (kernel < 6.5: IO is charged to the issuing task instead)', () => obj.program('sio_io_start').attachRawTracepoint('block_io_start'));
        attach('raw tracepoint block_rq_issue', () => obj.program('sio_rq_issue').attachRawTracepoint('block_rq_issue'), true);
        attach('raw tracepoint block_rq_complete', () => obj.program('sio_rq_complete').attachRawTracepoint('block_rq_complete'), true);
      }
      if (this.opts.sched !== false) {
        attach('raw tracepoint sched_wakeup', () => obj.program('sio_wakeup').attachRawTracepoint('sched_wakeup'), true);
        attach('raw tracepoint sched_wakeup_new', () => obj.program('sio_wakeup_new').attachRawTracepoint('sched_wakeup_new'), true);
        attach('raw tracepoint sched_switch', () => obj.program('sio_switch').attachRawTracepoint('sched_switch'), true);
        attach('raw tracepoint sched_process_exec (names stay those before exec)', () => obj.program('sio_exec').attachRawTracepoint('sched_process_exec'));
      }
      if (this.opts.onSlowIo) {
        const onSlow = this.opts.onSlowIo;
        const off = fieldOffsets(obj.structLayout('sio_slow_io'), {
          ts_ns: 8, lat_ns: 8, queue_ns: 8, sector: 8, cgroup_id: 8, dev: 4, bytes: 4, tgid: 4, tid: 4, op: 4, error: 4, comm: 16,
        });
        this.rb = new RingBuffer(obj.map('sio_slow'), (b) => {
          const out: SlowIo[] = [];
          for (let i = 0; i < b.count; i++) {
            const at = b.offsets[i]!;
            const buf = b.buf;
            const dev = buf.readUInt32LE(at + off.dev);
            out.push({
              tsNs: buf.readBigUInt64LE(at + off.ts_ns),
              latNs: Number(buf.readBigUInt64LE(at + off.lat_ns)),
              queueNs: Number(buf.readBigUInt64LE(at + off.queue_ns)),
              sector: buf.readBigUInt64LE(at + off.sector),
              dev, device: deviceName(dev),
              bytes: buf.readUInt32LE(at + off.bytes),
              pid: buf.readUInt32LE(at + off.tgid),
              tid: buf.readUInt32LE(at + off.tid),
              op: OPS[buf.readUInt32LE(at + off.op)] ?? 'other',
              error: buf.readInt32LE(at + off.error),
              comm: readCString(buf, at + off.comm, 16),
              cgroupId: buf.readBigUInt64LE(at + off.cgroup_id),
            });
          }
          if (out.length) onSlow(out);
        }, { dropCounter: { map: this.counters, index: SioStat.slowDrops }, keepAlive: false });
      }
    } catch (err) {
      this.close();
      throw err;
    }
    return this;
  }

  /** Cumulative block-IO stats per (process, device, op) since start. */
  readIo(): IoStats[] {
    const k = this.ioKey;
    const o = this.ioVal;
    const out: IoStats[] = [];
    for (const [key, v] of this.io.entries()) {
      const dev = key.readUInt32LE(k.dev);
      out.push({
        pid: key.readUInt32LE(k.tgid), dev, device: deviceName(dev), op: OPS[key.readUInt32LE(k.op)] ?? 'other',
        comm: readCString(v, o.comm, 16), cgroupId: v.readBigUInt64LE(o.cgroup_id),
        count: Number(v.readBigUInt64LE(o.count)), bytes: Number(v.readBigUInt64LE(o.bytes)),
        totalNs: Number(v.readBigUInt64LE(o.total_ns)), maxNs: Number(v.readBigUInt64LE(o.max_ns)),
        queueNs: Number(v.readBigUInt64LE(o.queue_ns)), errors: Number(v.readBigUInt64LE(o.errors)),
        hist: readHist(v, o.hist),
      });
    }
    return out;
  }

  /** Cumulative CPU time and run-queue latency per process since start. */
  readProcs(): ProcSched[] {
    const o = this.procVal;
    const out: ProcSched[] = [];
    for (const [key, v] of this.procs.entries()) {
      out.push({
        pid: key.readUInt32LE(0), comm: readCString(v, o.comm, 16), cgroupId: v.readBigUInt64LE(o.cgroup_id),
        cpuNs: Number(v.readBigUInt64LE(o.cpu_ns)), runqCount: Number(v.readBigUInt64LE(o.runq_count)),
        runqTotalNs: Number(v.readBigUInt64LE(o.runq_total_ns)), runqMaxNs: Number(v.readBigUInt64LE(o.runq_max_ns)),
        hist: readHist(v, o.hist),
      });
    }
    return out;
  }

  /** Forgets processes that no longer exist (after their last interval was read). */
  pruneExited(): number {
    let n = 0;
    for (const [key] of [...this.procs.entries()].map(([k, v]) => [Buffer.from(k), v] as const)) {
      if (!existsSync(`/proc/${key.readUInt32LE(0)}`) && this.procs.delete(key)) n++;
    }
    for (const [key] of [...this.io.entries()].map(([k, v]) => [Buffer.from(k), v] as const)) {
      if (!existsSync(`/proc/${key.readUInt32LE(this.ioKey.tgid)}`) && this.io.delete(key)) n++;
    }
    return n;
  }

  poll(): void {
    this.rb?.consume();
  }

  stats(): Record<keyof typeof SioStat, bigint> {
    const indexes = SioStat as unknown as Record<keyof typeof SioStat, number>;
    if (!this.counters) return Object.fromEntries(Object.keys(indexes).map((k) => [k, 0n])) as Record<keyof typeof SioStat, bigint>;
    return this.counters.readCounters(indexes);
  }

  close(): void {
    this.rb?.close();
    this.rb = undefined;
    this.links = [];
    this.obj?.close();
    this.obj = undefined;
  }
}
