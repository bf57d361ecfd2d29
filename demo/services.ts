// How each demo service is started: its command line, environment and readiness check. Used by
// `demo up` and by scenarios that stop and restart one service (redis down).
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { DEMO_SRC, rt } from './paths.js';
import { spawnTracked, serviceCgroup, stopTracked, waitForPort, isAlive } from './procs.js';
import { asPostgres, pgBinDir } from './postgres.js';
import { hostByNs, serviceByName, type ServiceName } from './topology.js';
import { loadState, updateState, type TrackedProc } from './state.js';

export interface StartContext {
  paymentBin: string;
  nginxConf: string;
  pgData: string;
}

function commandFor(name: ServiceName, ctx: StartContext): { cmd: string; args: string[]; env?: Record<string, string> } {
  switch (name) {
    case 'postgres': {
      const bin = pgBinDir();
      if (!bin) throw new Error('postgresql is not installed');
      // No unix socket: /var/run/postgresql is shared with the host's own clusters.
      const [cmd, args] = asPostgres(join(bin, 'postgres'), ['-D', ctx.pgData, '-c', 'unix_socket_directories=', '-c', "listen_addresses=*"]);
      return { cmd, args };
    }
    case 'redis': {
      const dir = rt('redis');
      mkdirSync(dir, { recursive: true });
      return {
        cmd: 'redis-server',
        args: ['--bind', '0.0.0.0 ::', '--port', '6379', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir, '--daemonize', 'no', '--logfile', ''],
      };
    }
    case 'payment':
      // run it by its stable name so its process name (comm) is "payment", not the build hash
      return { cmd: join(dirname(ctx.paymentBin), 'payment'), args: [], env: { PAYMENT_PORT: '8084', SETTLE_PORT: '8085', PAYMENT_BACKLOG: '16' } };
    case 'gateway':
      return { cmd: 'nginx', args: ['-c', ctx.nginxConf, '-p', join(ctx.nginxConf, '..'), '-g', 'daemon off;'] };
    default: {
      const svc = serviceByName(name);
      return { cmd: process.execPath, args: [join(DEMO_SRC, 'services', `${name}.js`)], env: { PORT: String(svc.ports[0]), NODE_ENV: 'production' } };
    }
  }
}

/** Starts one service in its namespace + cgroup, records it in the state file, waits until it listens. */
export async function startService(name: ServiceName, ctx: StartContext, timeoutMs = 30_000): Promise<TrackedProc> {
  const svc = serviceByName(name);
  const { cmd, args, env } = commandFor(name, ctx);
  const proc = spawnTracked({ name, ns: svc.ns, cmd, args, env, cgroup: serviceCgroup(name) });
  updateState((s) => {
    s.procs = s.procs.filter((p) => p.name !== name);
    s.procs.push(proc);
  });
  const ip = hostByNs(svc.ns).ip;
  for (const port of svc.ports) await waitForPort(ip, port, timeoutMs, name, () => isAlive(proc));
  return proc;
}

export async function stopService(name: string): Promise<void> {
  const proc = loadState()?.procs.find((p) => p.name === name);
  if (!proc) return;
  await stopTracked(proc);
  updateState((s) => {
    s.procs = s.procs.filter((p) => p.name !== name);
  });
}

/** The context a later restart needs (kept in the runtime dir by `demo up`). */
export const startContextFile = (): string => rt('start-context.json');
