// `faultlens alerts`: the alerts in their three tenses — early warnings (with the predicted time a limit is
// crossed), in-progress alerts, resolved ones — grouped into incidents. Same sources as `faultlens rca`.
import type { Command } from 'commander';
import { FaultPipeline } from '../../rca/pipeline.js';
import type { Alert } from '../../detect/alerts/types.js';
import { addSourceOptions, loadSeries, type SourceOptions } from './rca.js';

const iso = (t: number) => new Date(t).toISOString().slice(11, 19);

function line(a: Alert): string {
  const when = a.tense === 'early-warning' ? `predicted ${a.predictedCrossT ? iso(a.predictedCrossT) : '?'}` : a.endT ? `${iso(a.onsetT)}-${iso(a.endT)}` : `since ${iso(a.onsetT)}`;
  return `  [${a.tense}] ${iso(a.raisedT)} ${a.title}  (${when})${a.incidentId ? `  ${a.incidentId}` : ''}`;
}

export function register(program: Command): void {
  addSourceOptions(
    program
      .command('alerts')
      .description('early warnings, in-progress and resolved alerts, grouped into incidents')
      .option('--json', 'print JSON'),
  ).action(async (o: SourceOptions & { json?: boolean }) => {
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
