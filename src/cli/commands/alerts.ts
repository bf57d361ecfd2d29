// `faultlens alerts`: the alerts in their three tenses — early warnings (with the predicted time a limit is
// crossed), in-progress alerts, resolved ones — grouped into incidents. By default the alerts the running
// agent raised live (the store's `alerts` rows, newest row per alert); with --series, or --recompute, or when
// the store holds none, they are recomputed from a series file / the store's request rows (as `faultlens rca`).
import type { Command } from 'commander';
import { FaultPipeline } from '../../rca/pipeline.js';
import type { Alert } from '../../detect/alerts/types.js';
import { openStore } from '../../store/index.js';
import { addSourceOptions, loadSeries, type SourceOptions } from './rca.js';

const iso = (t: number) => new Date(t).toISOString().slice(11, 19);

function line(a: Alert): string {
  const when = a.tense === 'early-warning' ? `predicted ${a.predictedCrossT ? iso(a.predictedCrossT) : '?'}` : a.endT ? `${iso(a.onsetT)}-${iso(a.endT)}` : `since ${iso(a.onsetT)}`;
  return `  [${a.tense}] ${iso(a.raisedT)} ${a.title}  (${when})${a.incidentId ? `  ${a.incidentId}` : ''}`;
}

/** The live alerts stored in the last `since` minutes: the newest row of each alert id, oldest first. */
export async function storedAlerts(o: SourceOptions): Promise<(Alert & { host?: string; rca?: unknown })[]> {
  const store = await openStore(o.store, o.dataDir ? { dataDir: o.dataDir } : {});
  try {
    const toNs = BigInt(Date.now()) * 1_000_000n;
    const fromNs = toNs - BigInt(Math.round(o.since * 60)) * 1_000_000_000n;
    const rows = await store.list('alerts', { fromNs, toNs, limit: 100_000 });
    const newest = new Map<string, { ts: bigint; a: Alert & { host?: string } }>();
    for (const r of rows) {
      const data = (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as Alert | undefined;
      if (!data || typeof data !== 'object' || typeof r.id !== 'string') continue;
      const ts = BigInt(String(r.ts_ns));
      const prev = newest.get(r.id);
      if (!prev || prev.ts <= ts) newest.set(r.id, { ts, a: { ...data, ...(typeof r.host === 'string' ? { host: r.host } : {}) } });
    }
    return [...newest.values()].map((x) => x.a).sort((a, b) => a.raisedT - b.raisedT);
  } finally {
    await store.close();
  }
}

export function register(program: Command): void {
  addSourceOptions(
    program
      .command('alerts')
      .description('early warnings, in-progress and resolved alerts, grouped into incidents (live ones from the store by default)')
      .option('--recompute', 'recompute the alerts from the store\'s request records instead of listing the stored ones')
      .option('--json', 'print JSON'),
  ).action(async (o: SourceOptions & { json?: boolean; recompute?: boolean }) => {
    if (!o.series && !o.recompute) {
      const stored = await storedAlerts(o);
      if (stored.length) {
        if (o.json) {
          console.log(JSON.stringify({ source: 'store (live alerts)', alerts: stored }, null, 2));
          return;
        }
        const incidents = new Set(stored.map((a) => a.incidentId).filter(Boolean));
        console.log(`store (live alerts, last ${o.since} min): ${stored.filter((a) => a.tense === 'early-warning').length} early warning(s), ${incidents.size} incident(s), ${stored.filter((a) => a.tense !== 'early-warning').length} alert(s)`);
        for (const a of stored) console.log(line(a));
        return;
      }
    }
    const { points, graph, source } = await loadSeries(o);
    const p = new FaultPipeline(graph).replay(points.sort((a, b) => a.t - b.t));
    const alerts = [...p.warnings, ...p.incidents.flatMap((i) => i.alerts)].sort((a, b) => a.raisedT - b.raisedT);
    if (o.json) {
      console.log(JSON.stringify({ source, incidents: p.incidents, alerts }, null, 2));
      return;
    }
    console.log(`${source}: ${p.warnings.length} early warning(s), ${p.incidents.length} incident(s), ${alerts.length - p.warnings.length} alert(s)`);
    for (const a of alerts) console.log(line(a));
  });
}
