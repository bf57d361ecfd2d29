// `faultlens doctor`: what this kernel supports, what is degraded (and to what), what is missing.
import type { Command } from 'commander';
import { formatReport, probeFeatures } from '../../kernel/features.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check kernel support for faultlens (BTF, hooks, tracepoints, privileges) and explain fallbacks')
    .option('--json', 'print the report as JSON')
    .option('--no-fix', 'do not mount tracefs/bpffs or raise the memlock limit')
    .action((opts: { json?: boolean; fix: boolean }) => {
      const report = probeFeatures({ fix: opts.fix });
      console.log(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
      if (report.essentialMissing) process.exitCode = 1;
    });
}
