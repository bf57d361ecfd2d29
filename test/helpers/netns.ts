// Network-namespace harness for tests: two namespaces `fl-*` joined by a veth pair (MTU 1500) with IPv4
// and IPv6 addresses, helpers to run processes inside them, and teardown that always runs (also on
// process exit). Deleting a namespace removes its veth end, and with it the peer.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

export interface Netns {
  name: string;
  ip4: string;
  ip6: string;
  ifname: string;
  /** The namespace's inode number (what the kernel reports as netns). */
  inode: number;
  /** Spawns `cmd args` inside the namespace. */
  spawn(cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Runs to completion inside the namespace; rejects on a non-zero exit with its stderr. */
  run(cmd: string, args: string[], opts?: SpawnOptions): Promise<RunResult>;
}

export interface RunResult { code: number; stdout: string; stderr: string; pid: number }

export interface NetnsPair {
  a: Netns;
  b: Netns;
  /** Deletes both namespaces (idempotent). */
  destroy(): void;
}

const live = new Set<NetnsPair>();
let exitHookInstalled = false;

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Runs a command (given as argv) to completion, collecting output. */
export function runProcess(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<RunResult> {
  return collect(spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] }), `${cmd} ${args.join(' ')}`);
}

export function collect(child: ChildProcess, what: string): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const r = { code: code ?? -1, stdout, stderr, pid: child.pid ?? 0 };
      if (code === 0) resolve(r);
      else reject(Object.assign(new Error(`${what} exited with ${code}: ${stderr.trim()}`), r));
    });
  });
}

function makeNetns(name: string, ifname: string, ip4: string, ip6: string): Netns {
  const ns: Netns = {
    name,
    ifname,
    ip4,
    ip6,
    inode: statSync(`/run/netns/${name}`).ino,
    spawn: (cmd, args, opts = {}) => spawn('ip', ['netns', 'exec', name, cmd, ...args], opts),
    run: (cmd, args, opts = {}) => runProcess('ip', ['netns', 'exec', name, cmd, ...args], opts),
  };
  return ns;
}

/**
 * Creates namespaces fl-<tag>-a and fl-<tag>-b joined by veth (10.<x>.<y>.1/.2, fd00:f1:<x>:<y>::1/::2).
 * Addresses are unique per process so that concurrent test files do not clash.
 */
export function createNetnsPair(tag = `${process.pid % 100000}`): NetnsPair {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => { for (const p of [...live]) p.destroy(); });
  }
  const n = live.size;
  const base = `fl-${tag}-${n}`;
  const nameA = `${base}-a`;
  const nameB = `${base}-b`;
  const vethA = `flv${tag}${n}a`.slice(0, 15);
  const vethB = `flv${tag}${n}b`.slice(0, 15);
  const x = (process.pid >> 8) % 200 + 20;
  const y = (process.pid + n) % 250 + 1;
  const a4 = `10.${x}.${y}.1`;
  const b4 = `10.${x}.${y}.2`;
  const a6 = `fd00:f1:${x.toString(16)}:${y.toString(16)}::1`;
  const b6 = `fd00:f1:${x.toString(16)}:${y.toString(16)}::2`;
  const destroy = () => {
    for (const name of [nameA, nameB]) {
      if (existsSync(`/run/netns/${name}`)) {
        try { ip(['netns', 'del', name]); } catch { /* already gone */ }
      }
    }
    live.delete(pair);
  };
  const pair: NetnsPair = { a: undefined as unknown as Netns, b: undefined as unknown as Netns, destroy };
  live.add(pair);
  try {
    ip(['netns', 'add', nameA]);
    ip(['netns', 'add', nameB]);
    ip(['link', 'add', vethA, 'mtu', '1500', 'netns', nameA, 'type', 'veth', 'peer', 'name', vethB, 'mtu', '1500', 'netns', nameB]);
    for (const [ns, dev, v4, v6] of [[nameA, vethA, a4, a6], [nameB, vethB, b4, b6]]) {
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev]);
      // nodad: the address is usable at once instead of after duplicate address detection (~2 s)
      ip(['-n', ns, '-6', 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad']);
      ip(['-n', ns, 'link', 'set', dev, 'up']);
    }
    pair.a = makeNetns(nameA, vethA, a4, a6);
    pair.b = makeNetns(nameB, vethB, b4, b6);
  } catch (err) {
    destroy();
    const msg = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? (err as Error).message;
    throw new Error(`creating network namespaces ${nameA}/${nameB} failed: ${msg}`);
  }
  return pair;
}

/** Runs fn with a fresh namespace pair, always destroying it afterwards. */
export async function withNetnsPair<T>(fn: (pair: NetnsPair) => Promise<T>): Promise<T> {
  const pair = createNetnsPair();
  try {
    return await fn(pair);
  } finally {
    pair.destroy();
  }
}

/** Namespaces named fl-* that exist right now (to assert nothing leaked). */
export function listFlNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith('fl-'));
}
