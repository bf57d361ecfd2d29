// Alerts as `alerts` table rows: a new row each time an alert changes (raised, resolved, an early warning
// re-stated), the newest row per id is its state. `data` keeps the whole alert (entity, signal, onset,
// baseline, peak, predicted crossing time, incident) and, for an in-progress alert, its incident's ranking.
import type { AlertChange } from '../rca/live-monitor.js';
import type { Row } from '../store/types.js';

export function alertToRow({ alert: a, rca }: AlertChange, nowMs: number): Row {
  return {
    ts_ns: BigInt(Math.round(nowMs)) * 1_000_000n,
    id: a.id,
    rule: `${a.tense === 'early-warning' ? 'trend' : 'anomaly'}:${a.signal}`,
    state: a.tense,
    severity: a.severity,
    summary: a.title,
    data: {
      ...a,
      ...(rca ? { rca: { faultyInterface: rca.faultyInterface, confidence: rca.confidence, chains: rca.chains, candidates: rca.candidates.slice(0, 5).map((c) => ({ entity: c.entity, label: c.label, score: c.score, evidence: c.evidence.slice(0, 4) })) } } : {}),
    },
  };
}
