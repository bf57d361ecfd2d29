// `faultlens server`: the HTTP API, UI and store without an agent — for remote agents and scale-out
// (several servers can share one ClickHouse store).
import type { Command } from 'commander';
import { startPlatform } from '../../server/platform.js';
import { addPlatformOptions, configFromFlags, untilSignal, type PlatformFlags } from '../platform-flags.js';

export function register(program: Command): void {
  addPlatformOptions(
    program
      .command('server')
      .description('run the faultlens server (HTTP API, live stream, /metrics, web UI) and its store, without an agent'),
  ).action(async (o: PlatformFlags) => {
    const cfg = configFromFlags(o);
    const platform = await startPlatform(cfg);
    console.log(`faultlens server ${cfg.configFile ? `(config ${cfg.configFile}) ` : ''}is up:`);
    for (const line of platform.banner()) console.log(`  ${line}`);
    console.log('Ctrl-C to stop.');
    await untilSignal('faultlens server', () => platform.close());
  });
}
