// Scores the pipeline (detection -> incidents -> ranking) and the BARO-style baseline on recordings with
// ground truth. Pure: recordings in, figures out.
//
// A candidate localises the fault when it names the faulty service: an endpoint, service or resource of
// target.service; the target host; or, for faults with an edge in the ground truth (network, callee down,
// protocol-level), an edge into the faulty callee. An edge into a service whose own code is slow does not
// count: the operator must be sent to the service, not to the wire in front of it.
import { parseEntity } from '../../src/detect/anomaly/entity.js';
import { ServiceGraph } from '../../src/detect/alerts/graph.js';
import { FaultPipeline } from '../../src/rca/pipeline.js';
import { baroRank } from '../../src/rca/baseline.js';
import type { Recording, Truth } from './series-file.js';

export function matchesTruth(entity: string, t: Truth): boolean {
  const target = t.target;
  if (!target) return false;
  const e = parseEntity(entity);
  switch (e.kind) {
    case 'endpoint': case 'service': case 'resource': return e.service === target.service;
    case 'host': return e.host === target.host;
    case 'edge': case 'connection': return !!target.edge && e.to === target.edge.to;
  }
}

/**
 * Did the fault hurt what it should, as the load generator saw it? true/false from the client-side phases,
 * undefined when unknown (no phases recorded, or a scenario with no user-facing route).
 */
export function faultEffective(t: Truth): boolean | undefined {
  if (!t.phases || !t.expectedRoutes?.length) return undefined;
  const { baseline, fault } = t.phases;
  return t.expectedRoutes.some((r) => {
    const b = baseline[r];
    const f = fault[r];
    if (!b || !f || !f.count) return !!b && b.count > 0 && (!f || f.count === 0); // the route stopped answering
    const errUp = f.errors / f.count - (b.count ? b.errors / b.count : 0) >= 0.05;
    const slower = f.p90 >= 1.5 * b.p90 + 20;
    return errUp || slower;
  });
}

export interface RunResult {
  file: string;
  scenario: string;
  detected: boolean;
  detectionLatencyS?: number; // fault start -> first in-progress alert, incl. the recorder's emission lag
  falseAlarmsBefore: number; // incidents raised before the fault started (after warm-up)
  ourRank?: number; // 1-based rank of the first matching candidate (undefined: not in the list)
  baroRank?: number;
  top: string[]; // our top 5
  baroTop: string[];
  faultFree: boolean;
  falseIncidents?: number; // fault-free runs: incidents raised
  hours?: number;
  warnings: number; // early warnings raised during the fault window
  confidence?: number;
  effective?: boolean; // the fault degraded its expected routes client-side (undefined: unknown)
}

