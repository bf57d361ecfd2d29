// Loads bpf/tcp.bpf.o, attaches its hooks (tracepoints, raw tracepoints, sock_ops on a cgroup v2 dir), streams
// ring-buffer events and samples the per-connection / per-listener maps on demand.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, RingBuffer, cgroup2Mounts, type BpfMap, type Link } from '../kernel/index.js';
import type { TcpConnSample, TcpEvent, TcpListenerSample } from '../model/tcp.js';
import {
  TcpConnDecoder, TcpDropKeyDecoder, TcpEventDecoder, TcpListenerDecoder, TcpStat, loadDropReasonNames,
  type TcpDropCount,
} from './tcp-decoder.js';

export interface TcpCollectorOptions {
  objectPath?: string; // default: bpf/.output/tcp.bpf.o of this checkout
  cgroupPath?: string | false; // where sock_ops attaches (default: the cgroup v2 root); false = no sock_ops
  netns?: number | number[]; // only track sockets in these network namespaces (inodes); default all
  eventsPerSec?: number; // per-connection cap on retransmit/drop/RTO/reset events (default 200)
  ignoreSelf?: boolean; // default true: the agent's own sockets are not tracked
  onEvents?: (events: TcpEvent[]) => void;
}

const TRACEPOINTS: [prog: string, category: string, event: string][] = [
  ['tcp_probe', 'tcp', 'tcp_probe'],
  ['tcp_retransmit_skb', 'tcp', 'tcp_retransmit_skb'],
  ['tcp_retransmit_synack', 'tcp', 'tcp_retransmit_synack'],
  ['tcp_send_reset', 'tcp', 'tcp_send_reset'],
  ['tcp_receive_reset', 'tcp', 'tcp_receive_reset'],
  ['tcp_cong_state_set', 'tcp', 'tcp_cong_state_set'],
  ['tcp_rcv_space_adjust', 'tcp', 'tcp_rcv_space_adjust'],
  ['inet_sock_set_state', 'sock', 'inet_sock_set_state'],
  ['kfree_skb', 'skb', 'kfree_skb'],
  ['sys_enter_setsockopt', 'syscalls', 'sys_enter_setsockopt'],
  ['sys_exit_setsockopt', 'syscalls', 'sys_exit_setsockopt'],
];
const RAW_TRACEPOINTS: [prog: string, event: string][] = [
  ['tcp_sendmsg_locked', 'tcp_sendmsg_locked'],
  ['sock_rcvqueue_full', 'sock_rcvqueue_full'],
];

