// Socket collector: loads bpf/sock.bpf.o, attaches its syscall tracepoints, and hands ring-buffer batches
// to consumers — raw (a reusable SockRecordView, for the flow table's zero-allocation fold) and/or as
// decoded SocketEvent objects (callback or async iterator). A tracepoint the kernel lacks is reported
// and skipped (together with its enter/exit partner), never fatal.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, RingBuffer, TRACEFS, type Link, type RecordBatch } from '../kernel/index.js';
import { SockRecordView, decodeSockEvent, sockCountsLayoutFrom, sockLayoutFrom, type SockLayout } from './sock-decoder.js';
import { SOCK_PAYLOAD_DEFAULT, SOCK_PAYLOAD_MAX, SOCK_STAT_COUNT, SockStat, type SocketEvent } from './sock-event.js';

const REPO_ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
// Works from src/ (tsx) and from dist/src (compiled): look for the object in both roots.
function bpfObject(name: string): string {
  return [join(REPO_ROOT, 'bpf', '.output', name), join(REPO_ROOT, '..', 'bpf', '.output', name)]
    .find((p) => existsSync(p)) ?? join(REPO_ROOT, 'bpf', '.output', name);
}
/** The probes, fastest first: raw sys_exit tracepoint (x86-64, kernel 6.2+), classic syscall tracepoints
 * (BTF pointers, bpf_rdonly_cast: kernel 6.2+), and the fallback for older kernels (bpf_probe_read walks). */
export const SOCK_RAW_OBJECT = bpfObject('sock_raw.bpf.o');
export const SOCK_OBJECT = bpfObject('sock.bpf.o');
export const SOCK_COMPAT_OBJECT = bpfObject('sock_compat.bpf.o');
/** Flows only (countInKernel): no syscall tracepoint at all, socket send/receive and TCP state tracepoints
 * (kernel 6.3+, x86-64); tried first when counting in the kernel, see bpf/sock_lite.bpf.c. */
export const SOCK_LITE_OBJECT = bpfObject('sock_lite.bpf.o');
const LITE_SEND_PROGRAM = 'sock_lite_send';
/** The program of sock_raw.bpf.o that records every syscall; without it (other architectures) that object
 * captures nothing but connect/close. */
const RAW_EXIT_PROGRAM = 'sock_sys_exit';

export interface SockCollectorOptions {
  objectPath?: string;
  /** Payload bytes captured per record (0..4096, default 512). */
  payloadBytes?: number;
  /** Ring buffer size in bytes (power of two, >= page size); default: as compiled (8 MiB). */
  ringBytes?: number;
  /** Do not trace this process's own sockets (default true). */
  ignoreSelf?: boolean;
  /** Trace only this tgid. */
  filterPid?: number;
  /** Zero-allocation consumer: called per batch with a view to move over its records. */
  onBatch?: (batch: RecordBatch, view: SockRecordView) => void;
  /** Decoded records, one call each. */
  onEvent?: (ev: SocketEvent) => void;
  /** The kernel side wakes the reader only when a batch has accumulated; this timer drains the rest
   * (the longest a record waits). Default 50 ms. */
  drainIntervalMs?: number;
  /** Flows only: count TCP data syscalls in the kernel (per-socket counters) instead of recording each;
   * read them with pollCounts(). Records then come per connection, not per syscall (see bpf/sock.h). */
  countInKernel?: boolean;
  /** Non-fatal problems (a missing tracepoint, ...). Default: console.warn. */
  onWarning?: (message: string) => void;
}

export interface SockCollectorStats {
  records: bigint; // written by the kernel side
  drops: bigint; // lost to a full ring buffer
  nonInet: bigint; // socket syscalls on AF_UNIX/netlink/... sockets, skipped in the kernel
  nonTcpUdp: bigint;
  stashFull: bigint;
  counted: bigint; // data syscalls counted in the kernel instead of recorded (countInKernel), as of the last pollCounts()
  countsFull: bigint; // sockets recorded per syscall because the counter map was full
  countedSockets: number; // sockets in the counter map at the last pollCounts()
  delivered: number; // records handed to user space consumers
  batches: number;
  attached: number; // tracepoint links
  object: string; // the probe object in use (sock_raw.bpf.o, sock.bpf.o or sock_compat.bpf.o)
  skipped: { tracepoint: string; reason: string }[];
}

