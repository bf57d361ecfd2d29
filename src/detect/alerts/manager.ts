// Turns detector events into alerts and groups them into incidents: one incident, many symptoms. An alert
// joins an open incident when it overlaps it in time (the incident is active, or ended less than `gapMs`
// before the alert's onset) and its entity is topologically adjacent to one of the incident's (same
// service, or a caller/callee edge in the service graph); an alert that bridges two incidents merges them.
// Adjacency rather than time alone keeps two unrelated simultaneous faults apart.
import { parseEntity, servicesOf, describeEntity } from '../anomaly/entity.js';
import type { DetectorEvent, AnomalyState } from '../anomaly/detector.js';
import { POLICIES } from '../anomaly/signals.js';
import { ServiceGraph } from './graph.js';
import type { Alert, Incident } from './types.js';

export interface AlertManagerOptions {
  gapMs: number; // an incident stays joinable this long after its last alert resolved
  warningTtlMs: number; // an early warning without a fresh trend sample expires
}

const DEFAULTS: AlertManagerOptions = { gapMs: 30_000, warningTtlMs: 10_000 };

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(3));

function anomalyTitle(s: AnomalyState): string {
  const dir = POLICIES[s.signal].direction === 'up' ? 'up' : 'down';
  // the worst value seen, not the newest: a resolved alert's newest value is back to normal (or rebounded)
  return `${describeEntity(parseEntity(s.entity))}: ${s.signal} ${dir} ${fmt(s.baseline)} -> ${fmt(s.peakValue)} (z ${s.peakZ.toFixed(1)})`;
}

export interface AlertUpdate {
  raised: Alert[];
  resolved: Alert[];
  warnings: Alert[]; // new or updated early warnings
}

export class AlertManager {
  readonly incidents: Incident[] = [];
  private readonly active = new Map<string, Alert>(); // entity\0signal -> in-progress alert
  private readonly warnings = new Map<string, Alert>();
  private readonly warningSeen = new Map<string, number>(); // newest trend sample per warning
  private readonly o: AlertManagerOptions;
  private seq = 0;

  constructor(readonly graph: ServiceGraph = new ServiceGraph(), o: Partial<AlertManagerOptions> = {}) {
    this.o = { ...DEFAULTS, ...o };
  }

  push(events: DetectorEvent[], nowT: number): AlertUpdate {
    const up: AlertUpdate = { raised: [], resolved: [], warnings: [] };
    for (const ev of events) {
      if (ev.type === 'trend') {
        const key = `${ev.entity}\0${ev.signal}`;
        const w = ev.warning;
        const prev = this.warnings.get(key);
        const alert: Alert = {
          id: prev?.id ?? `warn|${ev.entity}|${ev.signal}|${ev.t}`,
          tense: 'early-warning', entity: ev.entity, signal: ev.signal, severity: 'warning',
          title: `${describeEntity(parseEntity(ev.entity))}: ${ev.signal} ${fmt(ev.value)} climbing ${fmt(w.slopePerSec)}/s, reaches ${fmt(w.limit)} in ${((w.predictedCrossT - ev.t) / 1000).toFixed(0)} s`,
          onsetT: prev?.onsetT ?? ev.t, raisedT: prev?.raisedT ?? ev.t, value: ev.value, predictedCrossT: w.predictedCrossT, limit: w.limit,
        };
        this.warnings.set(key, alert);
        this.warningSeen.set(key, ev.t);
        up.warnings.push(alert);
      } else if (ev.type === 'anomaly-start') {
        const s = ev.state;
        const alert: Alert = {
          id: `alert|${s.entity}|${s.signal}|${s.onsetT}`, tense: 'in-progress', entity: s.entity, signal: s.signal,
          severity: s.peakZ >= 8 ? 'critical' : 'warning', title: anomalyTitle(s), onsetT: s.onsetT, raisedT: s.detectT,
          value: s.value, baseline: s.baseline, peakValue: s.peakValue, peakZ: s.peakZ,
        };
        this.active.set(`${s.entity}\0${s.signal}`, alert);
        this.assign(alert);
        up.raised.push(alert);
      } else {
        const s = ev.state;
        const alert = this.active.get(`${s.entity}\0${s.signal}`);
        if (!alert) continue;
        this.active.delete(`${s.entity}\0${s.signal}`);
        Object.assign(alert, { tense: 'resolved', endT: s.endT, peakValue: s.peakValue, peakZ: s.peakZ, value: s.value, title: anomalyTitle(s) });
        up.resolved.push(alert);
        const inc = this.incidents.find((i) => i.id === alert.incidentId);
        if (inc && inc.alerts.every((a) => a.tense === 'resolved')) inc.endT = Math.max(...inc.alerts.map((a) => a.endT ?? a.raisedT));
      }
    }
    for (const k of this.warnings.keys()) if (nowT - (this.warningSeen.get(k) ?? 0) > this.o.warningTtlMs) {
      this.warnings.delete(k);
      this.warningSeen.delete(k);
    }
    return up;
  }

  /** Peak figures of active alerts track their detectors (call with the bank's active states). */
  refresh(states: AnomalyState[]): void {
    for (const s of states) {
      const a = this.active.get(`${s.entity}\0${s.signal}`);
      if (a) Object.assign(a, { value: s.value, peakValue: s.peakValue, peakZ: s.peakZ, severity: s.peakZ >= 8 ? 'critical' : a.severity });
    }
  }

  activeAlerts(): Alert[] {
    return [...this.active.values()];
  }

  activeWarnings(): Alert[] {
    return [...this.warnings.values()];
  }

  incidentOf(alert: Alert): Incident | undefined {
    return this.incidents.find((i) => i.id === alert.incidentId);
  }

  private servicesOf(entity: string): string[] {
    return servicesOf(parseEntity(entity), this.graph.hostServices);
  }

  private joinable(inc: Incident, alert: Alert): boolean {
    const open = inc.endT === undefined || alert.onsetT <= inc.endT + this.o.gapMs;
    if (!open) return false;
    const mine = this.servicesOf(alert.entity);
    return mine.some((s) => inc.services.some((t) => this.graph.adjacent(s, t)));
  }

  private assign(alert: Alert): void {
    const matches = this.incidents.filter((i) => this.joinable(i, alert));
    let inc = matches[0];
    if (!inc) {
      inc = { id: `inc-${alert.onsetT}-${++this.seq}`, startT: alert.onsetT, raisedT: alert.raisedT, alerts: [], warnings: [], services: [] };
      this.incidents.push(inc);
    }
    for (const other of matches.slice(1)) { // the alert bridges them: one fault after all
      for (const a of other.alerts) a.incidentId = inc.id;
      inc.alerts.push(...other.alerts);
      inc.warnings.push(...other.warnings);
      inc.services = [...new Set([...inc.services, ...other.services])];
      inc.startT = Math.min(inc.startT, other.startT);
      inc.raisedT = Math.min(inc.raisedT, other.raisedT);
      this.incidents.splice(this.incidents.indexOf(other), 1);
    }
    alert.incidentId = inc.id;
    inc.alerts.push(alert);
    inc.endT = undefined;
    inc.startT = Math.min(inc.startT, alert.onsetT);
    inc.raisedT = Math.min(inc.raisedT, alert.raisedT);
    inc.services = [...new Set([...inc.services, ...this.servicesOf(alert.entity)])];
    for (const w of this.warnings.values()) if (w.entity === alert.entity && !inc.warnings.some((x) => x.id === w.id)) inc.warnings.push({ ...w, incidentId: inc.id });
  }
}