/** bpf/.output/tcp.bpf.o from src/collect (tsx) or dist/src/collect (compiled). */
export function defaultTcpObjectPath(): string {
  for (const rel of ['../../bpf/.output/tcp.bpf.o', '../../../bpf/.output/tcp.bpf.o']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('bpf/.output/tcp.bpf.o not found: build the BPF objects first (make -C bpf, or npm run build)');
}

export class TcpCollector {
  private obj: BpfObject | undefined;
  private rb: RingBuffer | undefined;
  private links: Link[] = [];
  private conns!: BpfMap;
  private listeners!: BpfMap;
  private drops!: BpfMap;
  private counters!: BpfMap;
  private connDec!: TcpConnDecoder;
  private listenerDec!: TcpListenerDecoder;
  private eventDec!: TcpEventDecoder;
  private dropDec!: TcpDropKeyDecoder;
  readonly warnings: string[] = [];

  constructor(private readonly opts: TcpCollectorOptions = {}) {}

  start(): this {
    const obj = BpfObject.load(this.opts.objectPath ?? defaultTcpObjectPath());
    this.obj = obj;
    try {
      const reasons = loadDropReasonNames();
      this.connDec = new TcpConnDecoder(obj.structLayout('tcp_conn'));
      this.listenerDec = new TcpListenerDecoder(obj.structLayout('tcp_listener'));
      this.eventDec = new TcpEventDecoder(obj.structLayout('tcp_event'), reasons);
      this.dropDec = new TcpDropKeyDecoder(obj.structLayout('tcp_drop_key'), reasons);
      this.conns = obj.map('tcp_conns');
      this.listeners = obj.map('tcp_listeners');
      this.drops = obj.map('tcp_drops');
      this.counters = obj.map('tcp_counters');
      this.writeConfig();

      // A hook this kernel lacks degrades what we see (named in warnings) but does not stop the rest.
      const attach = (what: string, fn: () => Link) => {
        try {
          this.links.push(fn());
        } catch (err) {
          this.warnings.push(`${what} not attached: ${(err as Error).message}`);
        }
      };
      for (const [prog, cat, ev] of TRACEPOINTS) attach(`tracepoint ${cat}:${ev}`, () => obj.program(prog).attachTracepoint(cat, ev));
      for (const [prog, ev] of RAW_TRACEPOINTS) attach(`raw tracepoint ${ev}`, () => obj.program(prog).attachRawTracepoint(ev));
      if (this.links.length === 0) throw new Error(`no TCP hook could be attached: ${this.warnings.join('; ')}`);
      if (this.opts.cgroupPath !== false) {
        const cg = this.opts.cgroupPath ?? cgroup2Mounts()[0];
        if (cg) attach(`sock_ops on ${cg} (RTT samples, RTOs, connect latency)`, () => obj.program('tcp_sockops').attachCgroup(cg));
        else this.warnings.push('no cgroup v2 mount: RTT samples, RTO counts and connect latency are unavailable');
      }
      const onEvents = this.opts.onEvents;
      if (onEvents) {
        this.rb = new RingBuffer(obj.map('tcp_events'), (batch) => {
          const out: TcpEvent[] = [];
          for (let i = 0; i < batch.count; i++) {
            const e = this.eventDec.decode(batch.buf, batch.offsets[i]!);
            if (e && !this.isSelf(e.pid)) out.push(e);
          }
          if (out.length) onEvents(out);
        }, { dropCounter: { map: this.counters, index: TcpStat.eventDrops }, keepAlive: false });
      }
    } catch (err) {
      this.close();
      throw err;
    }
    return this;
  }

  private writeConfig(): void {
    const obj = this.obj!;
    const layout = obj.structLayout('tcp_config');
    const cfg = obj.map('tcp_config');
    const v = Buffer.alloc(cfg.valueSize);
    if (this.opts.ignoreSelf !== false) v.writeUInt32LE(process.pid, layout.fields['self_pid']!.offset);
    const netns = this.opts.netns === undefined ? [] : ([] as number[]).concat(this.opts.netns);
    if (netns.length) {
      const allow = obj.map('tcp_netns_allow');
      for (const ns of netns) {
        const k = Buffer.alloc(4);
        k.writeUInt32LE(ns);
        allow.update(k, Buffer.from([1]));
      }
      v.writeUInt32LE(1, layout.fields['filter_netns']!.offset);
    }
    if (this.opts.eventsPerSec) v.writeUInt32LE(this.opts.eventsPerSec, layout.fields['events_per_sec']!.offset);
    cfg.update(Buffer.alloc(4), v);
  }

  /** Drains pending ring-buffer events now (they otherwise arrive on the event loop). */
  poll(): void {
    this.rb?.consume();
  }

  /** Every tracked connection, as the kernel sees it now. */
  readConns(): TcpConnSample[] {
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, same clock as bpf_ktime_get_ns
    const out: TcpConnSample[] = [];
    for (const [, v] of this.conns.entries()) {
      const c = this.connDec.decode(v, now);
      if (!this.isSelf(c.pid)) out.push(c);
    }
    return out;
  }

  /** The agent's own connections are left out here, by their owner: the kernel side cannot tell them
   * apart by the current task in softirq context (bpf/tcp.bpf.c, self_current). */
  private isSelf(pid: number): boolean {
    return this.opts.ignoreSelf !== false && pid === process.pid;
  }

  readListeners(): TcpListenerSample[] {
    const now = process.hrtime.bigint();
    const out: TcpListenerSample[] = [];
    for (const [, v] of this.listeners.entries()) {
      const l = this.listenerDec.decode(v, now);
      if (!this.isSelf(l.pid)) out.push(l);
    }
    return out;
  }

  readDrops(): TcpDropCount[] {
    const out: TcpDropCount[] = [];
    for (const [k, v] of this.drops.entries()) out.push(this.dropDec.decode(k, v));
    return out;
  }

  /** Forgets connections/listeners closed before `beforeNs` (call after their final sample was used). */
  pruneClosed(beforeNs: bigint): number {
    let n = 0;
    for (const [k, v] of [...this.conns.entries()]) {
      const s = this.connDec.decode(v, 0n);
      if (s.closedNs !== 0n && s.closedNs < beforeNs && this.conns.delete(k)) n++;
    }
    for (const [k, v] of [...this.listeners.entries()]) {
      const s = this.listenerDec.decode(v, 0n);
      if (s.closedNs !== 0n && s.closedNs < beforeNs && this.listeners.delete(k)) n++;
    }
    return n;
  }

  /** Counters of the BPF side (events written / lost, map full, RTT samples). */
  stats(): Record<keyof typeof TcpStat, bigint> {
    const out = {} as Record<keyof typeof TcpStat, bigint>;
    for (const [name, idx] of Object.entries(TcpStat) as [keyof typeof TcpStat, number][]) {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(idx);
      const v = this.counters.lookup(key);
      out[name] = v ? this.counters.sumPerCpuU64(v) : 0n;
    }
    return out;
  }

  close(): void {
    this.rb?.close();
    this.rb = undefined;
    for (const l of this.links) {
      try { l.detach(); } catch { /* object close below detaches anyway */ }
    }
    this.links = [];
    this.obj?.close();
    this.obj = undefined;
  }
}
