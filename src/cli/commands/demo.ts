// `faultlens demo ...`: the sample shop in network namespaces, its load generator and its fault scenarios.
import type { Command } from 'commander';
import { up, down, status, type DemoStatus } from '../../../demo/lifecycle.js';

const say = (msg: string): void => console.error(`[demo] ${msg}`);

function printStatus(s: DemoStatus): void {
  console.log(s.up ? `demo is ${s.ready ? 'up' : 'partially up'} (since ${s.startedAt}), runtime dir ${s.runtimeDir}` : 'demo is down');
  if (!s.up) return;
  console.log(`gateway: ${s.gateway.http}/  ${s.gateway.https}/`);
  for (const svc of s.services) {
    const state = svc.healthy ? 'healthy' : svc.running ? `unhealthy (${svc.detail})` : svc.detail ?? 'down';
    console.log(`  ${svc.name.padEnd(9)} ${svc.host.padEnd(7)} ${`${svc.ip}:${svc.ports.join(',')}`.padEnd(22)} pid ${String(svc.pid ?? '-').padEnd(8)} ${state}`);
  }
}

function intOpt(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got '${v}'`);
  return n;
}

export function register(program: Command): void {
  // `faultlens demo status | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const demo = program.command('demo').description('the sample microservice shop in network namespaces, with load and fault scenarios');

  demo
    .command('up')
    .description('build and start the shop (6 namespace hosts, nginx, node services, redis, postgres, native payment)')
    .option('--foreground', 'stay in the foreground and tear everything down on Ctrl-C')
    .option('--load', 'also start the load generator (in the background, or in the foreground with --foreground)')
    .option('--rps <n>', 'load: requests per second', intOpt, 20)
    .option('--profile <p>', 'load: steady | diurnal | bursty', 'steady')
    .action(async (opts: { foreground?: boolean; load?: boolean; rps: number; profile: string }) => {
      // Ctrl-C while starting aborts the start (which cleans up after itself); later it tears down.
      const starting = new AbortController();
      let started = false;
      let stopping = false;
      const onSignal = async (): Promise<void> => {
        if (!started) return starting.abort();
        if (stopping) return;
        stopping = true;
        say('stopping (Ctrl-C)');
        await down(say);
        process.exit(130);
      };
      if (opts.foreground) {
        process.on('SIGINT', () => void onSignal());
        process.on('SIGTERM', () => void onSignal());
      }
      await up(say, starting.signal);
      started = true;
      if (opts.load) {
        const { startLoadInBackground, runLoad, parseProfile } = await import('../../../demo/load.js');
        const profile = parseProfile(opts.profile);
        if (opts.foreground) {
          await runLoad({ rps: opts.rps, profile, durationS: Infinity, log: say });
        } else {
          const p = startLoadInBackground({ rps: opts.rps, profile });
          say(`load generator running in the background (pid ${p.pid}, ${opts.rps} rps, ${profile})`);
        }
      }
      if (opts.foreground) {
        say('running; press Ctrl-C to stop and remove everything');
        setInterval(() => {}, 1 << 30); // a pending promise alone would let node exit; wait for the signal
      }
    });

  demo
    .command('load')
    .description('send a realistic request mix to the gateway, recording client-side latency per route as ground truth')
    .option('--rps <n>', 'requests per second (mean)', intOpt, 20)
    .option('--profile <p>', 'steady | diurnal | bursty', 'steady')
    .option('--duration <s>', 'seconds to run (default: until Ctrl-C)', intOpt)
    .option('--seed <n>', 'seed the request mix and arrival times (reproducible runs)', intOpt)
    .action(async (opts: { rps: number; profile: string; duration?: number; seed?: number }) => {
      const { runLoad, parseProfile, formatSummary, loadRecordsFile } = await import('../../../demo/load.js');
      const profile = parseProfile(opts.profile);
      say(`load: ${opts.rps} rps ${profile} for ${opts.duration ? `${opts.duration} s` : 'ever (Ctrl-C stops)'}, records in ${loadRecordsFile()}`);
      const summary = await runLoad({ rps: opts.rps, profile, durationS: opts.duration ?? Infinity, log: say, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
      console.log(formatSummary(summary));
    });

  demo
    .command('scenarios')
    .description('list the fault scenarios with a one-line description')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const { SCENARIOS } = await import('../../../demo/scenarios/registry.js');
      if (opts.json) {
        console.log(JSON.stringify(SCENARIOS.map(({ name, description, kind, target, expectedRoutes }) => ({ name, description, kind, target, expectedRoutes })), null, 2));
        return;
      }
      for (const s of SCENARIOS) console.log(`${s.name.padEnd(22)} ${s.description}`);
    });

  demo
    .command('scenario <name>')
    .description('run one scenario: load, baseline, inject, hold, revert, recovery; records ground truth')
    .option('--baseline <s>', 'seconds of healthy load before the fault', intOpt, 10)
    .option('--duration <s>', 'seconds the fault stays active', intOpt, 20)
    .option('--recovery <s>', 'seconds of load after the revert', intOpt, 5)
    .option('--rps <n>', 'load: requests per second', intOpt, 20)
    .option('--profile <p>', 'load: steady | diurnal | bursty', 'steady')
    .option('--json', 'print the ground truth and per-phase route summaries as JSON')
    .option('--store <url>', 'also record the ground truth and injection events in this store\'s faults table (duckdb:///path, clickhouse://...)')
    .action(async (name: string, opts: { baseline: number; duration: number; recovery: number; rps: number; profile: string; json?: boolean; store?: string }) => {
      const { runScenario, groundTruthFile } = await import('../../../demo/scenarios/runner.js');
      const { parseProfile } = await import('../../../demo/load.js');
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort()); // Ctrl-C: revert now, then stop
      const r = await runScenario(name, {
        baselineS: opts.baseline, faultS: opts.duration, recoveryS: opts.recovery, rps: opts.rps,
        profile: parseProfile(opts.profile), log: say, signal: abort.signal, storeUrl: opts.store,
      });
      if (opts.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      say(`ground truth appended to ${groundTruthFile()}`);
      console.log('route       baseline p50/err   fault p50/err   recovery p50/err');
      const routes = new Set([...Object.keys(r.phases.baseline), ...Object.keys(r.phases.fault)]);
      const cell = (x?: { p50: number; errors: number; count: number }): string => (x ? `${x.p50.toFixed(1)} ms ${x.errors}/${x.count}` : '-');
      for (const route of routes) {
        console.log(`${route.padEnd(10)} ${cell(r.phases.baseline[route]).padEnd(18)} ${cell(r.phases.fault[route]).padEnd(16)} ${cell(r.phases.recovery[route])}`);
      }
    });

  demo
    .command('down')
    .description('stop and remove everything the demo started (processes, namespaces, veths, bridge, data)')
    .action(async () => {
      await down(say);
      say('demo is down');
    });

  demo
    .command('status')
    .description('show hosts and services of the demo and whether they answer')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const s = await status();
      if (opts.json) console.log(JSON.stringify(s, null, 2));
      else printStatus(s);
      if (s.up && !s.services.every((x) => x.healthy)) process.exitCode = 1;
    });
}
