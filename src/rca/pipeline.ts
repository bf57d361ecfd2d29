// The whole detection -> alerting -> localisation chain over a stream of series points, one tick (all
// points with the same timestamp) at a time. The agent/server drive it live; the bench replays files.
import { DetectorBank, DEFAULT_DETECTOR, type DetectorOptions, type SeriesPoint } from '../detect/anomaly/detector.js';
import { AlertManager, type AlertManagerOptions } from '../detect/alerts/manager.js';
import type { ServiceGraph } from '../detect/alerts/graph.js';
import type { Alert, Incident } from '../detect/alerts/types.js';
import { rankRootCauses } from './rank.js';
import type { EntityFinding, RcaResult } from './types.js';

export interface PipelineOptions {
  detector?: Partial<DetectorOptions>;
  alerts?: Partial<AlertManagerOptions>;
}

export class FaultPipeline {
  readonly bank: DetectorBank;
  readonly alerts: AlertManager;
  readonly raised: Alert[] = [];
  readonly warnings: Alert[] = [];

  constructor(readonly graph: ServiceGraph, o: PipelineOptions = {}) {
    this.bank = new DetectorBank({ ...DEFAULT_DETECTOR, ...o.detector });
    this.alerts = new AlertManager(graph, o.alerts);
  }

  /** Points of one interval (same t). Returns what changed. */
  tick(points: SeriesPoint[], t: number) {
    const events = this.bank.push(points);
    const up = this.alerts.push(events, t);
    this.alerts.refresh(this.bank.active());
    this.raised.push(...up.raised);
    for (const w of up.warnings) if (!this.warnings.some((x) => x.id === w.id)) this.warnings.push(w);
    return up;
  }

  /** Replays a whole recording in time order. */
  replay(points: readonly SeriesPoint[]): this {
    const byT = new Map<number, SeriesPoint[]>();
    for (const p of points) (byT.get(p.t) ?? byT.set(p.t, []).get(p.t)!).push(p);
    for (const t of [...byT.keys()].sort((a, b) => a - b)) this.tick(byT.get(t)!, t);
    return this;
  }

  get incidents(): Incident[] {
    return this.alerts.incidents;
  }

  rca(inc: Incident, findings: EntityFinding[] = []): RcaResult {
    return rankRootCauses(inc, this.graph, { findings });
  }
}
