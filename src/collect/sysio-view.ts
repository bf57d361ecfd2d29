// Interval views over the cumulative sysio maps: per process CPU %, run-queue p50/p99, IO ops/bytes/p99,
// and per device IO p50/p99. Pure: two snapshots in, rows out.
import type { IoOp, IoStats, ProcSched } from './sysio-collector.js';
import { addHist, diffHist, emptyHist, histCount, percentile, type Hist } from './sysio-hist.js';

export interface ProcView {
  pid: number;
  comm: string;
  cgroupId: bigint;
  cpuPct: number; // of one CPU over the interval
  cpuNs: number;
  runqWaits: number;
  runqWaitNs: number;
  runqP50Ns?: number;
  runqP99Ns?: number;
  ioOps: number;
  ioBytes: number;
  ioP50Ns?: number;
  ioP99Ns?: number;
}

export interface DeviceView {
  device: string;
  op: IoOp;
  ops: number;
  bytes: number;
  meanNs?: number;
  p50Ns?: number;
  p99Ns?: number;
  maxNs: number; // since start (the kernel keeps the maximum only cumulatively)
}

const ioKey = (s: IoStats) => `${s.pid}/${s.dev}/${s.op}`;

export class SysioSampler {
  private prevProcs = new Map<number, ProcSched>();
  private prevIo = new Map<string, IoStats>();
  private prevAt: bigint | undefined;

  /** Rows for the interval since the previous call (the first call covers everything since start). */
  sample(procs: ProcSched[], io: IoStats[], nowNs = process.hrtime.bigint(), sinceStartNs?: bigint): { procs: ProcView[]; devices: DeviceView[]; intervalNs: number } {
    const intervalNs = Number(this.prevAt !== undefined ? nowNs - this.prevAt : sinceStartNs ?? 1_000_000_000n) || 1;
    const views = new Map<number, ProcView & { ioHist: Hist }>();
    for (const p of procs) {
      const prev = this.prevProcs.get(p.pid);
      const cpuNs = p.cpuNs - (prev && prev.cpuNs <= p.cpuNs ? prev.cpuNs : 0);
      const hist = diffHist(p.hist, prev?.hist);
      const waits = histCount(hist);
      const v: ProcView & { ioHist: Hist } = {
        pid: p.pid, comm: p.comm, cgroupId: p.cgroupId, cpuNs, cpuPct: (100 * cpuNs) / intervalNs,
        runqWaits: waits, runqWaitNs: p.runqTotalNs - (prev && prev.runqTotalNs <= p.runqTotalNs ? prev.runqTotalNs : 0),
        ioOps: 0, ioBytes: 0, ioHist: emptyHist(),
      };
      if (waits) { v.runqP50Ns = percentile(hist, 0.5); v.runqP99Ns = percentile(hist, 0.99); }
      views.set(p.pid, v);
    }
    const devices = new Map<string, DeviceView & { hist: Hist; totalNs: number }>();
    for (const s of io) {
      const prev = this.prevIo.get(ioKey(s));
      const fresh = !prev || prev.count > s.count;
      const ops = s.count - (fresh ? 0 : prev!.count);
      if (ops === 0) continue;
      const bytes = s.bytes - (fresh ? 0 : prev!.bytes);
      const totalNs = s.totalNs - (fresh ? 0 : prev!.totalNs);
      const hist = diffHist(s.hist, fresh ? undefined : prev!.hist);
      let v = views.get(s.pid);
      if (!v) {
        v = { pid: s.pid, comm: s.comm, cgroupId: s.cgroupId, cpuNs: 0, cpuPct: 0, runqWaits: 0, runqWaitNs: 0, ioOps: 0, ioBytes: 0, ioHist: emptyHist() };
        views.set(s.pid, v);
      }
      v.ioOps += ops;
      v.ioBytes += bytes;
      addHist(v.ioHist, hist);
      const dk = `${s.device}/${s.op}`;
      let d = devices.get(dk);
      if (!d) devices.set(dk, (d = { device: s.device, op: s.op, ops: 0, bytes: 0, maxNs: 0, hist: emptyHist(), totalNs: 0 }));
      d.ops += ops;
      d.bytes += bytes;
      d.totalNs += totalNs;
      d.maxNs = Math.max(d.maxNs, s.maxNs);
      addHist(d.hist, hist);
    }
    const procViews: ProcView[] = [];
    for (const { ioHist, ...v } of views.values()) {
      if (v.ioOps) { v.ioP50Ns = percentile(ioHist, 0.5); v.ioP99Ns = percentile(ioHist, 0.99); }
      if (v.cpuNs || v.runqWaits || v.ioOps) procViews.push(v);
    }
    const deviceViews: DeviceView[] = [...devices.values()].map(({ hist, totalNs, ...d }) => ({
      ...d, meanNs: totalNs / d.ops, p50Ns: percentile(hist, 0.5), p99Ns: percentile(hist, 0.99),
    }));
    this.prevProcs = new Map(procs.map((p) => [p.pid, p]));
    this.prevIo = new Map(io.map((s) => [ioKey(s), s]));
    this.prevAt = nowNs;
    procViews.sort((a, b) => b.cpuNs - a.cpuNs || b.runqWaitNs - a.runqWaitNs || b.ioOps - a.ioOps);
    deviceViews.sort((a, b) => a.device.localeCompare(b.device) || a.op.localeCompare(b.op));
    return { procs: procViews, devices: deviceViews, intervalNs };
  }
}
