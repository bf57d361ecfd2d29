// The TCP collector as the request tracker's TcpSnapshotSource: its per-connection map re-read at most
// every `refreshMs` (a full map walk per request would cost more than the request), indexed by socket id.
// A few past samples per socket are kept so that a request's window (start..end, in event time, which
// user space sees up to a drain interval later) is answered from the samples around those times.
import type { TcpConnSample } from '../model/tcp.js';
import type { TcpSnapshotSource } from './requests.js';

const HISTORY = 32; // samples kept per socket: ~3 s at the default refresh

type Snap = { srttUs: number; totalRetrans: number; cwnd?: number; state?: string };

export class TcpTableSource implements TcpSnapshotSource {
  private bySock = new Map<bigint, TcpConnSample[]>();
  private readAt = 0;

  constructor(private readonly tcp: { readConns(): TcpConnSample[] }, private readonly refreshMs = 100) {}

  /** The connection's counters as of `atNs` (CLOCK_MONOTONIC; default now): the newest sample not after it. */
  lookup(sockId: bigint, atNs?: bigint): Snap | undefined {
    const now = Date.now();
    if (now - this.readAt >= this.refreshMs) this.refresh(now);
    const h = this.bySock.get(sockId);
    if (!h || h.length === 0) return undefined;
    let s = h[h.length - 1]!;
    if (atNs !== undefined) {
      for (let i = h.length - 1; i >= 0; i--) {
        s = h[i]!;
        if (s.tsNs <= atNs) break;
      }
    }
    return { srttUs: s.srttUs, totalRetrans: s.totalRetrans, cwnd: s.cwnd, state: s.state };
  }

  refresh(now = Date.now()): void {
    this.readAt = now;
    let samples: TcpConnSample[];
    try {
      samples = this.tcp.readConns();
    } catch {
      return; // collector closed: keep what we have
    }
    const next = new Map<bigint, TcpConnSample[]>();
    for (const s of samples) {
      for (const id of s.cookie && s.cookie !== s.sockId ? [s.sockId, s.cookie] : [s.sockId]) {
        const h = this.bySock.get(id) ?? [];
        h.push(s);
        if (h.length > HISTORY) h.shift();
        next.set(id, h); // sockets gone from the kernel map are dropped with their history
      }
    }
    this.bySock = next;
  }
}
