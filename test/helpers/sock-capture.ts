// A live socket capture for e2e tests: the real collector feeding a FlowTable, plus the decoded events
// of the processes a test cares about. Skips (with the reason) when the machine cannot run it.
import { existsSync } from 'node:fs';
import { SockCollector, type SockCollectorOptions } from '../../src/collect/sock-collector.js';
import type { SocketEvent } from '../../src/collect/sock-event.js';
import { FlowTable } from '../../src/correlate/flows.js';
import type { Flow } from '../../src/model/flow.js';
import { buildSockObject } from './sock-layout.js';

/** Why socket capture cannot run here, or undefined when it can. */
export function sockCaptureUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (eBPF)';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'kernel has no BTF';
  try {
    buildSockObject();
  } catch (err) {
    return `bpf/sock.bpf.o does not build: ${(err as Error).message}`;
  }
  return undefined;
}

export class SockCapture {
  readonly table = new FlowTable();
  readonly collector: SockCollector;
  /** Decoded events by pid, of the processes `keep` selects (default: the sock-peer test programs). */
  private readonly events = new Map<number, SocketEvent[]>();

  constructor(private readonly opts: SockCollectorOptions = {}, keep: (ev: SocketEvent) => boolean = (ev) => ev.comm === 'sock-peer') {
    this.collector = SockCollector.start({
      ...opts,
      onBatch: (b, v) => this.table.foldBatch(b, v),
      onEvent: (ev) => {
        if (!keep(ev)) return;
        const list = this.events.get(ev.pid) ?? [];
        list.push(ev);
        this.events.set(ev.pid, list);
      },
      onWarning: () => {},
    });
  }

  eventsOf(pid: number): SocketEvent[] {
    return this.events.get(pid) ?? [];
  }

  /** Polls (draining the ring buffer) until fn returns a value, or returns fn's last answer after timeoutMs. */
  async waitFor<T>(fn: () => T | undefined, timeoutMs = 3000): Promise<T | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      const v = fn();
      if (v !== undefined || Date.now() > end) return v;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Drains the ring buffer and, when the kernel counts data (countInKernel), folds its counters. */
  poll(): void {
    this.collector.drain();
    if (this.opts.countInKernel) this.collector.pollCounts((v, final) => this.table.foldCounts(v, final));
  }

  /** The flow between these two endpoints (either orientation). */
  findFlow(proto: 'tcp' | 'udp', a: { ip: string; port: number }, b: { ip: string; port: number }): Flow | undefined {
    const same = (x: { ip: string; port: number }, y: { ip: string; port: number }) => x.ip === y.ip && x.port === y.port;
    return this.table.flows().find((f) => f.proto === proto &&
      ((same(f.client, a) && same(f.server, b)) || (same(f.client, b) && same(f.server, a))));
  }

  close(): void {
    this.collector.close();
  }
}