export function evaluateRecording(rec: Recording): RunResult {
  const graph = new ServiceGraph(rec.edges, rec.hosts);
  const p = new FaultPipeline(graph).replay(rec.points);
  const truth = rec.truth;
  const lagMs = Number(rec.meta.emitLagS ?? 4) * 1000;
  const effective = truth && truth.kind !== 'none' ? faultEffective(truth) : undefined;
  const base: RunResult = { ...(effective !== undefined ? { effective } : {}), file: rec.file, scenario: truth?.scenario ?? String(rec.meta.scenario ?? '?'), detected: false, falseAlarmsBefore: 0, top: [], baroTop: [], faultFree: !truth || truth.kind === 'none', warnings: 0 };
  if (!truth) return base;
  if (truth.kind === 'none') {
    // (points are in time order: a spread of an hour's points would overflow the stack)
    const hours = rec.points.length ? (rec.points[rec.points.length - 1]!.t - rec.points[0]!.t) / 3_600_000 : 0;
    // the load generator winds down before truth.end (its last requests drain) and the recorder writes a
    // few more seconds: every rate then drops to 0 by design, so incidents raised in the windows that hold
    // the load's end (one window + the emit lag before truth.end, ~9 s of an hour) are not counted
    const windowMs = Number(rec.meta.windowS ?? 5) * 1000;
    const raised = p.incidents.filter((i) => i.raisedT <= truth.end - windowMs - lagMs);
    return { ...base, falseIncidents: raised.length, hours, top: raised.map((i) => i.alerts[0]!.title) };
  }
  const windowEnd = truth.end + 10_000;
  // Detection: the first in-progress alert raised while the fault was on (an incident opened earlier by
  // noise may absorb the fault's alerts: alerts, not incidents, say when the fault was seen).
  const all = p.incidents.flatMap((i) => i.alerts);
  const inWindow = all.filter((a) => a.raisedT >= truth.start && a.raisedT <= windowEnd);
  const before = p.incidents.filter((i) => i.raisedT < truth.start);
  const warnings = p.warnings.filter((w) => w.raisedT >= truth.start - 30_000 && w.raisedT <= truth.end).length;
  if (!inWindow.length) return { ...base, falseAlarmsBefore: before.length, warnings };
  const firstRaised = Math.min(...inWindow.map((a) => a.raisedT));
  // Ranking: every incident holding such alerts, restricted to the alerts raised from 30 s before the
  // detection on (what a live ranking at that time would weigh), candidates merged by best score.
  const best = new Map<string, { score: number; conf: number }>();
  for (const inc of p.incidents.filter((i) => i.alerts.some((a) => inWindow.includes(a)))) {
    const recent = { ...inc, alerts: inc.alerts.filter((a) => a.raisedT >= firstRaised - 30_000 && a.raisedT <= windowEnd) };
    const r = p.rca(recent, rec.findings.filter((f) => f.t >= firstRaised - 30_000).map(({ t: _t, ...f }) => f));
    for (const c of r.candidates) if ((best.get(c.entity)?.score ?? -1) < c.score) best.set(c.entity, { score: c.score, conf: r.confidence });
  }
  const ranked = [...best].sort((a, b) => b[1].score - a[1].score).map(([e]) => e);
  const ours = ranked.findIndex((e) => matchesTruth(e, truth));
  const baro = baroRank(rec.points, firstRaised).map((b) => b.entity);
  const theirs = baro.findIndex((e) => matchesTruth(e, truth));
  return {
    ...base,
    detected: true,
    detectionLatencyS: (firstRaised + lagMs - truth.start) / 1000,
    falseAlarmsBefore: before.length,
    ...(ours >= 0 ? { ourRank: ours + 1 } : {}),
    ...(theirs >= 0 ? { baroRank: theirs + 1 } : {}),
    top: ranked.slice(0, 5),
    baroTop: baro.slice(0, 5),
    warnings,
    confidence: best.get(ranked[0]!)?.conf,
  };
}

export interface Summary {
  runs: number;
  ac1: number; ac3: number; avg5: number;
  baroAc1: number; baroAc3: number; baroAvg5: number;
  detected: number;
  medianDetectionS?: number;
}

const acAt = (ranks: (number | undefined)[], k: number) => ranks.filter((r) => r !== undefined && r <= k).length / Math.max(1, ranks.length);
const avgAt = (ranks: (number | undefined)[], k: number) => Array.from({ length: k }, (_, i) => acAt(ranks, i + 1)).reduce((a, b) => a + b, 0) / k;

export function summarise(results: RunResult[]): Summary {
  const ours = results.map((r) => r.ourRank);
  const theirs = results.map((r) => r.baroRank);
  const lat = results.flatMap((r) => (r.detectionLatencyS !== undefined ? [r.detectionLatencyS] : [])).sort((a, b) => a - b);
  return {
    runs: results.length,
    ac1: acAt(ours, 1), ac3: acAt(ours, 3), avg5: avgAt(ours, 5),
    baroAc1: acAt(theirs, 1), baroAc3: acAt(theirs, 3), baroAvg5: avgAt(theirs, 5),
    detected: results.filter((r) => r.detected).length,
    ...(lat.length ? { medianDetectionS: lat.length % 2 ? lat[lat.length >> 1]! : (lat[lat.length / 2 - 1]! + lat[lat.length / 2]!) / 2 } : {}),
  };
}
