// The injection engine: each fault is its own loaded copy of bpf/inject.bpf.o holding the fault's parameters
// and absolute deadline in its inject_fault map, attached only where the scope says. Everything is a
// bpf_link (tcx for tc, link-based cgroup attachments, which stack with other programs like multi-attach),
// so the kernel detaches it when this process dies — even on SIGKILL — and the in-kernel deadline turns the
// programs into no-ops at TTL regardless.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BpfObject, type Link } from '../kernel/index.js';
import { repoRoot } from '../kernel/native.js';
import { encodeFault } from './encode.js';
import { faultsOverlap } from './overlap.js';
import { FaultRegistry, type FaultRecord } from './registry.js';
import { resolveScope } from './resolve.js';
import { singleSegmentPackets } from './segments.js';
import { describeSpec, FaultSpecError, parseFaultSpec, type FaultSpec } from './spec.js';

// src/inject when run from source, dist/src/inject when compiled: the repository root holds bpf/.output
export const INJECT_OBJECT = join(repoRoot(), 'bpf', '.output', 'inject.bpf.o');

export interface FaultStats {
  seen: number; acted: number; expired: number; setsockoptRewrites: number; errors: number;
  /** TCP knobs the kernel refused (bpf_setsockopt failed) */
  failedKnobs: string[];
}

const KNOB_NAMES = ['nagle', 'delackMaxMs', 'rtoMinMs', 'windowClamp', 'cwndClamp', 'rcvbuf', 'sndbuf', 'pacingRate', 'congestion'];

export interface ActiveFault extends FaultRecord {
  /** true when this engine owns it (stats readable, stoppable directly) */
  local: boolean;
  stats?: FaultStats;
}

export type InjectEvent = { type: 'injected' | 'stopped' | 'expired'; fault: FaultRecord; atMs: number };

export interface InjectEngineOptions {
  objectPath?: string;
  /** Share faults with other processes through /run/faultlens/inject (default true); a path picks another dir. */
  registry?: boolean | string;
  /**
   * 'tcx' (default): tc programs as bpf_links, gone with the process even on SIGKILL. 'netlink': classic clsact
   * filters (kernels < 6.6); they outlive a SIGKILLed owner — the in-kernel deadline makes them no-ops and
   * removeStaleTcFilters() deletes them later. tcx falls back to netlink when the kernel refuses tcx.
   */
  tcMode?: 'tcx' | 'netlink';
  /** Called on inject / stop / expiry (the caller records it in the store for the timeline and RCA). */
  onEvent?: (e: InjectEvent) => void;
}

interface Owned {
  record: FaultRecord;
  obj: BpfObject;
  links: Link[];
  timer: NodeJS.Timeout;
  restore?: () => void;
}

/** CLOCK_MONOTONIC now, the clock bpf_ktime_get_ns() reads (libuv's hrtime is CLOCK_MONOTONIC on Linux). */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

export class InjectEngine {
  private readonly owned = new Map<string, Owned>();
  private readonly registry?: FaultRegistry;
  private readonly objectPath: string;
  private usr2?: () => void;

  constructor(private readonly opts: InjectEngineOptions = {}) {
    this.objectPath = opts.objectPath ?? INJECT_OBJECT;
    if (opts.registry !== false) {
      this.registry = new FaultRegistry(typeof opts.registry === 'string' ? opts.registry : undefined);
      this.usr2 = () => this.honourStopRequests();
      process.on('SIGUSR2', this.usr2);
    }
  }

  /** Validates, checks for overlaps, loads and attaches. Throws FaultSpecError / BpfError with the reason. */
  inject(input: unknown): ActiveFault {
    const spec = parseFaultSpec(input);
    const clash = this.list().find((f) => faultsOverlap(f.spec, spec));
    if (clash) {
      throw new FaultSpecError(`overlaps fault ${clash.id} (${clash.description}, owner pid ${clash.ownerPid}): stop it first or narrow the scope`);
    }
    const scope = resolveScope(spec);
    const id = `f-${randomBytes(3).toString('hex')}`;
    const ttlNs = BigInt(Math.round(spec.ttlSec * 1e9));
    const deadlineNs = monotonicNs() + ttlNs;
    const obj = BpfObject.load(this.objectPath);
    const links: Link[] = [];
    let restore: (() => void) | undefined;
    try {
      if ((spec.kind === 'loss' || spec.kind === 'bandwidth') && spec.segments) restore = singleSegmentPackets(scope.interfaces, spec.scope.netns);
      const value = encodeFault(obj.structLayout('inject_fault'), spec, { deadlineNs, netnsIno: scope.netnsIno });
      obj.map('inject_fault').update(Buffer.alloc(4), value);
      links.push(...this.attach(obj, spec, scope));
    } catch (err) {
      obj.close();
      restore?.();
      throw err;
    }
    const now = Date.now();
    const record: FaultRecord = {
      id, ownerPid: process.pid, spec, description: describeSpec(spec), createdAtMs: now,
      deadlineMs: now + spec.ttlSec * 1000, deadlineNs: deadlineNs.toString(), attachments: obj.attachments(),
    };
    // user space detaches at the deadline too (the kernel already ignores the fault by then)
    const timer = setTimeout(() => this.finish(id, 'expired'), Math.ceil(spec.ttlSec * 1000) + 50);
    timer.unref();
    this.owned.set(id, { record, obj, links, timer, restore });
    this.registry?.write(record);
    this.opts.onEvent?.({ type: 'injected', fault: record, atMs: now });
    return { ...record, local: true, stats: this.stats(id) };
  }

