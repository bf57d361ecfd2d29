// What a scenario is: a named, reversible fault with the ground truth it creates.
export type FaultKind =
  | 'slow-endpoint' | 'cpu-saturation' | 'service-down' | 'error-rate' | 'listen-queue-overflow'
  | 'nagle-delayed-ack' | 'ineffective-rcvbuf' | 'io-contention' | 'packet-loss' | 'blackhole' | 'request-timeout';

export interface FaultTarget {
  service: string; // demo service name (topology.ts)
  host?: string; // namespace
  endpoint?: string; // 'GET /products/:id' as the service routes it
  edge?: { from: string; to: string }; // for network faults
}

/** One record per scenario run: what was broken, where, and when (epoch ms). */
export interface GroundTruth {
  scenario: string;
  kind: FaultKind;
  target: FaultTarget;
  start: number;
  end: number;
  expectedRoutes: string[]; // load-generator routes whose client-side health should suffer
  details?: Record<string, unknown>; // evidence gathered while the fault was active (counters, ss output)
}

export interface ScenarioContext {
  log: (msg: string) => void;
  /** How long the fault stays active (s): eBPF faults take it (plus a grace) as their in-kernel TTL. */
  faultS: number;
}

export interface Scenario {
  name: string;
  description: string; // one line, shown by `demo scenarios`
  kind: FaultKind;
  target: FaultTarget;
  expectedRoutes: string[];
  /** Returns why this scenario cannot run here (checked before any load starts), or undefined. */
  unavailable?(): string | undefined;
  /** Applies the fault. May return evidence to store with the ground truth. */
  inject(ctx: ScenarioContext): Promise<void>;
  /** Collects evidence while the fault is active (called just before revert). */
  evidence?(ctx: ScenarioContext): Promise<Record<string, unknown>>;
  /** Undoes the fault; must be safe to call even if inject() failed half-way. */
  revert(ctx: ScenarioContext): Promise<void>;
}
