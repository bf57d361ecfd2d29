// The `faultlens` command: one subcommand per file under ./commands, each registering itself.
import { Command } from 'commander';
import { commands } from './commands/index.js';

const program = new Command('faultlens')
  .description('eBPF fault localization: network, application and business views joined in the kernel')
  .version('0.1.0')
  .showHelpAfterError();

for (const register of commands) register(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const msg = err instanceof Error ? err.message : String(err);
  console.error(`faultlens: ${msg}`);
  process.exitCode = 1;
});
