// The unit of TCP diagnosis: what changed on every connection and listener between two reads of the
// kernel maps, plus the events seen in between. Diagnosers are pure functions of one window.
import type { TcpConnSample, TcpEvent, TcpListenerSample } from '../../model/tcp.js';
import type { Finding } from '../../model/finding.js';

export interface ConnChange {
  before?: TcpConnSample; // absent when the connection appeared during the window
  after: TcpConnSample;
}

export interface ListenerChange {
  before?: TcpListenerSample;
  after: TcpListenerSample;
}

export interface TcpWindow {
  startNs: bigint;
  endNs: bigint;
  conns: ConnChange[];
  listeners: ListenerChange[];
  events: TcpEvent[]; // ring-buffer events with startNs <= tsNs < endNs
}

export type TcpDiagnoser = (w: TcpWindow) => Finding[];

/** Increase of a cumulative counter over the window (the whole value for a connection new in it). */
export function delta<T>(c: { before?: T; after: T }, pick: (s: T) => number): number {
  const a = pick(c.after);
  if (!c.before) return a;
  const d = a - pick(c.before);
  return d >= 0 ? d : a; // a reused id (LRU eviction + new socket): count from zero
}

export function windowSeconds(w: TcpWindow): number {
  return Math.max(Number(w.endNs - w.startNs) / 1e9, 1e-3);
}

export function flowSubject(s: TcpConnSample) {
  return {
    process: s.pid ? { pid: s.pid, comm: s.comm } : undefined,
    flow: { netns: s.netns, sockId: s.sockId.toString(), local: s.local, remote: s.remote },
  };
}