/** A clear, early error instead of EPERM from deep inside libbpf. */
export function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`${what} needs root (eBPF programs and tracepoints need CAP_BPF and CAP_PERFMON): run it with sudo`);
  }
}

/** "raw_tracepoint/sys_exit" -> "sys_exit" */
function rawTracepointOf(section: string): string | undefined {
  return /^(?:raw_(?:tracepoint|tp)|tp_btf)\/([^/]+)$/.exec(section)?.[1];
}

/** "tracepoint/syscalls/sys_enter_read" -> ["syscalls", "sys_enter_read"] */
function tracepointOf(section: string): [string, string] | undefined {
  const m = /^tp(?:oint)?\/([^/]+)\/([^/]+)$|^tracepoint\/([^/]+)\/([^/]+)$/.exec(section);
  if (!m) return undefined;
  return m[1] ? [m[1], m[2]] : [m[3], m[4]];
}

/** sock_enter_read <-> sock_exit_read: one without the other would leak per-thread state. */
function partnerOf(program: string): string | undefined {
  if (program.startsWith('sock_enter_')) return `sock_exit_${program.slice('sock_enter_'.length)}`;
  if (program.startsWith('sock_exit_')) return `sock_enter_${program.slice('sock_exit_'.length)}`;
  return undefined;
}

