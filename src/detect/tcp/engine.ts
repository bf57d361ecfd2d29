// Live diagnosis: turns successive reads of the kernel maps plus the event stream into windows, runs the
// diagnosers on each, and reports each finding once per window it is active in. No I/O: the caller feeds it.
import type { Finding } from '../../model/finding.js';
import type { TcpConnSample, TcpEvent, TcpListenerSample } from '../../model/tcp.js';
import { diagnoseTcp } from './index.js';
import type { TcpDiagnoser, TcpWindow } from './window.js';

export interface TcpEngineOptions {
  diagnose?: TcpDiagnoser; // default: every TCP diagnoser
}

export class TcpDiagnosisEngine {
  private prevConns = new Map<bigint, TcpConnSample>();
  private prevListeners = new Map<bigint, TcpListenerSample>();
  private pending: TcpEvent[] = [];
  private lastNs: bigint | undefined;
  private readonly diagnose: TcpDiagnoser;

  constructor(opts: TcpEngineOptions = {}) {
    this.diagnose = opts.diagnose ?? diagnoseTcp;
  }

  /** Queue ring-buffer events; they belong to the next window. */
  addEvents(events: Iterable<TcpEvent>): void {
    for (const e of events) this.pending.push(e);
  }

  /**
   * Close a window at `nowNs` with the current map contents; returns its findings. The first call only
   * sets the baseline for counters (returns findings from events alone, e.g. setsockopt).
   */
  tick(nowNs: bigint, conns: TcpConnSample[], listeners: TcpListenerSample[]): { window: TcpWindow; findings: Finding[] } {
    const startNs = this.lastNs ?? (this.pending.length ? this.pending[0]!.tsNs : nowNs);
    const baseline = this.lastNs === undefined;
    const window: TcpWindow = {
      startNs,
      endNs: nowNs,
      conns: baseline ? [] : conns.map((after) => ({ before: this.prevConns.get(after.sockId), after })),
      listeners: baseline ? [] : listeners.map((after) => ({ before: this.prevListeners.get(after.sockId), after })),
      events: this.pending,
    };
    // The baseline window still needs current state for event-driven diagnosers (listener lookups).
    if (baseline) {
      window.conns = conns.map((after) => ({ before: after, after }));
      window.listeners = listeners.map((after) => ({ before: after, after }));
    }
    this.pending = [];
    this.lastNs = nowNs;
    this.prevConns = new Map(conns.map((c) => [c.sockId, c]));
    this.prevListeners = new Map(listeners.map((l) => [l.sockId, l]));
    return { window, findings: this.diagnose(window) };
  }
}
