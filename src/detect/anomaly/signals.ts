// Per-signal policy: which direction is bad, how much evidence a sample needs before it may alarm, and the
// smallest change that matters. The floors are what keep a flat series (MAD = 0) from alarming on noise:
// a p90 that moves from 3.0 ms to 3.4 ms is a 10-sigma event for a perfectly quiet baseline, and nobody's
// problem.
export type Signal =
  | 'latency' // ms, p90 of the interval (server view for endpoints, client view for edges)
  | 'errors' // error ratio 0..1
  | 'rate' // requests/s
  | 'retransmits' // retransmitted segments/s on an edge or connection
  | 'drops' // packets dropped/s (kernel drop reasons) on an edge
  | 'resets' // RSTs/s on an edge
  | 'runq' // ms a service's threads waited for a CPU per second of wall time (run-queue pressure)
  | 'io_latency' // ms, p90 block-IO latency of a service's process(es) / its disk
  | 'listen_queue' // accept-queue fill 0..1
  | 'listen_overflows'; // final ACKs dropped by a full accept queue /s

export const SIGNALS: Signal[] = ['latency', 'errors', 'rate', 'retransmits', 'drops', 'resets', 'runq', 'io_latency', 'listen_queue', 'listen_overflows'];

export interface SignalPolicy {
  direction: 'up' | 'down';
  /** Requests in the sample needed to judge it (latency/error figures of 2 requests are anecdotes). */
  minCount: number;
  /** For ratios: events (value x count) a sample needs to count as a hit (1 error in 15 is not an outage). */
  minEvents?: number;
  /** Smallest absolute deviation that can alarm (units of the signal). */
  absFloor: number;
  /** Smallest deviation relative to the baseline median. */
  relFloor: number;
  /** For 'down' signals: a baseline below this never alarms (a quiet endpoint going quieter is not news). */
  minBaseline: number;
  /** Absolute limit used by the early-warning trend (undefined: no limit known by default). */
  limit?: number;
  /** Weight of this signal's anomalies as root-cause evidence (symptom-only signals weigh less). */
  weight: number;
  /** Network / system evidence rather than a golden signal. */
  evidence?: 'network' | 'system';
  /** Each sample summarises a sliding window of requests (RED series): consecutive samples share most of them. */
  windowed?: boolean;
  /** Samples before judging, when not the detector's default: a series that only reports while active
   *  (IO latency exists only when IO happens) would otherwise wait minutes; its floors guard it instead. */
  warmup?: number;
}

export const POLICIES: Record<Signal, SignalPolicy> = {
  latency: { direction: 'up', minCount: 5, absFloor: 5, relFloor: 1, minBaseline: 0, weight: 1, windowed: true },
  errors: { direction: 'up', minCount: 5, minEvents: 3, absFloor: 0.05, relFloor: 0, minBaseline: 0, limit: 0.05, weight: 1, windowed: true },
  rate: { direction: 'down', minCount: 0, absFloor: 2, relFloor: 0.8, minBaseline: 3, weight: 0.6, windowed: true },
  retransmits: { direction: 'up', minCount: 0, absFloor: 2, relFloor: 0.5, minBaseline: 0, weight: 1, evidence: 'network' },
  drops: { direction: 'up', minCount: 0, absFloor: 2, relFloor: 0.5, minBaseline: 0, weight: 1, evidence: 'network' },
  resets: { direction: 'up', minCount: 0, absFloor: 2, relFloor: 0.5, minBaseline: 0, weight: 0.8, evidence: 'network' },
  runq: { direction: 'up', minCount: 0, absFloor: 300, relFloor: 2, minBaseline: 0, weight: 1, evidence: 'system' },
  io_latency: { direction: 'up', minCount: 0, absFloor: 5, relFloor: 1, minBaseline: 0, limit: 50, weight: 1, evidence: 'system', warmup: 3 },
  listen_queue: { direction: 'up', minCount: 0, absFloor: 0.25, relFloor: 0, minBaseline: 0, limit: 1, weight: 1, evidence: 'system' },
  listen_overflows: { direction: 'up', minCount: 0, absFloor: 1, relFloor: 0, minBaseline: 0, weight: 1, evidence: 'system' },
};

export function isSignal(s: string): s is Signal {
  return (SIGNALS as string[]).includes(s);
}