export class SockCollector {
  readonly layout: SockLayout;
  private readonly obj: BpfObject;
  private readonly objectPath: string;
  private readonly ring: RingBuffer;
  private readonly links = new Map<string, Link>();
  private readonly skipped: { tracepoint: string; reason: string }[] = [];
  private readonly view: SockRecordView;
  private readonly listeners = new Set<(ev: SocketEvent) => void>();
  private delivered = 0;
  private batches = 0;
  private closed = false;
  private drainTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly opts: SockCollectorOptions) {
    requireRoot('socket capture');
    const path = opts.objectPath ?? SOCK_OBJECT;
    if (!existsSync(path)) throw new Error(`socket probe object ${path} is missing: build it with \`make -C bpf\` (scripts/build.sh)`);
    const payload = opts.payloadBytes ?? SOCK_PAYLOAD_DEFAULT;
    if (!Number.isInteger(payload) || payload < 0 || payload > SOCK_PAYLOAD_MAX) {
      throw new Error(`payloadBytes must be an integer in 0..${SOCK_PAYLOAD_MAX}, got ${payload}`);
    }
    this.obj = BpfObject.open(path);
    this.objectPath = path;
    try {
      for (const [object, program] of [[SOCK_RAW_OBJECT, RAW_EXIT_PROGRAM], [SOCK_LITE_OBJECT, LITE_SEND_PROGRAM]]) {
        if (path === object && !this.obj.describe().programs.some((p) => p.name === program)) {
          throw new Error(`${program} is not in ${path} (built for another architecture)`);
        }
      }
      if (opts.ringBytes !== undefined) this.obj.setMaxEntries('sock_events', opts.ringBytes);
      this.obj.load();
      const st = this.obj.structLayout('sock_event');
      this.layout = sockLayoutFrom(st.size, (name) => st.fields[name]);
      this.view = new SockRecordView(this.layout);
      if (opts.countInKernel || path === SOCK_LITE_OBJECT) { // the lite probe always counts
        const cs = this.obj.structLayout('sock_counts');
        const tot = this.obj.structLayout('sock_totals');
        this.view.counts = sockCountsLayoutFrom(cs.size, (name) => cs.fields[name]);
        // pollCounts() reads the counters right after the header, as close records carry them
        if (tot.fields.c?.offset !== this.layout.size) throw new Error(`struct sock_totals.c is at ${tot.fields.c?.offset}, expected right after the ${this.layout.size}-byte header`);
        this.countsView = new SockRecordView(this.layout);
        this.countsView.counts = this.view.counts;
      }
      this.writeConfig(payload);
      this.ring = new RingBuffer(this.obj.map('sock_events'), (b) => this.onRing(b), {
        dropCounter: { map: this.obj.map('sock_stats'), index: SockStat.drops },
      });
      if (opts.onEvent) this.listeners.add(opts.onEvent);
      this.attachAll();
      this.startDrainTimer();
    } catch (err) {
      this.obj.close();
      throw err;
    }
  }

  /** Loads, configures and attaches; records flow as soon as this returns. Without an explicit
   * objectPath, a kernel that rejects the fast probe gets the compatible one (with a warning). */
  static start(opts: SockCollectorOptions = {}): SockCollector {
    if (!opts.objectPath) {
      // flows only: the probe without syscall tracepoints is the cheapest by far; kernels before 6.3
      // (no sock_send_length) and other architectures get the syscall probes counting in the kernel
      if (opts.countInKernel) {
        const lite = SockCollector.tryObject(opts, SOCK_LITE_OBJECT, LITE_SEND_PROGRAM, 'the flows-only socket probe', 'counting with the syscall probe');
        if (lite) return lite;
      }
      // the raw-tracepoint probe is the cheapest per syscall; any failure (verifier, a kernel without the
      // raw tracepoint) falls back to the classic tracepoints
      const raw = SockCollector.tryObject(opts, SOCK_RAW_OBJECT, RAW_EXIT_PROGRAM, 'the raw-tracepoint socket probe', 'using the classic tracepoints');
      if (raw) return raw;
    }
    try {
      return new SockCollector(opts);
    } catch (err) {
      if (opts.objectPath || (err as Error).name !== 'BpfLoadError' || !existsSync(SOCK_COMPAT_OBJECT)) throw err;
      const warn = opts.onWarning ?? ((m: string) => console.warn(`faultlens: ${m}`));
      warn(`the socket probe did not load (${(err as Error).message.split('\n')[0]}); using the slower compatible probe`);
      return new SockCollector({ ...opts, objectPath: SOCK_COMPAT_OBJECT });
    }
  }

  /** A collector on `path`, or undefined (with a warning, quiet when the object was only built for another
   * architecture) when it cannot run here and the next probe should be tried. */
  private static tryObject(opts: SockCollectorOptions, path: string, program: string, what: string, instead: string): SockCollector | undefined {
    if (!existsSync(path)) return undefined;
    try {
      return new SockCollector({ ...opts, objectPath: path });
    } catch (err) {
      const message = (err as Error).message;
      // not the object's fault: another probe would fail the same way
      if (message.includes('needs root') || (err as { code?: string }).code === 'EAGAIN') throw err;
      if (!message.includes(`${program} is not in`)) {
        const warn = opts.onWarning ?? ((m: string) => console.warn(`faultlens: ${m}`));
        warn(`${what} is not usable here (${message.split('\n')[0]}); ${instead}`);
      }
      return undefined;
    }
  }

  private writeConfig(payload: number): void {
    const cfg = this.obj.structLayout('sock_config');
    const v = Buffer.alloc(cfg.size);
    const put = (field: string, value: number) => {
      const f = cfg.fields[field];
      if (!f) throw new Error(`struct sock_config has no field '${field}' (bpf/sock.h and the collector disagree)`);
      v.writeUInt32LE(value >>> 0, f.offset);
    };
    put('self_pid', this.opts.ignoreSelf === false ? 0 : process.pid);
    put('payload_max', payload);
    put('filter_pid', this.opts.filterPid ?? 0);
    put('configured', 1);
    if (this.opts.countInKernel) put('count_in_kernel', 1); // (zero as loaded; objects before it lack the field)
    this.obj.map('sock_config').update(Buffer.alloc(4), v);
  }

  private attachAll(): void {
    const warn = this.opts.onWarning ?? ((m: string) => console.warn(`faultlens: ${m}`));
    const failed = new Set<string>();
    const names = this.obj.programNames();
    for (const name of names) {
      const prog = this.obj.program(name);
      const raw = rawTracepointOf(prog.section);
      if (raw) {
        // the raw program records every syscall family at once: without it nothing is captured
        try {
          this.links.set(name, this.attachProgram(name));
        } catch (err) {
          throw new Error(`socket capture: attaching ${name} to raw tracepoint ${raw} failed: ${(err as Error).message}`);
        }
        continue;
      }
      const tp = tracepointOf(prog.section);
      if (!tp) continue;
      const tpName = `${tp[0]}/${tp[1]}`;
      if (!existsSync(join(TRACEFS, 'events', tp[0], tp[1]))) {
        this.skip(tpName, `tracepoint ${tpName} does not exist in this kernel`, warn);
        failed.add(name);
        continue;
      }
      try {
        this.links.set(name, this.attachProgram(name));
      } catch (err) {
        this.skip(tpName, `attaching ${name} to ${tpName} failed: ${(err as Error).message}`, warn);
        failed.add(name);
      }
    }
    for (const name of failed) {
      const partner = partnerOf(name);
      const link = partner ? this.links.get(partner) : undefined;
      if (partner && link) {
        link.detach();
        this.links.delete(partner);
        warn(`${partner} detached too: it only works together with ${name}`);
      }
    }
    if (this.links.size === 0) throw new Error('socket capture: no tracepoint could be attached');
  }

  /** Attaches one program where its section says: a raw (or BTF-typed) tracepoint, or a classic one. */
  private attachProgram(name: string): Link {
    const prog = this.obj.program(name);
    const raw = rawTracepointOf(prog.section);
    if (raw) return prog.attachRawTracepoint(raw);
    const tp = tracepointOf(prog.section);
    if (!tp) throw new Error(`${name}: section ${prog.section} names no tracepoint`);
    return prog.attachTracepoint(tp[0], tp[1]);
  }

  private skip(tracepoint: string, reason: string, warn: (m: string) => void): void {
    this.skipped.push({ tracepoint, reason });
    warn(`${reason}; socket activity through it is not captured`);
  }

  private onRing(b: RecordBatch): void {
    this.batches++;
    this.delivered += b.count;
    this.opts.onBatch?.(b, this.view);
    if (this.listeners.size === 0) return;
    const v = this.view;
    for (let i = 0; i < b.count; i++) {
      v.at(b.buf, b.offsets[i], b.lengths[i]);
      if (!v.valid) continue;
      const ev = decodeSockEvent(v);
      for (const l of this.listeners) l(ev);
    }
  }

  /** Drains what the kernel has written so far, synchronously. */
  drain(): number {
    if (this.closed) return 0;
    return this.ring.consume();
  }

  /**
   * Flows only (countInKernel): hands every counted socket's cumulative counters to `fold` (a view over
   * its sock_totals value; FlowTable.foldCounts takes it) and removes sockets idle for `idleNs` (their
   * last counters are folded first, with final = true; a socket that speaks again is recorded anew, e.g.
   * one whose process died without close()). Returns the sockets seen.
   */
  pollCounts(fold: (v: SockRecordView, final: boolean) => void, idleNs = 300e9, nowNs = Number(process.hrtime.bigint())): number {
    const v = this.countsView;
    if (this.closed || !v) return 0;
    const map = this.obj.map('sock_totals');
    const stale: Buffer[] = [];
    let n = 0;
    let counted = 0;
    for (const [k, val] of map.entries()) {
      v.at(val, 0, val.length);
      counted += v.count(v.counts!.counted);
      const idle = nowNs - Math.max(v.count(v.counts!.lastNs), v.tsNs) > idleNs;
      fold(v, idle);
      n++;
      if (idle) stale.push(Buffer.from(k));
    }
    for (const k of stale) map.delete(k);
    this.countedSockets = n - stale.length;
    this.countedLive = counted;
    return n;
  }
  private countsView: SockRecordView | undefined;
  private countedSockets = 0;
  private countedLive = 0; // data syscalls counted on the sockets still open at the last pollCounts()

  /** Decoded records as an async iterator; ends when the collector closes. Slow consumers lose the
   * oldest queued records beyond `maxQueue` (counted in `lost`). */
  events(maxQueue = 100_000): AsyncIterableIterator<SocketEvent> & { lost: number } {
    const queue: SocketEvent[] = [];
    let wake: (() => void) | undefined;
    const state = { lost: 0 };
    const listener = (ev: SocketEvent) => {
      if (queue.length >= maxQueue) {
        queue.shift();
        state.lost++;
      }
      queue.push(ev);
      wake?.();
    };
    this.listeners.add(listener);
    const self = this;
    const it = {
      get lost() { return state.lost; },
      [Symbol.asyncIterator]() { return it; },
      async next(): Promise<IteratorResult<SocketEvent>> {
        while (queue.length === 0) {
          if (self.closed) return { value: undefined, done: true };
          await new Promise<void>((r) => { wake = r; self.closeWaiters.add(r); });
          wake = undefined;
        }
        return { value: queue.shift()!, done: false };
      },
      async return(): Promise<IteratorResult<SocketEvent>> {
        self.listeners.delete(listener);
        return { value: undefined, done: true };
      },
    };
    return it;
  }
  private readonly closeWaiters = new Set<() => void>();

  stats(): SockCollectorStats {
    const counters = this.closed ? [] : this.readCounters();
    const c = (i: number) => counters[i] ?? 0n;
    return {
      records: c(SockStat.records),
      drops: c(SockStat.drops),
      nonInet: c(SockStat.nonInet),
      nonTcpUdp: c(SockStat.nonTcpUdp),
      stashFull: c(SockStat.stashFull),
      counted: c(SockStat.counted) + BigInt(this.countedLive), // closed sockets' (kernel) + open ones'
      countsFull: c(SockStat.countsFull),
      countedSockets: this.countedSockets,
      delivered: this.delivered,
      batches: this.batches,
      attached: this.links.size,
      object: this.objectPath.split('/').pop() ?? this.objectPath,
      skipped: [...this.skipped],
    };
  }

  private readCounters(): bigint[] {
    const map = this.obj.map('sock_stats');
    const out: bigint[] = [];
    const key = Buffer.alloc(4);
    for (let i = 0; i < SOCK_STAT_COUNT; i++) {
      key.writeUInt32LE(i, 0);
      const v = map.lookup(key);
      out.push(v ? map.sumPerCpuU64(v, 0) : 0n);
    }
    return out;
  }

  /**
   * Detaches every probe (the kernel then runs none of ours) and stops the drain timer, keeping the maps:
   * what was counted stays, what happens meanwhile is not seen. resume() attaches the same programs
   * again. For side-by-side cost measurements in one process (bench/http-overhead.ts --alternate).
   */
  pause(): void {
    if (this.closed || this.pausedPrograms) return;
    this.drain();
    this.pausedPrograms = [...this.links.keys()];
    for (const link of this.links.values()) link.detach();
    this.links.clear();
    clearInterval(this.drainTimer);
  }

  resume(): void {
    if (this.closed || !this.pausedPrograms) return;
    // a failed attach leaves the rest paused: calling resume() again retries only what is missing
    for (const name of this.pausedPrograms) if (!this.links.has(name)) this.links.set(name, this.attachProgram(name));
    this.pausedPrograms = undefined;
    this.startDrainTimer();
  }
  private pausedPrograms: string[] | undefined;

  private startDrainTimer(): void {
    this.drainTimer = setInterval(() => this.drain(), this.opts.drainIntervalMs ?? 50);
    this.drainTimer.unref(); // the ring buffer's own handle decides whether the process stays alive
  }

  /** Detaches everything and frees the object. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.drainTimer);
    this.obj.close();
    this.links.clear();
    for (const w of this.closeWaiters) w();
    this.closeWaiters.clear();
  }
}
