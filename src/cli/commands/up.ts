// `faultlens up`: the whole thing on one host — agent + server + embedded store on localhost, and with
// --demo the sample shop too. Prints where to look; Ctrl-C stops everything and detaches every probe.
import type { Command } from 'commander';
import { requireRoot } from '../../collect/sock-collector.js';
import { redCollector } from '../../correlate/red-metrics.js';
import { startPlatform } from '../../server/platform.js';
import { localSink, startAgent } from '../agent-runtime.js';
import { addPlatformOptions, configFromFlags, untilSignal, type PlatformFlags } from '../platform-flags.js';

interface UpFlags extends PlatformFlags {
  demo?: boolean;
  rps: string;
  payload?: string;
  interval: string;
  apm?: boolean;
}

const say = (m: string) => console.log(`faultlens: ${m}`);

export function register(program: Command): void {
  addPlatformOptions(
    program
      .command('up')
      .description('run faultlens on this host: agent (eBPF capture) + server + embedded store; --demo adds the demo shop')
      .option('--demo', 'also start the demo shop in network namespaces, with load, and watch it')
      .option('--rps <n>', 'with --demo: load generator requests per second', '10')
      .option('--payload <bytes>', 'payload bytes captured per socket record, 0..4096 (default 512; 0 with --no-apm)')
      .option('--interval <ms>', 'how often the agent ships changed flows', '1000')
      .option('--no-apm', 'flows only: no L7 requests, services or call chains (cheaper)'),
  ).action(async (o: UpFlags) => {
    const cfg = configFromFlags(o);
    const payloadBytes = o.payload === undefined ? undefined : Number(o.payload);
    const intervalMs = Number(o.interval);
    if (payloadBytes !== undefined && (!Number.isInteger(payloadBytes) || payloadBytes < 0 || payloadBytes > 4096)) throw new Error(`--payload must be 0..4096, got '${o.payload}'`);
    if (!Number.isFinite(intervalMs) || intervalMs < 50) throw new Error(`--interval must be >= 50 ms, got '${o.interval}'`);

    // Fail fast without root, before the store is opened; the demo starts last so the agent sees its
    // connections open.
    requireRoot('faultlens up');
    const platform = await startPlatform(cfg);
    let agent;
    try {
      agent = startAgent({
        host: cfg.hostname,
        ...(payloadBytes !== undefined ? { payloadBytes } : {}),
        intervalMs,
        apm: o.apm !== false,
        sink: localSink(platform.server.ingestor),
      });
      if (agent.red) platform.server.metrics.add(redCollector(agent.red));
    } catch (e) {
      await platform.close();
      throw e;
    }
    const a = agent.stats();
    say(`agent capturing socket activity from ${a.tracepoints} tracepoints${agent.red ? ', parsing L7 requests' : ''}` +
      (a.skippedTracepoints.length ? ` (missing: ${a.skippedTracepoints.join(', ')})` : ''));

    let demoStarted = false;
    if (o.demo) {
      const { up } = await import('../../../demo/lifecycle.js');
      const { startLoadInBackground, parseProfile } = await import('../../../demo/load.js');
      say('starting the demo shop (first run builds it: ~10-60 s)');
      await up((m) => say(`demo: ${m}`));
      demoStarted = true;
      const rps = Number(o.rps);
      const p = startLoadInBackground({ rps: Number.isFinite(rps) && rps > 0 ? rps : 10, profile: parseProfile('steady') });
      say(`demo load generator running (pid ${p.pid}, ${o.rps} rps); the shop's gateway is http://10.213.0.10/`);
    }

    console.log('faultlens is up:');
    for (const line of platform.banner()) console.log(`  ${line}`);
    console.log('Ctrl-C to stop (detaches every probe, flushes the store' + (demoStarted ? ', removes the demo' : '') + ').');

    await untilSignal('faultlens up', async () => {
      await agent.close();
      if (demoStarted) {
        const { down } = await import('../../../demo/lifecycle.js');
        await down((m) => say(`demo: ${m}`));
      }
      await platform.close();
    });
  });
}
