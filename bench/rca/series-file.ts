// Recorded series files (JSON lines): what the RCA bench replays. One object per line:
//   {"type":"meta", "scenario", "run", "seed", "signals": {signal: "real: <source>"}, "startedAt"}
//   {"type":"point", "t", "entity", "signal", "value", "count"?, "limit"?}      (SeriesPoint)
//   {"type":"edge", "from", "to"}                                              (observed call edges)
//   {"type":"host", "host", "services": [...]}
//   {"type":"truth", ...GroundTruth}   (demo/scenarios/types.ts; kind 'none' for a fault-free run)
//   {"type":"finding", "t", "entity", "kind", "title"}
import { readFileSync } from 'node:fs';
import type { SeriesPoint } from '../../src/detect/anomaly/detector.js';
import { isSignal } from '../../src/detect/anomaly/signals.js';
import { parseEntity } from '../../src/detect/anomaly/entity.js';
import type { EntityFinding } from '../../src/rca/types.js';

export interface Truth {
  scenario: string;
  kind: string; // FaultKind or 'none'
  target?: { service: string; host?: string; endpoint?: string; edge?: { from: string; to: string } };
  start: number;
  end: number;
  expectedRoutes?: string[];
  /** Client-side (load generator) figures per route and phase, when the recorder had them. */
  phases?: Record<'baseline' | 'fault' | 'recovery', Record<string, { count: number; errors: number; p90: number }>>;
}

export interface Recording {
  file: string;
  meta: Record<string, unknown>;
  points: SeriesPoint[];
  edges: [string, string][];
  hosts: Record<string, string[]>;
  truth?: Truth;
  findings: (EntityFinding & { t: number })[];
}

export function readRecording(file: string): Recording {
  const rec: Recording = { file, meta: {}, points: [], edges: [], hosts: {}, findings: [] };
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1}: not JSON`);
    }
    switch (o.type) {
      case 'meta': rec.meta = o; break;
      case 'point': {
        if (typeof o.entity !== 'string' || typeof o.signal !== 'string' || !isSignal(o.signal) || typeof o.t !== 'number' || typeof o.value !== 'number') throw new Error(`${file}:${i + 1}: bad point`);
        parseEntity(o.entity); // validates
        rec.points.push({ t: o.t, entity: o.entity, signal: o.signal, value: o.value, ...(typeof o.count === 'number' ? { count: o.count } : {}), ...(typeof o.limit === 'number' ? { limit: o.limit } : {}) });
        break;
      }
      case 'edge': rec.edges.push([String(o.from), String(o.to)]); break;
      case 'host': rec.hosts[String(o.host)] = (o.services as string[]) ?? []; break;
      case 'truth': rec.truth = o as unknown as Truth; break;
      case 'finding': rec.findings.push({ t: Number(o.t), entity: String(o.entity), kind: String(o.kind), title: String(o.title) }); break;
      default: break; // unknown line types are skipped: newer recorders may add some
    }
  });
  return rec;
}
