// The live fault monitor the agent runs: its request records and TCP samples -> LiveSeries -> FaultPipeline
// every tick; what the alert manager raises, resolves or warns becomes `alerts` table rows (a new row per
// change, the newest per id wins, like findings: src/cli/alert-rows.ts). An in-progress alert carries the
// root-cause ranking of its incident at the time it was raised.
import type { RequestRecord } from '../model/request.js';
import type { TcpConnSample, TcpListenerSample } from '../model/tcp.js';
import { ServiceGraph } from '../detect/alerts/graph.js';
import type { Alert } from '../detect/alerts/types.js';
import { FaultPipeline, type PipelineOptions } from './pipeline.js';
import { LiveSeries, type LiveSeriesOptions } from './live-series.js';
import type { RcaResult } from './types.js';

export interface LiveMonitorOptions extends PipelineOptions, LiveSeriesOptions {
  /** An early warning is re-stored at most this often while it stays on (its prediction moves). */
  warningEveryMs?: number;
  /** Names a listener no request was seen on yet (a service whose queue fills before it answers anything). */
  listenerService?: (l: TcpListenerSample) => string | undefined;
}

/** A change to store: an alert raised (with its incident's ranking), resolved, or an early warning (re)stated. */
export interface AlertChange {
  alert: Alert;
  rca?: RcaResult;
}

export class LiveFaultMonitor {
  readonly series: LiveSeries;
  readonly pipeline: FaultPipeline;
  private readonly warnedAt = new Map<string, number>();
  private readonly warningEveryMs: number;
  private lastTickMs: number | undefined;
  private readonly listenerService: ((l: TcpListenerSample) => string | undefined) | undefined;

  constructor(o: LiveMonitorOptions = {}) {
    this.listenerService = o.listenerService;
    this.series = new LiveSeries(o);
    this.pipeline = new FaultPipeline(new ServiceGraph(), o);
    this.warningEveryMs = o.warningEveryMs ?? 10_000;
  }

  addRequest(r: RequestRecord, endWallMs: number): void {
    this.series.addRequest(r, endWallMs, (a, b) => this.pipeline.graph.addEdge(a, b));
  }

  /** One tick: feeds the newest points, returns what changed (to store). */
  tick(nowMs: number, tcp: { conns?: readonly TcpConnSample[]; listeners?: readonly TcpListenerSample[] } = {}): AlertChange[] {
    const intervalS = this.lastTickMs === undefined ? 1 : Math.max(0.05, (nowMs - this.lastTickMs) / 1000);
    this.lastTickMs = nowMs;
    const points = [
      ...this.series.redPoints(nowMs),
      ...(tcp.conns ? this.series.connPoints(tcp.conns, nowMs, intervalS) : []),
      ...(tcp.listeners ? this.series.listenerPoints(tcp.listeners, nowMs, intervalS, this.listenerService) : []),
    ];
    if (!points.length) return [];
    const up = this.pipeline.tick(points, nowMs);
    const rows: AlertChange[] = [];
    for (const a of up.raised) {
      const inc = this.pipeline.alerts.incidentOf(a);
      rows.push({ alert: { ...a }, ...(inc ? { rca: this.pipeline.rca(inc) } : {}) });
    }
    for (const a of up.resolved) rows.push({ alert: { ...a } });
    for (const w of up.warnings) {
      const last = this.warnedAt.get(w.id);
      if (last !== undefined && nowMs - last < this.warningEveryMs) continue;
      this.warnedAt.set(w.id, nowMs);
      rows.push({ alert: { ...w } });
    }
    if (this.warnedAt.size > 10_000) this.warnedAt.clear();
    return rows;
  }
}
