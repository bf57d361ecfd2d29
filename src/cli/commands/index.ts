// Registry of subcommands. Add one line per command module.
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [];
commands.push((await import('./demo.js')).register);
commands.push((await import('./flows.js')).register);
commands.push((await import('./doctor.js')).register);
commands.push((await import('./diagnose.js')).register);
commands.push((await import('./tcp.js')).register);
commands.push((await import('./up.js')).register);
commands.push((await import('./agent.js')).register);
commands.push((await import('./server.js')).register);
commands.push((await import('./inject.js')).register);
commands.push((await import('./business.js')).register);
commands.push((await import('./top.js')).register);
commands.push((await import('./requests.js')).register);
commands.push((await import('./services.js')).register);
commands.push((await import('./trace.js')).register);
commands.push((await import('./rca.js')).register);
commands.push((await import('./alerts.js')).register);