  /** Faults of this engine plus (with the registry) live ones of other faultlens processes. */
  list(): ActiveFault[] {
    const out: ActiveFault[] = [...this.owned.values()].map((o) => ({ ...o.record, local: true, stats: this.stats(o.record.id) }));
    for (const r of this.registry?.read() ?? []) {
      if (!this.owned.has(r.id)) out.push({ ...r, local: false });
    }
    return out;
  }

  /** In-kernel counters of an owned fault. */
  stats(id: string): FaultStats | undefined {
    const o = this.owned.get(id);
    if (!o) return undefined;
    const m = o.obj.map('inject_stats');
    const at = (i: number) => {
      const k = Buffer.alloc(4);
      k.writeUInt32LE(i);
      return Number(m.lookup(k)?.readBigUInt64LE(0) ?? 0n);
    };
    const mask = at(5);
    return { seen: at(0), acted: at(1), expired: at(2), setsockoptRewrites: at(3), errors: at(4),
      failedKnobs: KNOB_NAMES.filter((_, i) => mask & (1 << i)) };
  }

  /**
   * Stops one fault (or 'all'). Owned faults are detached here; faults of another process are asked to stop
   * (its engine detaches them on SIGUSR2). Returns the ids stopped or asked to stop.
   */
  stop(which: string | 'all'): string[] {
    const done: string[] = [];
    for (const id of which === 'all' ? [...this.owned.keys()] : this.owned.has(which) ? [which] : []) {
      this.finish(id, 'stopped');
      done.push(id);
    }
    if (which === 'all' || !done.length) {
      for (const r of this.registry?.read() ?? []) {
        if (this.owned.has(r.id) || (which !== 'all' && r.id !== which)) continue;
        try {
          this.registry!.requestStop(r);
          done.push(r.id);
        } catch { /* owner just exited: its links are gone with it */ }
      }
    }
    if (which !== 'all' && !done.length) throw new FaultSpecError(`no active fault '${which}' (see \`faultlens inject ls\`)`);
    return done;
  }

  /** Resolves when the fault is gone (expired or stopped). */
  async waitUntilGone(id: string, pollMs = 100): Promise<void> {
    while (this.owned.has(id)) await new Promise((r) => setTimeout(r, pollMs));
  }

  get size(): number {
    return this.owned.size;
  }

  /** Detaches every owned fault. */
  close(): void {
    for (const id of [...this.owned.keys()]) this.finish(id, 'stopped');
    if (this.usr2) process.removeListener('SIGUSR2', this.usr2);
    this.usr2 = undefined;
  }

  private attach(obj: BpfObject, spec: FaultSpec, scope: ReturnType<typeof resolveScope>): Link[] {
    const links: Link[] = [];
    switch (spec.kind) {
      case 'loss':
      case 'blackhole':
      case 'bandwidth':
      case 'request': {
        const dir = spec.scope.direction ?? 'both';
        for (const ifname of scope.interfaces) {
          for (const d of ['ingress', 'egress'] as const) {
            if (dir !== 'both' && dir !== d) continue;
            links.push(this.attachTc(obj, `inject_tc_${d}`, ifname, spec.scope.netns, d));
          }
        }
        break;
      }
      case 'refuse':
        links.push(obj.program('inject_connect4').attachCgroup(scope.cgroupPath!, 'connect4'));
        links.push(obj.program('inject_connect6').attachCgroup(scope.cgroupPath!, 'connect6'));
        break;
      case 'tcp':
        links.push(obj.program('inject_sockops').attachCgroup(scope.cgroupPath!, 'sock_ops'));
        if (spec.nagle) links.push(obj.program('inject_setsockopt').attachCgroup(scope.cgroupPath!, 'setsockopt'));
        break;
    }
    return links;
  }

  private tcMode: 'tcx' | 'netlink' | undefined;

  private attachTc(obj: BpfObject, prog: string, ifname: string, netns: string | undefined, direction: 'ingress' | 'egress'): Link {
    const mode = this.tcMode ?? this.opts.tcMode ?? 'tcx';
    try {
      return obj.program(prog).attachTc({ ifname, netns, direction, mode });
    } catch (err) {
      if (mode !== 'tcx' || (err as { code?: string }).code !== 'EINVAL') throw err;
      this.tcMode = 'netlink'; // kernel without tcx (< 6.6)
      return obj.program(prog).attachTc({ ifname, netns, direction, mode: 'netlink' });
    }
  }

  private finish(id: string, how: 'stopped' | 'expired'): void {
    const o = this.owned.get(id);
    if (!o) return;
    clearTimeout(o.timer);
    this.owned.delete(id);
    o.obj.close(); // detaches every link of this fault
    o.restore?.();
    this.registry?.remove(id);
    this.opts.onEvent?.({ type: how, fault: o.record, atMs: Date.now() });
  }

  private honourStopRequests(): void {
    for (const id of [...this.owned.keys()]) {
      if (this.registry?.stopRequested(id)) this.finish(id, 'stopped');
    }
  }
}
