// Recorded series files (JSON lines, optionally gzipped: *.jsonl.gz): what `faultlens rca --series` and the
// RCA bench replay. One object per line:
//   {"type":"meta", "format"?, "scenario", "run", "seed", "signals": {signal: "real: <source>"}, "startedAt"}
//   {"type":"req", "s", "e", "d": [ms...], "x", "c"?}  format 2: one entity's requests of second s (durations,
//                                                       errors, failed connections); RED series derive from these
//   {"type":"tick", "s"}                                format 2: second s was emitted (idle seconds too)
//   {"type":"point", "t", "entity", "signal", "value", "count"?, "limit"?}   (SeriesPoint; format 1: RED too)
//   {"type":"edge", "from", "to"}                                              (observed call edges)
//   {"type":"host", "host", "services": [...]}
//   {"type":"truth", ...GroundTruth}   (demo/scenarios/types.ts; kind 'none' for a fault-free run)
//   {"type":"finding", "t", "entity", "kind", "title"}
// Format 2 keeps the raw per-second durations rather than windowed figures: smaller, and a change of the
// window or the latency estimator (red-series.ts) needs no re-recording.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { SeriesPoint } from '../detect/anomaly/detector.js';
import { isSignal } from '../detect/anomaly/signals.js';
import { parseEntity } from '../detect/anomaly/entity.js';
import { RedWindows } from './red-series.js';
import type { EntityFinding } from './types.js';

export interface Truth {
  scenario: string;
  kind: string; // FaultKind or 'none'
  target?: { service: string; host?: string; endpoint?: string; edge?: { from: string; to: string } };
  start: number;
  end: number;
  expectedRoutes?: string[];
  /** Client-side (load generator) figures per route and phase, when the recorder had them. */
  phases?: Record<'baseline' | 'fault' | 'recovery', Record<string, { count: number; errors: number; p90: number }>>;
  details?: Record<string, unknown>;
}

export interface Recording {
  file: string;
  meta: Record<string, unknown>;
  points: SeriesPoint[]; // sorted by t
  edges: [string, string][];
  hosts: Record<string, string[]>;
  truth?: Truth;
  findings: (EntityFinding & { t: number })[];
}

export function readSeriesText(file: string): string {
  const raw = readFileSync(file);
  return file.endsWith('.gz') || (raw[0] === 0x1f && raw[1] === 0x8b) ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
}

export function readRecording(file: string, o: { windowS?: number } = {}): Recording {
  const rec: Recording = { file, meta: {}, points: [], edges: [], hosts: {}, findings: [] };
  const reqs: { s: number; e: string; d: number[]; x: number; c: number }[] = [];
  let lastTick = -Infinity;
  const lines = readSeriesText(file).split('\n');
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
      case 'req': {
        if (typeof o.s !== 'number' || typeof o.e !== 'string' || !Array.isArray(o.d)) throw new Error(`${file}:${i + 1}: bad req line`);
        parseEntity(o.e);
        reqs.push({ s: o.s, e: o.e, d: (o.d as unknown[]).map(Number), x: Number(o.x ?? 0), c: Number(o.c ?? 0) });
        break;
      }
      case 'tick': lastTick = Math.max(lastTick, Number(o.s)); break;
      case 'edge': rec.edges.push([String(o.from), String(o.to)]); break;
      case 'host': rec.hosts[String(o.host)] = (o.services as string[]) ?? []; break;
      case 'truth': rec.truth = o as unknown as Truth; break;
      case 'finding': rec.findings.push({ t: Number(o.t), entity: String(o.entity), kind: String(o.kind), title: String(o.title) }); break;
      default: break; // unknown line types are skipped: newer recorders may add some
    }
  });
  if (reqs.length) {
    const red = new RedWindows(o.windowS ?? Number(rec.meta.windowS ?? 5));
    reqs.sort((a, b) => a.s - b.s);
    for (const r of reqs) red.add(r.s, r.e, { durs: r.d, errs: r.x, connErrs: r.c });
    const last = Math.max(lastTick, reqs[reqs.length - 1]!.s);
    for (const p of red.emitUpTo(last)) rec.points.push(p); // (a spread of an hour's points overflows the stack)
  }
  rec.points.sort((a, b) => a.t - b.t);
  return rec;
}
