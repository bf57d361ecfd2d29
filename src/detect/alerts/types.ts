// Alerts in three tenses: an early warning (a trend that will cross a limit, with the predicted time), an
// in-progress alert (an anomaly now) and its resolved form; incidents group the alerts of one fault.
import type { Signal } from '../anomaly/signals.js';

export type Tense = 'early-warning' | 'in-progress' | 'resolved';

export interface Alert {
  id: string; // stable per (tense family, entity, signal, onset): live updates replace rather than repeat
  tense: Tense;
  entity: string;
  signal: Signal;
  severity: 'warning' | 'critical';
  title: string;
  onsetT: number; // epoch ms: change-point estimate (early warning: when the trend was first seen)
  raisedT: number; // when the rule fired
  endT?: number;
  value: number;
  baseline?: number;
  peakValue?: number;
  peakZ?: number;
  predictedCrossT?: number; // early warning: when the limit will be crossed
  limit?: number;
  incidentId?: string;
}

export interface Incident {
  id: string;
  startT: number; // earliest onset of its alerts
  raisedT: number; // first in-progress alert
  endT?: number; // set when every alert resolved (and the grouping gap passed)
  alerts: Alert[]; // in-progress / resolved members
  warnings: Alert[]; // early warnings on the same entities that came before
  services: string[];
}
