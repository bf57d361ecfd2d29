// The post-hoc tense: an incident as a report — start/end, a timeline of what went wrong in onset order
// (early warnings first), and the impact on user-facing entry points.
import { describeEntity, parseEntity, servicesOf } from '../anomaly/entity.js';
import type { ServiceGraph } from './graph.js';
import type { Incident } from './types.js';

export interface TimelineEntry {
  t: number;
  what: string;
  alertId: string;
}

export interface IncidentReport {
  id: string;
  start: number;
  end?: number;
  durationS?: number;
  detectedAfterS: number; // first in-progress alert - earliest onset
  symptoms: number;
  timeline: TimelineEntry[];
  impact: { entity: string; signal: string; baseline?: number; peak?: number }[]; // symptoms on entry-point services
  services: string[];
}

export function incidentReport(inc: Incident, graph: ServiceGraph): IncidentReport {
  const timeline: TimelineEntry[] = [];
  for (const w of inc.warnings) timeline.push({ t: w.raisedT, what: `early warning — ${w.title}`, alertId: w.id });
  for (const a of inc.alerts) {
    timeline.push({ t: a.onsetT, what: `onset — ${a.title}`, alertId: a.id });
    if (a.endT !== undefined) timeline.push({ t: a.endT, what: `recovered — ${describeEntity(parseEntity(a.entity))} ${a.signal}`, alertId: a.id });
  }
  timeline.sort((x, y) => x.t - y.t);
  const entries = new Set(graph.entryPoints());
  const userFacing = inc.alerts.filter((a) => {
    const e = parseEntity(a.entity);
    return e.kind === 'edge' ? entries.has(e.from) : servicesOf(e, graph.hostServices).some((s) => entries.has(s));
  });
  return {
    id: inc.id,
    start: inc.startT,
    ...(inc.endT !== undefined ? { end: inc.endT, durationS: (inc.endT - inc.startT) / 1000 } : {}),
    detectedAfterS: (inc.raisedT - inc.startT) / 1000,
    symptoms: inc.alerts.length,
    timeline,
    impact: userFacing.map((a) => ({ entity: a.entity, signal: a.signal, ...(a.baseline !== undefined ? { baseline: a.baseline } : {}), ...(a.peakValue !== undefined ? { peak: a.peakValue } : {}) })),
    services: inc.services,
  };
}

export function formatReport(r: IncidentReport): string {
  const iso = (t: number) => new Date(t).toISOString().slice(11, 23);
  return [
    `incident ${r.id}: ${iso(r.start)} -> ${r.end ? iso(r.end) : 'ongoing'}${r.durationS !== undefined ? ` (${r.durationS.toFixed(0)} s)` : ''}, ${r.symptoms} symptom(s), detected ${r.detectedAfterS.toFixed(1)} s after onset`,
    `  services: ${r.services.join(', ')}`,
    ...r.timeline.map((e) => `  ${iso(e.t)}  ${e.what}`),
    ...(r.impact.length ? ['  user-facing impact:', ...r.impact.map((i) => `    ${describeEntity(parseEntity(i.entity))} ${i.signal}: ${i.baseline?.toFixed(2) ?? '?'} -> ${i.peak?.toFixed(2) ?? '?'}`)] : []),
  ].join('\n');
}
