// The RCA bench: replays recorded series files (bench/rca/data/*.jsonl.gz by default, made by record.ts /
// record-all.sh from real demo runs; bench/rca/data/v1/ holds the older format-1 recordings) through detection -> incidents -> ranking, next to the BARO-style
// baseline on the same data, and prints AC@1, AC@3, Avg@5 and detection latency per scenario and overall,
// plus the false-alarm rate. `--json` prints the figures as JSON.
//   node --import tsx bench/rca/run.ts [--json] [FILES... | DIR]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readRecording } from './series-file.js';
import { evaluateRecording, summarise, type RunResult } from './evaluate.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
let files = args.filter((a) => !a.startsWith('--'));
const inDir = (dir: string) => readdirSync(dir).filter((f) => /\.jsonl(\.gz)?$/.test(f)).sort().map((f) => join(dir, f));
if (!files.length) files = inDir('bench/rca/data');
files = files.flatMap((f) => (statSync(f).isDirectory() ? inDir(f) : [f]));
const results: RunResult[] = [];
for (const f of files) {
  try {
    const rec = readRecording(f);
    if (!rec.truth) {
      console.error(`${f}: no ground truth line (recording cut short?) — skipped`);
      continue;
    }
    results.push(evaluateRecording(rec));
  } catch (e) {
    console.error(`${f}: ${(e as Error).message} — skipped`);
  }
}
// Every staged fault is scored; runs whose fault did not degrade its expected routes client-side (the
// ground truth says a fault was staged, the load generator saw nothing) are also listed, and an extra
// overall row leaves them out.
const ineffective = results.filter((r) => !r.faultFree && r.effective === false);
const faulty = results.filter((r) => !r.faultFree);
const free = results.filter((r) => r.faultFree);
const byScenario = new Map<string, RunResult[]>();
for (const r of faulty) (byScenario.get(r.scenario) ?? byScenario.set(r.scenario, []).get(r.scenario)!).push(r);
const rows = [...byScenario].map(([s, rs]) => ({ scenario: s, ...summarise(rs) }));
const overall = summarise(faulty);
const confirmed = summarise(faulty.filter((r) => r.effective !== false));
const falseIncidents = free.reduce((a, r) => a + (r.falseIncidents ?? 0), 0);
const hours = free.reduce((a, r) => a + (r.hours ?? 0), 0);
const baselineFalse = faulty.reduce((a, r) => a + r.falseAlarmsBefore, 0);
if (json) {
  console.log(JSON.stringify({ perScenario: rows, overall, overallClientConfirmed: confirmed, ineffective: ineffective.map((r) => r.file), faultFree: { runs: free.length, hours, falseIncidents }, falseAlarmsInBaselines: baselineFalse, runs: results }, null, 2));
} else {
  const f2 = (v: number) => v.toFixed(2);
  const head = ['SCENARIO', 'RUNS', 'DET', 'AC@1', 'AC@3', 'Avg@5', 'BARO AC@1', 'BARO AC@3', 'BARO Avg@5', 'DET s (median)'];
  const line = (c: string[]) => c.map((x, i) => (i === 0 ? x.padEnd(24) : x.padStart(i >= 6 ? 11 : 6))).join(' ');
  console.log(line(head));
  for (const r of [...rows, { scenario: 'OVERALL', ...overall }, { scenario: 'OVERALL client-confirmed', ...confirmed }]) {
    console.log(line([r.scenario, String(r.runs), String(r.detected), f2(r.ac1), f2(r.ac3), f2(r.avg5), f2(r.baroAc1), f2(r.baroAc3), f2(r.baroAvg5), r.medianDetectionS !== undefined ? r.medianDetectionS.toFixed(1) : '-']));
  }
  console.log(`\nfalse alarms: ${falseIncidents} incident(s) in ${free.length} fault-free run(s) totalling ${(hours * 60).toFixed(1)} min` +
    `${hours > 0 ? ` (${(falseIncidents / hours).toFixed(2)}/h)` : ''}; ${baselineFalse} incident(s) during the baselines of fault runs`);
  if (ineffective.length) console.log(`the load generator saw no degradation of the expected routes in: ${ineffective.map((r) => r.file).join(', ')}`);
  for (const r of results) {
    const tag = r.faultFree ? `fault-free: ${r.falseIncidents} incident(s) ${r.top.slice(0, 3).join(' | ')}` : `rank ${r.ourRank ?? '-'} (baro ${r.baroRank ?? '-'}) det ${r.detectionLatencyS?.toFixed(1) ?? '-'} s, warnings ${r.warnings}, top: ${r.top.slice(0, 3).join(', ')}`;
    console.log(`  ${r.file}: ${tag}`);
  }
}
