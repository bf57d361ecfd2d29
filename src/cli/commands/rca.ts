// `faultlens rca`: incidents and their root-cause ranking — the faulty interface, the affected call chains
// up to the entry points, the evidence and a confidence. Input: request records from the store (last
// --since minutes; per-second RED series per endpoint and edge are derived from them), or a recorded
// series file (--series, as bench/rca/record.ts writes).
import type { Command } from 'commander';
import { openStore } from '../../store/index.js';
import { rowToRequest } from '../../correlate/apm.js';
import type { SeriesPoint } from '../../detect/anomaly/detector.js';
import { ServiceGraph } from '../../detect/alerts/graph.js';
import { incidentReport, formatReport } from '../../detect/alerts/report.js';
import { FaultPipeline } from '../../rca/pipeline.js';
import { seriesFromRequests } from '../../rca/red-series.js';
import { readRecording } from '../../rca/series-file.js';
import type { RcaResult } from '../../rca/types.js';

export interface SourceOptions {
  series?: string;
  store?: string;
  dataDir?: string;
  since: number; // minutes
}

/** Series + graph from a recording file or from the store's request rows. */
export async function loadSeries(o: SourceOptions): Promise<{ points: SeriesPoint[]; graph: ServiceGraph; source: string }> {
  if (o.series) {
    const rec = readRecording(o.series); // JSON lines or .jsonl.gz, format 1 (points) or 2 (raw requests per second)
    return { points: rec.points, graph: new ServiceGraph(rec.edges, rec.hosts), source: o.series };
  }
  const store = await openStore(o.store, o.dataDir ? { dataDir: o.dataDir } : {});
  try {
    const toNs = BigInt(Date.now()) * 1_000_000n;
    const fromNs = toNs - BigInt(Math.round(o.since * 60)) * 1_000_000_000n;
    const rows = await store.list('requests', { fromNs, toNs, limit: 2_000_000 });
    const recs = rows.map((row) => ({ r: rowToRequest(row), endMs: Number((BigInt(String(row.ts_ns)) + BigInt(String(row.duration_ns ?? 0))) / 1_000_000n) }));
    const ends = new Map(recs.map((x) => [x.r, x.endMs]));
    const { points, edges } = seriesFromRequests(recs.map((x) => x.r), (r) => ends.get(r)!);
    return { points, graph: new ServiceGraph(edges), source: `store (${rows.length} request rows, last ${o.since} min)` };
  } finally {
    await store.close();
  }
}

export function formatRca(r: RcaResult, top = 5): string {
  const lines = [`root cause of ${r.incidentId}: ${r.faultyInterface}  (confidence ${(r.confidence * 100).toFixed(0)} %)`];
  for (const [i, c] of r.candidates.slice(0, top).entries()) {
    lines.push(`  ${i + 1}. ${c.label}  score ${c.score.toFixed(2)}${c.origin ? '' : '  (propagated)'}`);
    for (const e of c.evidence.slice(0, 4)) lines.push(`       ${e}`);
    if (c.explains.length) lines.push(`       explains: ${c.explains.slice(0, 6).join(', ')}`);
  }
  if (r.chains.length) lines.push('  affected call chains:', ...r.chains.map((c) => `    ${c.join(' -> ')}`));
  return lines.join('\n');
}

const minutes = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--since must be a positive number of minutes, got '${v}'`);
  return n;
};

export function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--series <file>', 'a recorded series file (JSON lines or .jsonl.gz, see src/rca/series-file.ts) instead of the store')
    .option('--since <minutes>', 'how far back to read request records from the store', minutes, 15)
    .option('--store <url>', 'store URL (default: DuckDB in the data dir)')
    .option('--data-dir <dir>', 'directory of the embedded store');
}

export function register(program: Command): void {
  addSourceOptions(
    program
      .command('rca')
      .description('rank the root causes of incidents: faulty interface, affected call chains, evidence, confidence')
      .option('--incident <id>', 'only this incident (default: every incident found)')
      .option('--json', 'print JSON'),
  ).action(async (o: SourceOptions & { incident?: string; json?: boolean }) => {
    const { points, graph, source } = await loadSeries(o);
    if (!points.length) {
      console.error(`no series in ${source}: nothing to analyse (is the agent storing request records?)`);
      process.exitCode = 1;
      return;
    }
    const p = new FaultPipeline(graph).replay(points.sort((a, b) => a.t - b.t));
    const incidents = o.incident ? p.incidents.filter((i) => i.id === o.incident) : p.incidents;
    if (o.incident && !incidents.length) throw new Error(`no incident '${o.incident}' (found: ${p.incidents.map((i) => i.id).join(', ') || 'none'})`);
    const out = incidents.map((inc) => ({ report: incidentReport(inc, graph), rca: p.rca(inc) }));
    if (o.json) {
      console.log(JSON.stringify({ source, incidents: out }, null, 2));
      return;
    }
    if (!out.length) console.log(`no incident in ${source}`);
    for (const x of out) console.log(`${formatReport(x.report)}\n${formatRca(x.rca)}\n`);
  });
}
