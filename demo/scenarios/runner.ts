// Runs one scenario end to end: load -> baseline -> inject -> hold -> revert -> recovery, then writes the
// ground truth: JSON lines under the runtime dir, and (with a store) rows of the store's `faults` table —
// the scenario's own ground truth plus every eBPF inject/stop/expiry event of its faults.
import { appendFileSync, mkdirSync } from 'node:fs';
import { rt } from '../paths.js';
import { status } from '../lifecycle.js';
import { runLoad, summarize, type LoadRecord, type Profile, type RouteSummary } from '../load.js';
import { openStore, type Store } from '../../src/store/index.js';
import { recordFaultEvents } from '../../src/inject/record.js';
import { scenarioByName } from './registry.js';
import { closeInjection, onInjectEvent } from './inject-engine.js';
import { groundTruthRow } from './store-rows.js';
import type { GroundTruth } from './types.js';

export const groundTruthFile = (): string => rt('records', 'ground-truth.jsonl');

export function recordGroundTruth(gt: GroundTruth): void {
  mkdirSync(rt('records'), { recursive: true });
  appendFileSync(groundTruthFile(), JSON.stringify(gt) + '\n');
}

export interface ScenarioOptions {
  baselineS: number;
  faultS: number;
  recoveryS: number;
  rps: number;
  profile: Profile;
  log: (msg: string) => void;
  signal?: AbortSignal;
  /** Also record the ground truth and the injection events in this store (duckdb:///path, clickhouse://...). */
  storeUrl?: string;
  /** Seeds the load generator (reproducible request mix and arrivals). */
  seed?: number;
}

export interface ScenarioResult {
  groundTruth: GroundTruth;
  phases: { baseline: Record<string, RouteSummary>; fault: Record<string, RouteSummary>; recovery: Record<string, RouteSummary> };
}

const wait = (s: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, s * 1000);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function runScenario(name: string, opts: ScenarioOptions): Promise<ScenarioResult> {
  const scenario = scenarioByName(name);
  const reason = scenario.unavailable?.();
  if (reason) throw new Error(`scenario ${name} ${reason}`);
  const st = await status();
  if (!st.ready) throw new Error('the demo is not up: run `faultlens demo up` first');
  // Opened before any load or fault, so a bad URL or a locked DuckDB file fails the run at once.
  const store: Store | undefined = opts.storeUrl ? await openStore(opts.storeUrl) : undefined;
  const storeErrors: string[] = [];
  const onStoreError = (e: Error): void => void storeErrors.push(e.message);
  if (store) onInjectEvent(recordFaultEvents(store, onStoreError));
  const ctx = { log: opts.log, faultS: opts.faultS };
  const records: LoadRecord[] = [];
  const stopLoad = new AbortController();
  const load = runLoad({ rps: opts.rps, profile: opts.profile, durationS: Infinity, signal: stopLoad.signal, onRecord: (r) => records.push(r), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
  let start = 0;
  let end = 0;
  let details: Record<string, unknown> | undefined;
  let failure: Error | undefined;
  const truth = (): GroundTruth => ({ scenario: name, kind: scenario.kind, target: scenario.target, start, end, expectedRoutes: scenario.expectedRoutes, ...(details ? { details } : {}) });
  try {
    opts.log(`${name}: baseline ${opts.baselineS} s at ${opts.rps} rps`);
    await wait(opts.baselineS, opts.signal);
    opts.log(`${name}: injecting — ${scenario.description}`);
    start = Date.now();
    store?.write('faults', [groundTruthRow(truth(), 'injected')]).catch(onStoreError);
    await bounded(scenario.inject(ctx), 30_000, 'inject');
    await wait(opts.faultS, opts.signal);
    if (scenario.evidence) details = await bounded(scenario.evidence(ctx), 10_000, 'evidence').catch((e: Error) => ({ evidenceError: e.message }));
  } catch (err) {
    failure = err as Error;
  }
  // Revert whatever happened above, and always stop the load, even when a step failed.
  if (start) {
    opts.log(`${name}: reverting`);
    await bounded(scenario.revert(ctx), 30_000, 'revert').catch((e: Error) => {
      failure ??= e;
    });
  }
  end = Date.now();
  closeInjection(); // nothing of this run stays attached, whatever revert did
  if (!failure) await wait(opts.recoveryS, opts.signal);
  stopLoad.abort();
  await load;
  if (store) {
    if (start) store.write('faults', [groundTruthRow(truth(), 'stopped', failure?.message)]).catch(onStoreError);
    await store.flush().catch(onStoreError);
    await store.close();
    if (storeErrors.length) opts.log(`${name}: could not record in the store: ${storeErrors[0]}`);
  }
  if (failure) throw new Error(`scenario ${name} failed: ${failure.message}`);
  const groundTruth = truth();
  recordGroundTruth(groundTruth);
  // A request belongs to the phase in which it was sent (a slow request sent during the fault counts there).
  const phases = {
    baseline: summarize(records.filter((r) => r.t < start)),
    fault: summarize(records.filter((r) => r.t >= start && r.t < end)),
    recovery: summarize(records.filter((r) => r.t >= end)),
  };
  return { groundTruth, phases };
}
