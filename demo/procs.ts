// Starting and stopping the demo's processes: each runs detached (own process group), inside its host's
// network namespace via `ip netns exec` (which also bind-mounts /etc/netns/NS/hosts), in its own cgroup v2
// so faultlens can name it by cgroup, with stdout/stderr in a log file under the runtime dir.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync, mkdirSync, existsSync, rmdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { TrackedProc } from './state.js';
import { rt } from './paths.js';
import { sleep } from './sh.js';

/** The cgroup v2 mount (hybrid hosts have it at /sys/fs/cgroup/unified). */
export function cgroup2Root(): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const [, mnt, fstype] = line.split(' ');
      if (fstype === 'cgroup2' && mnt) return mnt;
    }
  } catch {
    /* no /proc: no cgroups */
  }
  return undefined;
}

export const DEMO_CGROUP = 'faultlens-demo';

/** Creates (if needed) the cgroup of one demo service and returns its path, or undefined without cgroup v2. */
export function serviceCgroup(service: string): string | undefined {
  const root = cgroup2Root();
  if (!root) return undefined;
  const dir = join(root, DEMO_CGROUP, service);
  try {
    mkdirSync(dir, { recursive: true });
    return dir;
  } catch {
    return undefined;
  }
}

export function removeCgroups(): void {
  const root = cgroup2Root();
  if (!root) return;
  const base = join(root, DEMO_CGROUP);
  if (!existsSync(base)) return;
  for (const name of readdirSafe(base)) {
    try {
      rmdirSync(join(base, name));
    } catch {
      /* still has members: killed processes may take a moment; teardown retries */
    }
  }
  try {
    rmdirSync(base);
  } catch {
    /* see above */
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), or -1 when the process is gone. */
export function procStartTime(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]); // fields after "comm": state is field 3, so starttime (22) is index 19
  } catch {
    return -1;
  }
}

export function isAlive(p: TrackedProc): boolean {
  const st = procStartTime(p.pid);
  if (st < 0 || st !== p.startTime) return false;
  try {
    const state = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

export interface SpawnSpec {
  name: string;
  ns?: string; // network namespace; omitted = root namespace
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cgroup?: string; // cgroup dir to join before exec
  cwd?: string;
}

/** Starts a detached process and returns what the state file needs to find and stop it later. */
export function spawnTracked(spec: SpawnSpec): TrackedProc {
  mkdirSync(rt('logs'), { recursive: true });
  const log = rt('logs', `${spec.name.replace(/[^a-z0-9_.-]/gi, '_')}.log`);
  const fd = openSync(log, 'a');
  // Join the cgroup first: `ip netns exec` remounts /sys, which hides the cgroup fs from inside.
  const script = [
    spec.cgroup ? `echo $$ > '${spec.cgroup}/cgroup.procs' 2>/dev/null || true` : ':',
    spec.ns ? `exec ip netns exec '${spec.ns}' "$@"` : 'exec "$@"',
  ].join('; ');
  const child = spawn('/bin/sh', ['-c', script, 'sh', spec.cmd, ...spec.args], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...spec.env },
    cwd: spec.cwd,
  });
  closeSync(fd);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${spec.name} (${spec.cmd})`);
  return { name: spec.name, pid: child.pid, startTime: procStartTime(child.pid), ns: spec.ns, cmd: [spec.cmd, ...spec.args].join(' '), log };
}

/** SIGTERM to the process group, SIGKILL after graceMs. Only touches the pid if its start time still matches. */
export async function stopTracked(p: TrackedProc, graceMs = 4000): Promise<void> {
  if (!isAlive(p)) return;
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-p.pid, sig);
    } catch {
      try {
        process.kill(p.pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(p)) return;
    await sleep(50);
  }
  signal('SIGKILL');
  for (let i = 0; i < 40 && isAlive(p); i++) await sleep(50);
}

/** Resolves once host:port accepts TCP connections (from the root namespace, over the bridge). */
export async function waitForPort(host: string, port: number, timeoutMs: number, what: string, alive?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.setTimeout(500);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (alive && !alive()) throw new Error(`${what} exited before listening on ${host}:${port} (see its log under ${rt('logs')})`);
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${host}:${port} within ${timeoutMs} ms (see ${rt('logs')})`);
    await sleep(100);
  }
}

export function writeFileEnsured(path: string, content: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
}
